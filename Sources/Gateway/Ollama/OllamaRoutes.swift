internal import Hummingbird

/// The Ollama-compatible surface (filled in by the Ollama adapter work).
enum OllamaRoutes {
    static func register(on router: Router<GatewayContext>, gateway: Gateway) {}
}
