internal import Engine
internal import Foundation
internal import Hummingbird
internal import NIOCore
internal import NIOFoundationEssentialsCompat
internal import Worker

/// `POST /api/chat` and `POST /api/generate`.
enum OllamaGenerationRoutes {
    /// Which object shape a route answers with; everything else about the two routes is the same.
    enum Shape: Sendable {
        case chat, generate

        func object(model: String, delta: OllamaDelta, ending: OllamaEnding? = nil) -> any Encodable & Sendable {
            switch self {
            case .chat: OllamaAdapter.chatResponse(model: model, delta: delta, ending: ending, at: Date())
            case .generate: OllamaAdapter.generateResponse(model: model, delta: delta, ending: ending, at: Date())
            }
        }

        /// The answer to a request with nothing to generate: Ollama loads (or unloads) the model and says so.
        func loadAnswer(model: String, reason: String) -> any Encodable & Sendable {
            switch self {
            case .chat:
                var response = OllamaAdapter.chatResponse(model: model, delta: OllamaDelta(), at: Date())
                response.done = true
                response.doneReason = reason
                return response
            case .generate:
                var response = OllamaAdapter.generateResponse(model: model, delta: OllamaDelta(), at: Date())
                response.done = true
                response.doneReason = reason
                return response
            }
        }
    }

    /// A request as both routes read it.
    struct Generation {
        var model: ServedModel
        var request: GenerationRequest
        /// The name the client used, which the answer repeats.
        var requestedName: String
        /// Nothing to generate: Ollama's way to load or unload a model.
        var isLoad: Bool
        var keepAlive: OllamaKeepAlive?
        var stream: Bool
    }

    /// Chat and generate, on the router and on the streamed path.
    static let generationRoutes = [
        GenerationRoute(
            path: "/api/chat", api: .ollama,
            answer: { request, context, gateway in
                let started = ContinuousClock.now
                let wire = try await gateway.decode(OllamaChatRequest.self, from: request, .ollama)
                return try await answer(chat(wire, gateway), shape: .chat, started: started, context: context, gateway: gateway)
            },
            streamedPlan: { body, started, gateway in
                // Non-streamed requests are the router's to answer: they are turned away before the adapter runs.
                guard let wire = try? JSONDecoder().decode(OllamaChatRequest.self, from: Data(buffer: body)),
                    wire.stream ?? true
                else { return nil }
                return streamedPlan(try? chat(wire, gateway), shape: .chat, started: started)
            }),
        GenerationRoute(
            path: "/api/generate", api: .ollama,
            answer: { request, context, gateway in
                let started = ContinuousClock.now
                let wire = try await gateway.decode(OllamaGenerateRequest.self, from: request, .ollama)
                return try await answer(
                    generate(wire, gateway), shape: .generate, started: started, context: context, gateway: gateway)
            },
            streamedPlan: { body, started, gateway in
                guard let wire = try? JSONDecoder().decode(OllamaGenerateRequest.self, from: Data(buffer: body)),
                    wire.stream ?? true
                else { return nil }
                return streamedPlan(try? generate(wire, gateway), shape: .generate, started: started)
            }),
    ]

    static func chat(_ wire: OllamaChatRequest, _ gateway: Gateway) throws -> Generation {
        let model = try gateway.model(wire.model, .ollama)
        let canonical = try OllamaRoutes.adapt { () throws(OllamaAdapterError) in
            try OllamaAdapter.chatRequest(wire, for: OllamaModelTraits(model))
        }
        return Generation(
            model: model, request: canonical, requestedName: wire.model ?? model.name, isLoad: wire.messages?.isEmpty ?? true,
            keepAlive: wire.keepAlive, stream: wire.stream ?? true)
    }

    static func generate(_ wire: OllamaGenerateRequest, _ gateway: Gateway) throws -> Generation {
        let model = try gateway.model(wire.model, .ollama)
        let canonical = try OllamaRoutes.adapt { () throws(OllamaAdapterError) in
            try OllamaAdapter.generateRequest(wire, for: OllamaModelTraits(model))
        }
        return Generation(
            model: model, request: canonical, requestedName: wire.model ?? model.name,
            isLoad: (wire.prompt ?? "").isEmpty && (wire.images ?? []).isEmpty, keepAlive: wire.keepAlive,
            stream: wire.stream ?? true)
    }

    /// The connection-level path's share of the two routes (see `StreamedGenerationHandler`): a streamed
    /// generation that is valid as it stands, or nil for the routes to answer.
    static func streamedPlan(_ generation: Generation?, shape: Shape, started: ContinuousClock.Instant) -> StreamedPlan? {
        // A keep_alive the routes would refuse is theirs to explain.
        guard let generation, !generation.isLoad, let keepAlive = try? OllamaAdapter.keepAlive(generation.keepAlive) else {
            return nil
        }
        return StreamedPlan(
            model: generation.model, request: generation.request, api: "ollama", style: .ollama,
            encoder: OllamaEventStream(shape: shape, model: generation.requestedName, started: started), keepAlive: keepAlive)
    }

