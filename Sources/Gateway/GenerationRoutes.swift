internal import Hummingbird
internal import NIOCore

/// A route that generates text, declared once for the two paths that answer it: the router, which answers
/// every request, and the connection-level streamed path (`StreamedGenerationHandler`), which answers
/// streamed requests that are valid as they stand.
struct GenerationRoute: Sendable {
    let path: String
    let api: GatewayServer.Endpoint.API
    /// The router's handler.
    let answer: @Sendable (Request, GatewayContext, Gateway) async throws -> Response
    /// The streamed path's share: a plan for a whole body, or nil for the router to answer (and to explain
    /// what is wrong).
    let streamedPlan: @Sendable (ByteBuffer, ContinuousClock.Instant, Gateway) -> StreamedPlan?
}

/// Every generation route of every API.
enum GenerationRoutes {
    static let all: [GenerationRoute] = OpenAIRoutes.generationRoutes + OllamaGenerationRoutes.generationRoutes

    static func register(on router: Router<GatewayContext>, gateway: Gateway, apis: Set<GatewayServer.Endpoint.API>) {
        for route in all where apis.contains(route.api) {
            router.post(RouterPath(route.path)) { request, context in try await route.answer(request, context, gateway) }
        }
    }

    static func route(forPath path: String) -> GenerationRoute? { all.first { $0.path == path } }
}
