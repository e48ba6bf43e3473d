public import Engine
public import Foundation
internal import Hummingbird
internal import NIOCore

/// What the admin API reports and can do, supplied by whoever runs the gateway (`runner apply`).
public protocol AdminSource: Sendable {
    /// The device's state as JSON: models, workers, endpoints, clocks, caches.
    func status() async -> Data
    /// Each model's prompt-cache presets: the ready ones, and those that failed to build with why.
    func promptCaches() async -> [String: PromptCacheReport]
    /// Builds (or rebuilds) the preset `name` of `model` from `system`.
    func buildPromptCache(model: String, name: String, system: String) async throws -> PromptCacheInfo
}

/// `/v1/status`, `/v1/caches` and `POST /v1/caches/{model}/{name}`.
enum AdminRoutes {
    struct BuildBody: Decodable { var system: String }

    static func register(on router: Router<GatewayContext>, gateway: Gateway, source: (any AdminSource)?) {
        router.get("/v1/status") { _, _ in
            guard let source else { throw APIError(.openAI, .notFound, "no status source on this endpoint") }
            return json(await source.status())
        }
        router.get("/v1/caches") { _, _ in
            guard let source else { throw APIError(.openAI, .notFound, "no prompt caches on this endpoint") }
            let encoder = JSONEncoder()
            encoder.outputFormatting = .sortedKeys
            return json(try encoder.encode(await source.promptCaches()))
        }
        router.post("/v1/caches/:model/:name") { request, context in
            guard let source else { throw APIError(.openAI, .notFound, "no prompt caches on this endpoint") }
            let name = context.parameters.get("name") ?? ""
            // The name becomes a file name in the state directory.
            guard name.range(of: #"^[a-z0-9][a-z0-9._-]{0,63}$"#, options: .regularExpression) != nil, !name.contains("..") else {
                throw APIError.badRequest("cache name must match [a-z0-9][a-z0-9._-]*", .openAI, param: "name")
            }
            let model = try gateway.model(context.parameters.get("model"), .openAI)
            let body = try await gateway.decode(BuildBody.self, from: request, .openAI)
            do {
                return json(
                    try JSONEncoder().encode(
                        try await source.buildPromptCache(model: model.name, name: name, system: body.system)))
            } catch let error as EngineError {
                throw APIError.engine(error, .openAI)
            }
        }
    }

    static func json(_ data: Data) -> Response {
        Response(
            status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }
}
