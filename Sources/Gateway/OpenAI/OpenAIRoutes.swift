internal import Engine
internal import Foundation
internal import Hummingbird
internal import NIOCore
internal import NIOFoundationEssentialsCompat

/// The OpenAI-compatible surface: chat and text completions (JSON or SSE), models, embeddings. Handlers only
/// read the body, pick the model, call the adapter and the gateway, and write; every OpenAI rule lives in
/// `OpenAIAdapter`.
enum OpenAIRoutes {
    static let api = "openai"

    /// Chat and text completions, on the router and on the streamed path.
    static let generationRoutes = [
        GenerationRoute(
            path: "/v1/chat/completions", api: .openai, answer: chatCompletions,
            streamedPlan: { body, _, gateway in streamedChatPlan(body, gateway) }),
        GenerationRoute(
            path: "/v1/completions", api: .openai, answer: completions,
            streamedPlan: { body, _, gateway in streamedCompletionPlan(body, gateway) }),
        GenerationRoute(
            path: "/v1/responses", api: .openai, answer: responses,
            streamedPlan: { body, _, gateway in streamedResponsesPlan(body, gateway) }),
    ]

    /// Everything else of the surface; `generationRoutes` are registered with the other APIs' generation routes.
    static func register(on router: Router<GatewayContext>, gateway: Gateway) {
        router.post("/v1/embeddings") { request, _ in
            try await Gateway.offTheEventLoop { try await embeddings(request, gateway) }
        }
        router.get("/v1/models") { _, _ in try OpenAIResponses.json(OpenAIAdapter.modelList(gateway.registry.models)) }
        // `**`: a model id may contain a slash (`org/model`).
        router.get("/v1/models/**") { _, context in
            try model(context.parameters.getCatchAll().joined(separator: "/"), gateway)
        }
    }

    static func chatCompletions(_ request: Request, _ context: GatewayContext, _ gateway: Gateway) async throws -> Response {
        var body = try await gateway.decode(OpenAIChatRequest.self, from: request, .openAI)
        if let policy = gateway.limits.remoteImages { body = try await RemoteImageFetcher.fetch(body, policy: policy) }
        let (model, generation, envelope) = try chatGeneration(body, gateway)
        let events = try await gateway.generate(generation, on: model, api: api, .openAI)
        if body.stream { return StreamedAnswer.response(events, through: chatStream(body, envelope)) }
        let answer = try await gateway.untilClientLeaves(context) { try await OpenAIResponses.collect(events) }
        return try OpenAIResponses.json(OpenAIAdapter.chatCompletion(answer, envelope))
    }

    static func completions(_ request: Request, _ context: GatewayContext, _ gateway: Gateway) async throws -> Response {
        let body = try await gateway.decode(OpenAICompletionRequest.self, from: request, .openAI)
        let (model, generation, envelope) = try completionGeneration(body, gateway)
        let events = try await gateway.generate(generation, on: model, api: api, .openAI)
        if body.stream { return StreamedAnswer.response(events, through: completionStream(body, envelope)) }
        let answer = try await gateway.untilClientLeaves(context) { try await OpenAIResponses.collect(events) }
        return try OpenAIResponses.json(OpenAIAdapter.textCompletion(answer, envelope))
    }

    static func responses(_ request: Request, _ context: GatewayContext, _ gateway: Gateway) async throws -> Response {
        let body = try await gateway.decode(ResponsesRequest.self, from: request, .openAI)
        let (model, generation, answer) = try responsesGeneration(body, gateway)
        let events = try await gateway.generate(generation, on: model, api: api, .openAI)
        if body.stream {
            return StreamedAnswer.response(events, through: ResponsesEventStream(answer, logprobs: generation.logprobs != nil))
        }
        let collected = try await gateway.untilClientLeaves(context) { try await OpenAIResponses.collect(events) }
        return try OpenAIResponses.json(answer.whole(collected, logprobs: generation.logprobs != nil))
    }

    static func streamedResponsesPlan(_ body: ByteBuffer, _ gateway: Gateway) -> StreamedPlan? {
        guard let body = try? JSONDecoder().decode(ResponsesRequest.self, from: Data(buffer: body)), body.stream,
            let (model, generation, answer) = try? responsesGeneration(body, gateway)
        else { return nil }
        return StreamedPlan(
            model: model, request: generation, api: api, style: .openAI,
            encoder: ResponsesEventStream(answer, logprobs: generation.logprobs != nil))
    }

    static func responsesGeneration(_ body: ResponsesRequest, _ gateway: Gateway) throws -> (
        ServedModel, GenerationRequest, ResponsesAnswer
    ) {
        let model = try gateway.model(body.model, .openAI)
        let generation = try ResponsesAdapter.generationRequest(body, model: .init(model))
        return (model, generation, ResponsesAnswer(body, model: body.model ?? model.name))
    }

