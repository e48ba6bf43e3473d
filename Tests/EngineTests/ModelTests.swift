import Testing

/// Every test that runs the real model. Serialized: they share one engine (and two CPU cores), and the
/// prefix-reuse tests need to know what the slots hold.
@Suite(.serialized) struct ModelTests {}
