internal import Engine
internal import Foundation
internal import Hummingbird

/// What a generation has produced so far (one event's worth when streaming, all of it otherwise).
struct OllamaDelta: Sendable, Equatable {
    var content = ""
    var thinking = ""
    var toolCalls: [OllamaToolCall] = []
    var logprobs: [TokenLogprob] = []

    var isEmpty: Bool { content.isEmpty && thinking.isEmpty && toolCalls.isEmpty && logprobs.isEmpty }

    mutating func append(_ other: OllamaDelta) {
        content += other.content
        thinking += other.thinking
        toolCalls += other.toolCalls
        logprobs += other.logprobs
    }
}

/// How a generation ended, in Ollama's terms.
enum OllamaEnding: Sendable, Equatable {
    case finished(doneReason: String, metrics: OllamaMetrics)
    /// A failure after the stream started: status for a non-streamed answer, message for the final line.
    case failed(status: Int, message: String)
}

/// Canonical events to Ollama's pieces. Tool calls are numbered (`function.index`) in the order they come.
/// Log-probabilities wait for the next piece of text or call (a token's text may be held back), and the
/// last of them go out with the final object (`remainder`).
struct OllamaEventMapper: Sendable {
    private var toolCallCount = 0
    private var logprobs: [TokenLogprob] = []

    enum Step: Sendable, Equatable {
        case delta(OllamaDelta)
        case end(OllamaEnding)
    }

    /// `total` is the wall-clock time since the request arrived, for `total_duration`.
    mutating func step(_ event: GenerationEvent, total: Duration) -> Step {
        switch event {
        case .text(let text, .content): return .delta(OllamaDelta(content: text, logprobs: takeLogprobs()))
        case .text(let text, .reasoning): return .delta(OllamaDelta(thinking: text, logprobs: takeLogprobs()))
        case .toolCall(let call):
            defer { toolCallCount += 1 }
            return .delta(
                OllamaDelta(
                    toolCalls: [OllamaAdapter.wireToolCall(call, index: toolCallCount)], logprobs: takeLogprobs()))
        case .logprobs(let entries):
            logprobs += entries
            return .delta(OllamaDelta())
        case .done(let completion): return .end(OllamaAdapter.ending(completion, total: total))
        }
    }

    /// What the final object carries: log-probabilities no text has taken yet.
    mutating func remainder() -> OllamaDelta { OllamaDelta(logprobs: takeLogprobs()) }

    private mutating func takeLogprobs() -> [TokenLogprob] {
        defer { logprobs.removeAll() }
        return logprobs
    }
}

extension OllamaAdapter {
    static func ending(_ completion: Completion, total: Duration) -> OllamaEnding {
        switch completion.reason {
        case .stop, .length:
            return .finished(doneReason: completion.reason.rawValue, metrics: metrics(completion, total: total))
        case .cancelled:
            // The client is usually gone by now; if not (the engine shut down), it learns why.
            return .failed(status: 503, message: "the generation was cancelled (the model is shutting down)")
        case .error:
            let error = completion.error ?? EngineError(.decodeFailed, "the generation failed")
            let apiError = APIError.engine(error, .ollama)
            return .failed(status: Int(apiError.status.code), message: apiError.message)
        }
    }

    /// The final object's numbers. Durations are the engine's measured timings in nanoseconds; `load_duration`
    /// is everything before prefill (queueing for a slot, restoring a prompt cache), as Ollama's counts the
    /// wait for a runner. `prompt_eval_count` is every prompt token (cached ones too): clients read it as the
    /// prompt's size.
    static func metrics(_ completion: Completion, total: Duration) -> OllamaMetrics {
        let t = completion.timings
        return OllamaMetrics(
            totalDuration: nanoseconds(total), loadDuration: nanoseconds(ms: t.queueMs + t.loadMs),
            promptEvalCount: completion.usage.promptTokens, promptEvalDuration: nanoseconds(ms: t.prefillMs),
            evalCount: completion.usage.completionTokens, evalDuration: nanoseconds(ms: t.decodeMs))
    }

    static func nanoseconds(ms: Double) -> Int64 { ms.isFinite && ms > 0 ? Int64((ms * 1_000_000).rounded()) : 0 }

    static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }

    static func wireToolCall(_ call: ToolCall, index: Int) -> OllamaToolCall {
        // Arguments the engine could not give as JSON are passed on as the text it had, not dropped.
        let arguments = (try? JSONValue(text: call.arguments)) ?? .string(call.arguments)
        return OllamaToolCall(
            id: call.id.isEmpty ? nil : call.id,
            function: .init(index: index, name: call.name, arguments: arguments))
    }

    /// A canonical message as Ollama writes it (the other way of `chatMessage`).
    static func wireMessage(_ message: ChatMessage) -> OllamaMessage {
        OllamaMessage(
            role: message.role.rawValue, content: message.text,
            images: message.images.isEmpty ? nil : message.images.map { $0.data.base64EncodedString() },
            toolCalls: message.toolCalls.isEmpty
                ? nil : message.toolCalls.enumerated().map { wireToolCall($1, index: $0) },
            toolName: message.toolResult?.name, toolCallID: message.toolResult?.callID)
    }

    // MARK: Objects

    static func chatResponse(model: String, delta: OllamaDelta, ending: OllamaEnding? = nil, at date: Date)
        -> OllamaChatResponse
    {
        var response = OllamaChatResponse(
            model: model, createdAt: OllamaEncoding.timestamp(date),
            message: OllamaMessage(
                role: "assistant", content: delta.content, thinking: delta.thinking.isEmpty ? nil : delta.thinking,
                toolCalls: delta.toolCalls.isEmpty ? nil : delta.toolCalls),
            done: false, logprobs: delta.logprobs.isEmpty ? nil : delta.logprobs.map(OllamaLogprob.init))
        if case .finished(let reason, let metrics)? = ending {
            response.done = true
            response.doneReason = reason
            response.metrics = metrics
        }
        return response
    }

    static func generateResponse(model: String, delta: OllamaDelta, ending: OllamaEnding? = nil, at date: Date)
        -> OllamaGenerateResponse
    {
        var response = OllamaGenerateResponse(
            model: model, createdAt: OllamaEncoding.timestamp(date), response: delta.content,
            thinking: delta.thinking.isEmpty ? nil : delta.thinking, done: false,
            logprobs: delta.logprobs.isEmpty ? nil : delta.logprobs.map(OllamaLogprob.init))
        if case .finished(let reason, let metrics)? = ending {
            response.done = true
            response.doneReason = reason
            response.metrics = metrics
        }
        return response
    }
}
