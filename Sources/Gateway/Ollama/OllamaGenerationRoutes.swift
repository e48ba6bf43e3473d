internal import Engine
internal import Foundation
internal import Hummingbird
internal import NIOCore

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

    static func register(on router: Router<GatewayContext>, gateway: Gateway) {
        router.post("/api/chat") { request, context in
            let started = ContinuousClock.now
            let wire = try await gateway.decode(OllamaChatRequest.self, from: request, .ollama)
            let model = try gateway.model(wire.model, .ollama)
            let canonical = try OllamaRoutes.adapt { () throws(OllamaAdapterError) in
                try OllamaAdapter.chatRequest(wire, for: OllamaModelTraits(model))
            }
            return try await answer(
                canonical, shape: .chat, requestedName: wire.model ?? model.name, model: model,
                isLoad: wire.messages?.isEmpty ?? true, keepAlive: wire.keepAlive, stream: wire.stream ?? true,
                started: started, context: context, gateway: gateway)
        }
        router.post("/api/generate") { request, context in
            let started = ContinuousClock.now
            let wire = try await gateway.decode(OllamaGenerateRequest.self, from: request, .ollama)
            let model = try gateway.model(wire.model, .ollama)
            let canonical = try OllamaRoutes.adapt { () throws(OllamaAdapterError) in
                try OllamaAdapter.generateRequest(wire, for: OllamaModelTraits(model))
            }
            return try await answer(
                canonical, shape: .generate, requestedName: wire.model ?? model.name, model: model,
                isLoad: (wire.prompt ?? "").isEmpty && (wire.images ?? []).isEmpty, keepAlive: wire.keepAlive,
                stream: wire.stream ?? true, started: started, context: context, gateway: gateway)
        }
    }

    static func answer(
        _ request: GenerationRequest, shape: Shape, requestedName: String, model: ServedModel, isLoad: Bool,
        keepAlive: OllamaKeepAlive?, stream: Bool, started: ContinuousClock.Instant, context: GatewayContext,
        gateway: Gateway
    ) async throws -> Response {
        let unload = try OllamaRoutes.adapt { () throws(OllamaAdapterError) in try OllamaAdapter.asksToUnload(keepAlive) }
        if isLoad {
            // Models are resident for as long as the manifest serves them: "load" checks that this one answers,
            // "unload" is acknowledged the way Ollama does and leaves it running.
            if !unload, !((try? await withTimeout(.seconds(2)) { await model.isReady() }) ?? false) {
                throw APIError(.ollama, .serviceUnavailable, "model '\(model.name)' is not ready yet", retryAfter: 1)
            }
            return OllamaRoutes.json(shape.loadAnswer(model: requestedName, reason: unload ? "unload" : "load"))
        }
        // Refusals (queue full, prompt too long, unsupported input) come from here, before any byte is sent, so
        // they keep their status.
        let events = try await gateway.generate(request, on: model, api: "ollama", .ollama)
        if stream {
            return Response(
                status: .ok, headers: [.contentType: "application/x-ndjson"],
                body: ResponseBody { writer in
                    try await writeStream(events, shape: shape, model: requestedName, started: started, to: &writer)
                })
        }
        return try await gateway.untilClientLeaves(context) {
            try await collect(events, shape: shape, model: requestedName, started: started)
        }
    }

    /// One NDJSON line per delta, then the final object, or a final `{"error": ...}` line when the generation
    /// fails after the 200 went out. A client that disconnects makes `write` throw: that ends the iteration,
    /// which cancels the generation and frees its slot.
    static func writeStream(
        _ events: some AsyncSequence<GenerationEvent, any Error> & Sendable, shape: Shape, model: String,
        started: ContinuousClock.Instant, to writer: inout any ResponseBodyWriter
    ) async throws {
        var mapper = OllamaEventMapper()
        var iterator = events.makeAsyncIterator()
        while true {
            let event: GenerationEvent?
            do {
                event = try await iterator.next()
            } catch {
                // The stream failed (a worker died): the status is already sent, so the error is the last line.
                try await writer.write(ByteBuffer(bytes: OllamaEncoding.line(["error": failure(error).message])))
                break
            }
            guard let event else {
                try await writer.write(
                    ByteBuffer(bytes: OllamaEncoding.line(["error": "the generation ended without a final answer"])))
                break
            }
            switch mapper.step(event, total: .now - started) {
            case .delta(let delta):
                guard !delta.isEmpty else { continue }
                try await writer.write(ByteBuffer(bytes: OllamaEncoding.line(shape.object(model: model, delta: delta))))
                continue
            case .end(.failed(_, let message)):
                try await writer.write(ByteBuffer(bytes: OllamaEncoding.line(["error": message])))
            case .end(let ending):
                try await writer.write(
                    ByteBuffer(bytes: OllamaEncoding.line(shape.object(model: model, delta: OllamaDelta(), ending: ending))))
            }
            break
        }
        try await writer.finish(nil)
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
                case .end(let ending): return OllamaRoutes.json(shape.object(model: model, delta: all, ending: ending))
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
