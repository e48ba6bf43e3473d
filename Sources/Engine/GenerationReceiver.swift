/// Takes a generation's events as they arrive, from an engine that delivers them by calling it
/// (`EventPushingEngine`) instead of through an async stream.
public protocol GenerationReceiver: AnyObject {
    /// The engine took the request; events follow.
    func accepted()
    func received(_ event: GenerationEvent)
    /// The answer is over. Without `accepted` first, `error` is why the request was refused (as `generate`
    /// would have thrown it). After it, nil means the events ended (normally with `done`), an error that they
    /// broke off.
    func ended(_ error: (any Error)?)
}

/// An engine in another process whose events can be handed to a receiver as they are read, without a task
/// or an async stream per generation: the gateway's hot path. Called from an event loop thread (a gateway
/// connection's), it reads the events on that same thread and calls the receiver there.
public protocol EventPushingEngine: Engine {
    /// Starts `request`; `receiver` hears about it on the calling thread. The result stops the generation
    /// (the receiver is not called after that).
    func push(_ request: GenerationRequest, to receiver: any GenerationReceiver) -> GenerationStop
}

/// Stops one pushed generation.
public struct GenerationStop: Sendable {
    private let action: @Sendable () -> Void

    public init(_ action: @escaping @Sendable () -> Void) { self.action = action }

    public func callAsFunction() { action() }
}
