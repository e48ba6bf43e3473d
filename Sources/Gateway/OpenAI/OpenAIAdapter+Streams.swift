internal import Engine

/// A transcoder from generation events to one endpoint's stream chunks (chat or text completions).
protocol OpenAIStreamTranscoding: Sendable {
    associatedtype Chunk: Encodable & Sendable
    /// A chunk to send before the first event, if the format has one.
    func opening() -> Chunk?
    mutating func items(for event: GenerationEvent) -> [OpenAIStreamItem<Chunk>]
    /// The one chunk a non-empty text event becomes when no log-probabilities wait to go with it (`items`
    /// answers with it too).
    func textChunk(_ text: String, channel: GenerationEvent.Channel) -> Chunk
    /// Log-probabilities wait for the next text chunk: it must then go through `items`.
    var holdsLogprobs: Bool { get }
}

/// One SSE event of an answer: a chunk, or the error that ends it (sent as `data: {"error": {...}}`).
enum OpenAIStreamItem<Chunk: Encodable & Sendable>: Sendable {
    case chunk(Chunk)
    case error(APIError)
}

/// Turns a generation's events into `chat.completion.chunk`s, in order: the role chunk, content /
/// reasoning_content / tool_calls deltas, a chunk with finish_reason, then (with include_usage) a chunk with
/// empty choices and the usage. `[DONE]` is the transport's business.
struct OpenAIChatStreamTranscoder: OpenAIStreamTranscoding {
    let envelope: OpenAIEnvelope
    let includeUsage: Bool
    private var toolCalls = 0
    /// Tokens sampled whose text has not gone out yet: they ride on the next chunk.
    private var logprobs: [TokenLogprob] = []
    var holdsLogprobs: Bool { !logprobs.isEmpty }

    init(envelope: OpenAIEnvelope, includeUsage: Bool) {
        self.envelope = envelope
        self.includeUsage = includeUsage
    }

    /// The first chunk, sent before the model produces anything so clients see the answer start.
    func opening() -> OpenAIChatChunk? {
        chunk(OpenAIDelta(role: "assistant", content: ""))
    }

    mutating func items(for event: GenerationEvent) -> [OpenAIStreamItem<OpenAIChatChunk>] {
        switch event {
        case .text(let text, _) where text.isEmpty: return []
        case .text(let text, .content): return [.chunk(chunk(OpenAIDelta(content: text), logprobs: takeLogprobs()))]
        case .text(let text, .reasoning):
            return [.chunk(chunk(OpenAIDelta(reasoningContent: text), logprobs: takeLogprobs()))]
        case .logprobs(let entries):
            logprobs += entries
            return []
        case .toolCall(let call):
            // A call arrives whole, so one delta carries id, name and all the arguments.
            let delta = OpenAIToolCallOut(
                index: toolCalls, id: envelope.toolCallID(toolCalls), name: call.name, arguments: call.arguments)
            toolCalls += 1
            return [.chunk(chunk(OpenAIDelta(toolCalls: [delta]), logprobs: takeLogprobs()))]
        case .done(let completion):
            if let error = OpenAIAdapter.failure(of: completion) { return [.error(error)] }
            var items: [OpenAIStreamItem<OpenAIChatChunk>] = [
                .chunk(
                    chunk(
                        OpenAIDelta(),
                        finishReason: OpenAIAdapter.finishReason(completion.reason, calledTools: toolCalls > 0),
                        logprobs: takeLogprobs()))
            ]
            if includeUsage {
                items.append(
                    .chunk(
                        OpenAIChatChunk(
                            id: envelope.id, created: envelope.created, model: envelope.model,
                            systemFingerprint: envelope.systemFingerprint, choice: nil,
                            usage: .some(OpenAIAdapter.usage(completion.usage)))))
            }
            return items
        }
    }

    func textChunk(_ text: String, channel: GenerationEvent.Channel) -> OpenAIChatChunk {
        switch channel {
        case .content: chunk(OpenAIDelta(content: text))
        case .reasoning: chunk(OpenAIDelta(reasoningContent: text))
        }
    }

    private mutating func takeLogprobs() -> OpenAIChatLogprobs? {
        guard !logprobs.isEmpty else { return nil }
        defer { logprobs.removeAll() }
        return OpenAIChatLogprobs(entries: logprobs)
    }

    private func chunk(_ delta: OpenAIDelta, finishReason: String? = nil, logprobs: OpenAIChatLogprobs? = nil)
        -> OpenAIChatChunk
    {
        OpenAIChatChunk(
            id: envelope.id, created: envelope.created, model: envelope.model, systemFingerprint: envelope.systemFingerprint,
            choice: .init(delta: delta, finishReason: finishReason, logprobs: logprobs),
            usage: includeUsage ? .some(nil) : nil)
    }
}

/// The same for `/v1/completions`: `text_completion` chunks with `choices[0].text`, a last one with
/// finish_reason, then the usage chunk when asked for.
struct OpenAICompletionStreamTranscoder: OpenAIStreamTranscoding {
    let envelope: OpenAIEnvelope
    let includeUsage: Bool
    private var logprobs: [TokenLogprob] = []
    /// Characters of answer text the chunks so far have covered with log-probabilities.
    private var logprobOffset = 0
    var holdsLogprobs: Bool { !logprobs.isEmpty }

    init(envelope: OpenAIEnvelope, includeUsage: Bool) {
        self.envelope = envelope
        self.includeUsage = includeUsage
    }

    func opening() -> OpenAITextCompletion? { nil }

    mutating func items(for event: GenerationEvent) -> [OpenAIStreamItem<OpenAITextCompletion>] {
        switch event {
        case .text(let text, _) where text.isEmpty: return []
        case .text(let text, _): return [.chunk(chunk(text, logprobs: takeLogprobs()))]
        case .logprobs(let entries):
            logprobs += entries
            return []
        case .toolCall: return []  // completions never ask for tools
        case .done(let completion):
            if let error = OpenAIAdapter.failure(of: completion) { return [.error(error)] }
            var items: [OpenAIStreamItem<OpenAITextCompletion>] = [
                .chunk(
                    chunk(
                        "", finishReason: OpenAIAdapter.finishReason(completion.reason, calledTools: false),
                        logprobs: takeLogprobs()))
            ]
            if includeUsage {
                items.append(
                    .chunk(
                        OpenAITextCompletion(
                            id: envelope.id, created: envelope.created, model: envelope.model,
                            systemFingerprint: envelope.systemFingerprint, choice: nil,
                            usage: .some(OpenAIAdapter.usage(completion.usage)))))
            }
            return items
        }
    }

    /// Completions have one text; reasoning, which a raw prompt rarely produces, is part of it.
    func textChunk(_ text: String, channel: GenerationEvent.Channel) -> OpenAITextCompletion { chunk(text) }

    private mutating func takeLogprobs() -> OpenAICompletionLogprobs? {
        guard !logprobs.isEmpty else { return nil }
        let taken = OpenAICompletionLogprobs(entries: logprobs, offset: logprobOffset)
        logprobOffset += taken.length
        logprobs.removeAll()
        return taken
    }

    private func chunk(_ text: String, finishReason: String? = nil, logprobs: OpenAICompletionLogprobs? = nil)
        -> OpenAITextCompletion
    {
        OpenAITextCompletion(
            id: envelope.id, created: envelope.created, model: envelope.model, systemFingerprint: envelope.systemFingerprint,
            choice: .init(text: text, finishReason: finishReason, logprobs: logprobs), usage: includeUsage ? .some(nil) : nil)
    }
}