    /// The streamed path's share of chat completions: a streamed request valid as it stands, else nil.
    static func streamedChatPlan(_ body: ByteBuffer, _ gateway: Gateway) -> StreamedPlan? {
        // Image URLs are fetched on the router's path, which may wait.
        guard let body = try? JSONDecoder().decode(OpenAIChatRequest.self, from: Data(buffer: body)), body.stream,
            gateway.limits.remoteImages == nil || !RemoteImageFetcher.hasURLs(body),
            let (model, generation, envelope) = try? chatGeneration(body, gateway)
        else { return nil }
        return StreamedPlan(model: model, request: generation, api: api, style: .openAI, encoder: chatStream(body, envelope))
    }

    /// The streamed path's share of text completions.
    static func streamedCompletionPlan(_ body: ByteBuffer, _ gateway: Gateway) -> StreamedPlan? {
        guard let body = try? JSONDecoder().decode(OpenAICompletionRequest.self, from: Data(buffer: body)), body.stream,
            let (model, generation, envelope) = try? completionGeneration(body, gateway)
        else { return nil }
        return StreamedPlan(
            model: model, request: generation, api: api, style: .openAI, encoder: completionStream(body, envelope))
    }

    static func chatGeneration(_ body: OpenAIChatRequest, _ gateway: Gateway) throws -> (
        ServedModel, GenerationRequest, OpenAIEnvelope
    ) {
        let model = try gateway.model(body.model, .openAI)
        let generation = try OpenAIAdapter.generationRequest(body, model: .init(model))
        return (model, generation, envelope(prefix: "chatcmpl", model: body.model ?? model.name, gateway))
    }

    static func completionGeneration(_ body: OpenAICompletionRequest, _ gateway: Gateway) throws -> (
        ServedModel, GenerationRequest, OpenAIEnvelope
    ) {
        let model = try gateway.model(body.model, .openAI)
        let generation = try OpenAIAdapter.generationRequest(body, model: .init(model))
        return (model, generation, envelope(prefix: "cmpl", model: body.model ?? model.name, gateway))
    }

    static func chatStream(_ body: OpenAIChatRequest, _ envelope: OpenAIEnvelope) -> some StreamedAnswerEncoding {
        OpenAIEventStream(OpenAIChatStreamTranscoder(envelope: envelope, includeUsage: body.includeUsage))
    }

    static func completionStream(_ body: OpenAICompletionRequest, _ envelope: OpenAIEnvelope) -> some StreamedAnswerEncoding {
        OpenAIEventStream(OpenAICompletionStreamTranscoder(envelope: envelope, includeUsage: body.includeUsage))
    }

    static func embeddings(_ request: Request, _ gateway: Gateway) async throws -> Response {
        let body = try await gateway.decode(OpenAIEmbeddingsRequest.self, from: request, .openAI)
        let model = try gateway.model(body.model, .openAI)
        let (texts, encoding) = try OpenAIAdapter.embeddingInputs(body)
        let result: Embeddings
        do {
            result = try await gateway.withModel(model, .openAI) { _ in try await model.engine.embed(texts) }
            // JSON has no NaN or infinity: an engine that produced them failed.
            guard result.vectors.allSatisfy({ $0.allSatisfy(\.isFinite) }) else {
                throw EngineError(.decodeFailed, "the model produced non-finite embedding values")
            }
        } catch {
            let apiError = OpenAIAdapter.failure(thrown: error)
            gateway.metrics.request(model: model.name, api: api, status: Int(apiError.status.code))
            throw apiError
        }
        gateway.metrics.request(model: model.name, api: api, status: 200)
        gateway.metrics.tokens(model: model.name, api: api, prompt: result.promptTokens, completion: 0)
        return try OpenAIResponses.json(OpenAIAdapter.embeddings(result, model: body.model ?? model.name, encoding: encoding))
    }

    /// One model by name or alias; the entry names what the client asked for, in the list's spelling.
    static func model(_ requested: String, _ gateway: Gateway) throws -> Response {
        let id = requested.removingPercentEncoding ?? requested
        guard let model = gateway.registry.resolve(id) else { throw APIError.modelNotFound(id, .openAI) }
        let key = ModelRegistry.lookupKey(id)
        let listed = ([model.name] + model.aliases).first { ModelRegistry.lookupKey($0) == key } ?? model.name
        return try OpenAIResponses.json(OpenAIAdapter.model(listed, of: model))
    }

    static func envelope(prefix: String, model: String, _ gateway: Gateway) -> OpenAIEnvelope {
        OpenAIEnvelope(
            id: "\(prefix)-\(OpenAIEnvelope.randomSuffix())", created: Int(Date().timeIntervalSince1970), model: model,
            systemFingerprint: "rockchipllama-\(gateway.version)")
    }
}
