internal import Hummingbird

/// The OpenAI-compatible surface (filled in by the OpenAI adapter work).
enum OpenAIRoutes {
    static func register(on router: Router<GatewayContext>, gateway: Gateway) {}
}
