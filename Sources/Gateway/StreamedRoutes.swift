internal import Engine
internal import HTTPTypes
internal import NIOCore
internal import Worker

/// A streamed generation ready to start: what `StreamedGenerationHandler` needs from a route.
struct StreamedPlan {
    var model: ServedModel
    var request: GenerationRequest
    /// The API's name in metrics (`openai`, `ollama`).
    var api: String
    var style: APIError.Style
    var encoder: any StreamedAnswerEncoding
    /// How long the model stays loaded after this request (Ollama's `keep_alive`); nil: the manifest's rule.
    var keepAlive: KeepAlive? = nil
}

/// Which requests one endpoint answers at the connection level, and how to read them: streamed generations
/// on the generation routes (`GenerationRoutes`) of the endpoint's APIs that need none of the
/// router's middleware beyond what is checked here (bearer token, body size). Everything else, including
/// every request that is wrong in any way, goes to the router, which answers it as it always has.
struct StreamedRoutes: Sendable {
    let gateway: Gateway
    let endpoint: GatewayServer.Endpoint

    /// Whether a request with this head may be answered here, once its body is read.
    func claims(_ head: HTTPRequest) -> Bool {
        guard head.method == .post, let path = Self.path(head), let route = GenerationRoutes.route(forPath: path),
            endpoint.apis.contains(route.api)
        else { return false }
        let fields = head.headerFields
        // Rarely sent by API clients, and each needs the router's handling: CORS headers, an interim 100, a close.
        if !endpoint.corsOrigins.isEmpty, fields[.origin] != nil { return false }
        if fields[.expect] != nil { return false }
        if fields[.connection]?.lowercased().contains("close") == true { return false }
        if let length = fields[.contentLength].flatMap(Int.init), length > gateway.limits.maxBodyBytes { return false }
        if let tokens = endpoint.tokens, !tokens.accepts(authorization: fields[.authorization]) { return false }
        return true
    }

    /// The plan for a claimed request whose whole body is `body`, or nil when the router must answer it.
    func plan(_ head: HTTPRequest, body: ByteBuffer, started: ContinuousClock.Instant) -> StreamedPlan? {
        guard let path = Self.path(head), let route = GenerationRoutes.route(forPath: path) else { return nil }
        return route.streamedPlan(body, started, gateway)
    }

    /// The path without a query; nil when there is none to route.
    private static func path(_ head: HTTPRequest) -> String? {
        head.path.map { String($0.prefix { $0 != "?" }) }
    }
}
