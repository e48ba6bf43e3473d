internal import Foundation
public import Hummingbird
public import Logging
public import NIOCore
public import NIOPosix

/// One endpoint's HTTP server: the APIs it exposes, auth, CORS and limits.
public enum GatewayServer {
    /// The `Server` header of every answer.
    static let serverName = "rockchipllama"

    public struct Endpoint: Sendable {
        public enum API: String, Sendable { case openai, ollama, admin, metrics }

        public var name: String
        public var address: BindAddress
        public var apis: Set<API>
        /// Accepted bearer tokens; empty: no authentication.
        public var tokens: BearerTokens?
        /// Origins allowed to call from a browser; `*` allows any.
        public var corsOrigins: [String]

        public init(name: String, address: BindAddress, apis: Set<API>, tokens: BearerTokens? = nil, corsOrigins: [String] = []) {
            self.name = name
            self.address = address
            self.apis = apis
            self.tokens = tokens
            self.corsOrigins = corsOrigins
        }
    }

    /// The endpoint's server. Its listener and every connection it accepts live on `eventLoop`: a connection
    /// handed from the accepting loop to another costs several wake-ups of both threads before its first
    /// request is read, and one loop carries far more tokens per second than a board's models produce.
    public static func application(
        endpoint: Endpoint, gateway: Gateway, admin: (any AdminSource)? = nil,
        eventLoop: any EventLoop = MultiThreadedEventLoopGroup.singleton.next(), logger: Logger
    ) -> some ApplicationProtocol {
        Application(
            router: router(endpoint: endpoint, gateway: gateway, admin: admin),
            server: .gateway(StreamedRoutes(gateway: gateway, endpoint: endpoint)),
            configuration: .init(address: endpoint.address, serverName: serverName),
            eventLoopGroupProvider: .shared(eventLoop),
            logger: logger)
    }

    public static func router(endpoint: Endpoint, gateway: Gateway, admin: (any AdminSource)? = nil) -> Router<GatewayContext> {
        let router = Router(context: GatewayContext.self)
        router.add(middleware: ResponseCounter(metrics: gateway.metrics))
        if !endpoint.corsOrigins.isEmpty { router.add(middleware: CORSOrigins(origins: endpoint.corsOrigins)) }
        // Probes stay open so an orchestrator can check the endpoint without a token.
        HealthRoutes.register(on: router, gateway: gateway)
        if let tokens = endpoint.tokens { router.add(middleware: BearerAuth(tokens: tokens)) }
        GenerationRoutes.register(on: router, gateway: gateway, apis: endpoint.apis)
        if endpoint.apis.contains(.openai) { OpenAIRoutes.register(on: router, gateway: gateway) }
        if endpoint.apis.contains(.ollama) { OllamaRoutes.register(on: router, gateway: gateway) }
        if endpoint.apis.contains(.admin) { AdminRoutes.register(on: router, gateway: gateway, source: admin) }
        if endpoint.apis.contains(.metrics) {
            router.get("/metrics") { _, _ in
                Response(
                    status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                    body: ResponseBody(byteBuffer: .init(string: gateway.metrics.render())))
            }
        }
        return router
    }

    /// Which API's error shape a path belongs to.
    static func style(forPath path: String) -> APIError.Style {
        path.hasPrefix("/api/") || path == "/" ? .ollama : .openAI
    }
}

/// Counts every answer, errors thrown by handlers and middleware included, by the API its path belongs to.
struct ResponseCounter<Context: RequestContext>: RouterMiddleware {
    let metrics: GatewayMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response
    {
        let path = request.uri.path
        let api =
            path.hasPrefix("/api/") || path == "/"
            ? "ollama"
            : path == "/metrics"
                ? "metrics"
                : path.hasPrefix("/v1/caches") || path == "/v1/status"
                    ? "admin"
                    : path.hasPrefix("/v1/") ? "openai" : "probe"
        do {
            let response = try await next(request, context)
            metrics.response(api: api, status: Int(response.status.code))
            return response
        } catch let error as any HTTPResponseError {
            metrics.response(api: api, status: Int(error.status.code))
            throw error
        } catch {
            metrics.response(api: api, status: 500)
            throw error
        }
    }
}