    static func answer(
        _ generation: Generation, shape: Shape, started: ContinuousClock.Instant, context: GatewayContext, gateway: Gateway
    ) async throws -> Response {
        let (model, requestedName) = (generation.model, generation.requestedName)
        let keepAlive = try OllamaRoutes.adapt { () throws(OllamaAdapterError) in
            try OllamaAdapter.keepAlive(generation.keepAlive)
        }
        if generation.isLoad {
            return try await load(model, requestedName: requestedName, keepAlive: keepAlive, shape: shape, gateway: gateway)
        }
        // Refusals (queue full, prompt too long, unsupported input, a model that cannot be loaded) come from
        // here, before any byte is sent, so they keep their status.
        let events = try await gateway.generate(generation.request, on: model, api: "ollama", .ollama, keepAlive: keepAlive)
        if generation.stream {
            return StreamedAnswer.response(
                events, through: OllamaEventStream(shape: shape, model: requestedName, started: started))
        }
        return try await gateway.untilClientLeaves(context) {
            try await collect(events, shape: shape, model: requestedName, started: started)
        }
    }

    /// Nothing to generate: Ollama loads the model (and keeps it as `keep_alive` says), or with `keep_alive: 0`
    /// unloads it at once. Without a scheduler every model is always loaded: a load checks that it answers.
    static func load(
        _ model: ServedModel, requestedName: String, keepAlive: KeepAlive?, shape: Shape, gateway: Gateway
    ) async throws -> Response {
        let unload = keepAlive == .unloadAfterUse
        if let residency = gateway.residency {
            do {
                if unload {
                    try await residency.unload(model.name)
                } else {
                    try await residency.load(model.name, keepAlive: keepAlive)
                }
            } catch {
                throw Gateway.apiError(error, model: model, .ollama)
            }
        } else if !unload, !((try? await withTimeout(.seconds(2)) { await model.isReady() }) ?? false) {
            throw APIError(.ollama, .serviceUnavailable, "model '\(model.name)' is not ready yet", retryAfter: 1)
        }
        return OllamaRoutes.json(shape.loadAnswer(model: requestedName, reason: unload ? "unload" : "load"))
    }

    /// `stream: false`: the whole answer in one object; a failure is a plain error with its status.
    static func collect(
        _ events: some AsyncSequence<GenerationEvent, any Error> & Sendable, shape: Shape, model: String,
        started: ContinuousClock.Instant
    ) async throws -> Response {
        var mapper = OllamaEventMapper()
        var all = OllamaDelta()
        do {
            for try await event in events {
                switch mapper.step(event, total: .now - started) {
                case .delta(let delta): all.append(delta)
                case .end(.failed(let status, let message)):
                    throw APIError(.ollama, HTTPResponse.Status(code: status), message)
                case .end(let ending):
                    all.append(mapper.remainder())
                    return OllamaRoutes.json(shape.object(model: model, delta: all, ending: ending))
                }
            }
        } catch let error as APIError {
            throw error
        } catch {
            throw failure(error)
        }
        throw APIError(.ollama, .internalServerError, "the generation ended without a final answer")
    }

    /// A stream's failure in Ollama's terms.
    static func failure(_ error: any Error) -> APIError {
        switch error {
        case let error as APIError: error
        case let error as EngineError: APIError.engine(error, .ollama)
        default: APIError(.ollama, .serviceUnavailable, "the model stopped answering: \(error)", retryAfter: 1)
        }
    }
}

/// One NDJSON line per delta, then the final object, or a final `{"error": ...}` line when the generation
/// fails after the 200 went out.
struct OllamaEventStream: StreamedAnswerEncoding {
    let shape: OllamaGenerationRoutes.Shape
    /// The name the client asked for, which every line repeats.
    let model: String
    /// When the request arrived, for `total_duration`.
    let started: ContinuousClock.Instant
    private var mapper = OllamaEventMapper()

    init(shape: OllamaGenerationRoutes.Shape, model: String, started: ContinuousClock.Instant) {
        self.shape = shape
        self.model = model
        self.started = started
    }

    var contentType: String { "application/x-ndjson" }

    func opening() -> ByteBuffer? { nil }

    mutating func encode(_ event: GenerationEvent) -> [ByteBuffer] {
        switch mapper.step(event, total: .now - started) {
        case .delta(let delta) where delta.isEmpty: []
        case .delta(let delta): [ByteBuffer(bytes: OllamaEncoding.line(shape.object(model: model, delta: delta)))]
        case .end(.failed(_, let message)): [Self.errorLine(message)]
        case .end(let ending):
            [ByteBuffer(bytes: OllamaEncoding.line(shape.object(model: model, delta: mapper.remainder(), ending: ending)))]
        }
    }

    func failure(_ error: (any Error)?) -> ByteBuffer {
        Self.errorLine(error.map { OllamaGenerationRoutes.failure($0).message } ?? "the generation ended without a final answer")
    }

    var closing: ByteBuffer? { nil }

    private static func errorLine(_ message: String) -> ByteBuffer { ByteBuffer(bytes: OllamaEncoding.line(["error": message])) }
}
