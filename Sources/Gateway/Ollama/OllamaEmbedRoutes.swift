internal import Engine
internal import Foundation
internal import Hummingbird
internal import Worker

/// `POST /api/embed` and the legacy `POST /api/embeddings`.
enum OllamaEmbedRoutes {
    static func register(on router: Router<GatewayContext>, gateway: Gateway) {
        router.post("/api/embed") { request, _ in try await Gateway.offTheEventLoop { try await embed(request, gateway) } }
        router.post("/api/embeddings") { request, _ in
            try await Gateway.offTheEventLoop { try await embeddings(request, gateway) }
        }
    }

    static func embed(_ request: Request, _ gateway: Gateway) async throws -> Response {
        let started = ContinuousClock.now
        let wire = try await gateway.decode(OllamaEmbedRequest.self, from: request, .ollama)
        let model = try gateway.model(wire.model, .ollama)
        let keepAlive = try OllamaRoutes.adapt { () throws(OllamaAdapterError) in try OllamaAdapter.keepAlive(wire.keepAlive) }
        if let dimensions = wire.dimensions, dimensions < 1 {
            throw APIError.badRequest("'dimensions' must be positive", .ollama)
        }
        let inputs: [String] =
            switch wire.input {
            case nil: []
            case .one(let text)?: text.isEmpty ? [] : [text]
            case .many(let texts)?: texts
            }
        // Ollama answers an empty input with no embeddings (clients use it to load the model).
        var (embeddings, waited) = try await gateway.withModel(model, keepAlive: keepAlive, .ollama) { waited in
            (inputs.isEmpty ? Embeddings(vectors: [], promptTokens: 0) : try await embed(inputs, model, gateway), waited)
        }
        if let dimensions = wire.dimensions {
            embeddings.vectors = embeddings.vectors.map { truncated($0, to: dimensions) }
        }
        return OllamaRoutes.json(
            OllamaEmbedResponse(
                model: wire.model ?? model.name, embeddings: embeddings.vectors,
                totalDuration: OllamaAdapter.nanoseconds(.now - started), loadDuration: OllamaAdapter.nanoseconds(waited),
                promptEvalCount: embeddings.promptTokens))
    }

    static func embeddings(_ request: Request, _ gateway: Gateway) async throws -> Response {
        let wire = try await gateway.decode(OllamaEmbeddingsRequest.self, from: request, .ollama)
        let model = try gateway.model(wire.model, .ollama)
        let keepAlive = try OllamaRoutes.adapt { () throws(OllamaAdapterError) in try OllamaAdapter.keepAlive(wire.keepAlive) }
        let embeddings = try await gateway.withModel(model, keepAlive: keepAlive, .ollama) { _ in
            guard let prompt = wire.prompt, !prompt.isEmpty else { return Embeddings(vectors: [], promptTokens: 0) }
            return try await embed([prompt], model, gateway)
        }
        return OllamaRoutes.json(OllamaEmbeddingsResponse(embedding: embeddings.vectors.first ?? []))
    }

    static func embed(_ inputs: [String], _ model: ServedModel, _ gateway: Gateway) async throws -> Embeddings {
        do {
            let embeddings = try await model.engine.embed(inputs)
            // JSON has no NaN or infinity; an engine that produced them failed.
            guard embeddings.vectors.allSatisfy({ $0.allSatisfy(\.isFinite) }) else {
                throw EngineError(.decodeFailed, "the model produced non-finite embedding values")
            }
            gateway.metrics.request(model: model.name, api: "ollama", status: 200)
            return embeddings
        } catch {
            let apiError = OllamaGenerationRoutes.failure(error)
            gateway.metrics.request(model: model.name, api: "ollama", status: Int(apiError.status.code))
            throw apiError
        }
    }

    /// Ollama's `dimensions`: the first N components, L2-normalised again.
    static func truncated(_ vector: [Float], to dimensions: Int) -> [Float] {
        guard dimensions < vector.count else { return vector }
        let head = vector.prefix(dimensions)
        let norm = head.reduce(0) { $0 + $1 * $1 }.squareRoot()
        return norm > 0 ? head.map { $0 / norm } : Array(head)
    }
}
