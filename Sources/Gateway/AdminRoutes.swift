public import Engine
public import Foundation
internal import Hummingbird
internal import NIOCore
internal import NIOFoundationEssentialsCompat
internal import Worker

/// What the admin API reports and can do, supplied by whoever runs the gateway (`runner apply`).
public protocol AdminSource: Sendable {
    /// The device's state as JSON: models, workers, endpoints, clocks, caches.
    func status() async -> Data
    /// Each model's prompt-cache presets: the ready ones, and those that failed to build with why.
    func promptCaches() async -> [String: PromptCacheReport]
    /// Builds (or rebuilds) the preset `name` of `model` from `system`.
    func buildPromptCache(model: String, name: String, system: String) async throws -> PromptCacheInfo
}

/// `/v1/status`, `/v1/caches`, `POST /v1/caches/{model}/{name}`, and the models in memory: `GET /v1/loaded`,
/// `PUT /v1/loaded/{model}` (load) and `DELETE /v1/loaded/{model}` (unload).
enum AdminRoutes {
    struct BuildBody: Decodable { var system: String }

    /// `keep_alive` as Ollama writes it (seconds, or a duration like "10m"; negative: until unloaded).
    struct LoadBody: Decodable {
        var keepAlive: OllamaKeepAlive?

        enum CodingKeys: String, CodingKey { case keepAlive = "keep_alive" }
    }

    struct ResidencyAnswer: Encodable {
        var model: String
        var status: String
    }

    struct LoadedModel: Encodable {
        var name: String
        var bytes: Int64
        /// Absent when it stays until evicted or unloaded.
        var expiresAt: Date?
    }

    static func register(on router: Router<GatewayContext>, gateway: Gateway, source: (any AdminSource)?) {
        registerResidency(on: router, gateway: gateway)
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
            } catch let error as ResidencyRefusal {
                throw APIError.residency(error, .openAI)
            }
        }
    }

    /// Loading and unloading a model by hand, through the same scheduler as requests.
    static func registerResidency(on router: Router<GatewayContext>, gateway: Gateway) {
        router.get("/v1/loaded") { _, _ in
            guard let residency = gateway.residency else { throw noScheduler() }
            let loaded = residency.residents().map { LoadedModel(name: $0.name, bytes: $0.bytes, expiresAt: $0.expiresAt) }
            let encoder = JSONEncoder()
            encoder.dateEncodingStrategy = .iso8601
            return json(try encoder.encode(["models": loaded]))
        }
        router.put("/v1/loaded/:model") { request, context in
            let model = try gateway.model(context.parameters.get("model"), .openAI)
            guard let residency = gateway.residency else { throw noScheduler() }
            // The body is optional: none at all loads the model with the manifest's rule.
            let bytes = try await request.body.collect(upTo: gateway.limits.maxBodyBytes)
            let body: LoadBody
            do {
                body = bytes.readableBytes == 0 ? LoadBody() : try JSONDecoder().decode(LoadBody.self, from: Data(buffer: bytes))
            } catch let error as DecodingError {
                throw APIError.badRequest("invalid request body: \(Gateway.describe(error))", .openAI)
            }
            let keepAlive: KeepAlive?
            do throws(OllamaAdapterError) {
                keepAlive = try OllamaAdapter.keepAlive(body.keepAlive)
            } catch {
                throw APIError.badRequest(error.message, .openAI, param: "keep_alive")
            }
            do {
                try await residency.load(model.name, keepAlive: keepAlive)
            } catch {
                throw Gateway.apiError(error, model: model, .openAI)
            }
            return json(try JSONEncoder().encode(ResidencyAnswer(model: model.name, status: "loaded")))
        }
        router.delete("/v1/loaded/:model") { _, context in
            let model = try gateway.model(context.parameters.get("model"), .openAI)
            guard let residency = gateway.residency else { throw noScheduler() }
            do {
                let unloading = try await residency.unload(model.name)
                return json(try JSONEncoder().encode(ResidencyAnswer(model: model.name, status: unloading.rawValue)))
            } catch {
                throw Gateway.apiError(error, model: model, .openAI)
            }
        }
    }

    static func noScheduler() -> APIError {
        APIError(.openAI, .notFound, "models are loaded for as long as this server runs; there is no scheduler to ask")
    }

    static func json(_ data: Data) -> Response {
        Response(
            status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }
}
