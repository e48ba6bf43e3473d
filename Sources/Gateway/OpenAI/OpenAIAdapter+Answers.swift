internal import Engine
internal import Foundation
internal import Hummingbird

/// What every object of one answer repeats: OpenAI sends the same id, created and model in every chunk.
struct OpenAIEnvelope: Sendable, Equatable {
    /// `chatcmpl-…` or `cmpl-…`.
    var id: String
    /// Unix seconds.
    var created: Int
    /// The name the client asked for (an alias stays an alias).
    var model: String
    var systemFingerprint: String

    /// Tool-call ids are unique per answer (the engine numbers calls from 0 in every generation, which would
    /// collide across the turns of one conversation).
    func toolCallID(_ index: Int) -> String {
        let suffix = id.split(separator: "-", maxSplits: 1).last.map(String.init) ?? id
        return "call_\(suffix)_\(index)"
    }

    /// 24 characters from [A-Za-z0-9], 8 from each of three random words: three calls to the system's
    /// generator rather than one per character (each is a syscall, on the path to the first token).
    static func randomSuffix() -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789".utf8)
        var generator = SystemRandomNumberGenerator()
        var characters: [UInt8] = []
        characters.reserveCapacity(24)
        for _ in 0..<3 {
            // 62^8 is far below 2^64: the modulo bias is negligible for an id.
            var word: UInt64 = generator.next()
            for _ in 0..<8 {
                characters.append(alphabet[Int(word % 62)])
                word /= 62
            }
        }
        return String(decoding: characters, as: UTF8.self)
    }
}

/// A whole generation, gathered from its events for a non-streaming answer.
struct OpenAICollectedAnswer: Sendable, Equatable {
    var content = ""
    var reasoning = ""
    var toolCalls: [ToolCall] = []
    var logprobs: [TokenLogprob] = []
    var completion: Completion?

    mutating func add(_ event: GenerationEvent) {
        switch event {
        case .text(let text, .content): content += text
        case .text(let text, .reasoning): reasoning += text
        case .toolCall(let call): toolCalls.append(call)
        case .logprobs(let entries): logprobs += entries
        case .done(let completion): self.completion = completion
        }
    }
}

extension OpenAIAdapter {
    static func usage(_ usage: Usage) -> OpenAIUsage {
        OpenAIUsage(
            promptTokens: usage.promptTokens, completionTokens: usage.completionTokens, cachedTokens: usage.cachedPromptTokens,
            imageTokens: usage.imageTokens)
    }

    /// OpenAI's finish_reason for a generation that ended normally; `stop` becomes `tool_calls` when the model
    /// called tools, as clients loop on that value.
    static func finishReason(_ reason: Completion.Reason, calledTools: Bool) -> String {
        switch reason {
        case .length: "length"
        case .stop, .cancelled, .error: calledTools ? "tool_calls" : "stop"
        }
    }

    /// The error to answer for a generation that did not end normally, or nil when it did.
    static func failure(of completion: Completion?) -> APIError? {
        guard let completion else { return incomplete }
        switch completion.reason {
        case .stop, .length: return nil
        case .error:
            return APIError.engine(
                completion.error ?? EngineError(.decodeFailed, "the generation failed"), .openAI)
        case .cancelled:
            // The client is still here, so the engine cancelled it (shutting down or restarting).
            return APIError(
                .openAI, .serviceUnavailable, "the generation was cancelled by the server; retry", code: "model_unavailable",
                retryAfter: 1)
        }
    }

    /// A stream that ended without `done`.
    static var incomplete: APIError {
        APIError(.openAI, .internalServerError, "the generation ended without a result", code: "generation_incomplete")
    }

    /// The error for a stream that threw instead of ending with `done` (a worker that died, a dropped socket).
    static func failure(thrown error: any Error) -> APIError {
        switch error {
        case let error as APIError: error
        case let error as EngineError: APIError.engine(error, .openAI)
        default:
            APIError(
                .openAI, .serviceUnavailable, "the model stopped answering: \(error)", code: "model_unavailable", retryAfter: 1)
        }
    }

    static func chatCompletion(_ answer: OpenAICollectedAnswer, _ envelope: OpenAIEnvelope) throws(APIError)
        -> OpenAIChatCompletion
    {
        if let error = failure(of: answer.completion) { throw error }
        let completion = answer.completion ?? Completion(reason: .stop)
        let calls = answer.toolCalls.enumerated().map { index, call in
            OpenAIToolCallOut(id: envelope.toolCallID(index), name: call.name, arguments: call.arguments)
        }
        return OpenAIChatCompletion(
            id: envelope.id, created: envelope.created, model: envelope.model, systemFingerprint: envelope.systemFingerprint,
            message: OpenAIAssistantMessage(
                content: answer.content.isEmpty && !calls.isEmpty ? nil : answer.content,
                reasoningContent: answer.reasoning.isEmpty ? nil : answer.reasoning, toolCalls: calls),
            finishReason: finishReason(completion.reason, calledTools: !calls.isEmpty), usage: usage(completion.usage),
            logprobs: answer.logprobs.isEmpty ? nil : OpenAIChatLogprobs(entries: answer.logprobs))
    }

    static func textCompletion(_ answer: OpenAICollectedAnswer, _ envelope: OpenAIEnvelope) throws(APIError)
        -> OpenAITextCompletion
    {
        if let error = failure(of: answer.completion) { throw error }
        let completion = answer.completion ?? Completion(reason: .stop)
        return OpenAITextCompletion(
            id: envelope.id, created: envelope.created, model: envelope.model, systemFingerprint: envelope.systemFingerprint,
            choice: .init(
                text: answer.reasoning + answer.content, finishReason: finishReason(completion.reason, calledTools: false),
                logprobs: answer.logprobs.isEmpty ? nil : OpenAICompletionLogprobs(entries: answer.logprobs, offset: 0)),
            usage: usage(completion.usage))
    }

    static func embeddings(_ embeddings: Embeddings, model: String, encoding: EmbeddingEncoding) -> OpenAIEmbeddingsResponse {
        OpenAIEmbeddingsResponse(
            model: model,
            vectors: embeddings.vectors.map { vector in
                switch encoding {
                case .float: .floats(vector)
                case .base64: .base64(base64(vector))
                }
            }, promptTokens: embeddings.promptTokens)
    }

    /// Little-endian float32 bytes in base64, as OpenAI encodes `encoding_format: base64`.
    static func base64(_ vector: [Float]) -> String {
        var bytes = Data(capacity: vector.count * 4)
        for value in vector {
            withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
        }
        return bytes.base64EncodedString()
    }

    /// `GET /v1/models`: every name and alias as its own entry, so a client can pick any of them from a list.
    static func modelList(_ models: [ServedModel]) -> OpenAIList<OpenAIModel> {
        OpenAIList(data: models.flatMap { model in ([model.name] + model.aliases).map { self.model($0, of: model) } })
    }

    static func model(_ id: String, of model: ServedModel) -> OpenAIModel {
        OpenAIModel(id: id, created: Int(model.modifiedAt.timeIntervalSince1970))
    }
}
