import CLlama

/// One llama.cpp sequence: its KV cache holds `history`, which the next request may reuse as a prefix.
final class LlamaSlot {
    let id: Int32
    /// Exactly the tokens in this sequence's KV cache, in position order.
    var history: [Int32] = []
    /// When the slot was last given a request (for least-recently-used choice).
    var lastUsed: UInt64 = 0
    var request: ActiveRequest?

    init(id: Int32) { self.id = id }
}

/// A request accepted and waiting for a slot.
struct PendingRequest {
    let id: UInt64
    /// The prompt; each image is a run of placeholder tokens (`LlamaVision`).
    let tokens: [Int32]
    /// The prompt's images, in order.
    var images: [PromptImage] = []
    let sampling: Sampling
    let stop: [String]
    let maxTokens: Int?
    /// GBNF the answer must follow (a JSON response format); nil: free text.
    let grammar: String?
    let routeThinking: Bool
    let routeTools: Bool
    /// `parallel_tool_calls: false`: the answer ends with its first tool call.
    let singleToolCall: Bool
    /// Alternatives per token when the request asked for log-probabilities.
    let logprobs: Int?
    let continuation: AsyncThrowingStream<GenerationEvent, any Error>.Continuation
    let submitted: ContinuousClock.Instant

    /// The image whose placeholder run starts at prompt index `index`.
    func image(at index: Int) -> PromptImage? {
        images.first { $0.start == index }
    }

    /// Where the text run from `index` ends: the next image's start, or the prompt's end.
    func textEnd(from index: Int) -> Int {
        images.first { $0.start >= index }?.start ?? tokens.count
    }

    /// `reuse` cut back to the start of the image it ends inside, if any: an image is decoded whole or not at all.
    func reusable(_ reuse: Int) -> Int {
        images.first { $0.start < reuse && reuse < $0.end }?.start ?? reuse
    }
}

/// A request running in a slot.
final class ActiveRequest {
    enum Phase { case prefilling, generating }

    let pending: PendingRequest
    let sampler: SamplerChain
    var phase = Phase.prefilling
    /// Index in the prompt of the next token to prefill.
    var cursor: Int
    /// The last sampled token, decoded in the next step.
    var nextToken: Int32 = 0
    var completionTokens = 0
    /// Images encoded for this request (not reused from a slot's cache or from recent encodes), and the time.
    var encodedImages = 0
    var encodeMs: Double = 0
    /// Tokens sampled, end-of-generation included (each after the first cost one decode step).
    var sampled = 0
    let cachedTokens: Int
    var text: TextStream
    var router: OutputRouter

    // Per-step bookkeeping.
    var tokensInBatch = 0
    var outputIndex: Int32 = -1

    // Timings.
    let assigned: ContinuousClock.Instant
    /// After a prompt-cache restore, if any.
    let prefillStart: ContinuousClock.Instant
    let loadMs: Double
    var firstToken: ContinuousClock.Instant?
    var lastToken: ContinuousClock.Instant?

    init(
        pending: PendingRequest, sampler: SamplerChain, cachedTokens: Int,
        assigned: ContinuousClock.Instant, prefillStart: ContinuousClock.Instant
    ) {
        self.pending = pending
        self.sampler = sampler
        self.cursor = cachedTokens
        self.cachedTokens = cachedTokens
        self.assigned = assigned
        self.prefillStart = prefillStart
        self.loadMs = (prefillStart - assigned).milliseconds
        text = TextStream(stopStrings: pending.stop)
        router = OutputRouter(thinking: pending.routeThinking, tools: pending.routeTools, singleCall: pending.singleToolCall)
    }

    func completion(_ reason: Completion.Reason, error: EngineError? = nil) -> Completion {
        let start = firstToken ?? prefillStart
        return Completion(
            reason: reason,
            usage: Usage(
                promptTokens: pending.tokens.count, completionTokens: completionTokens, cachedPromptTokens: cachedTokens,
                imageTokens: pending.images.reduce(0) { $0 + $1.count }),
            timings: Timings(
                queueMs: (assigned - pending.submitted).milliseconds,
                loadMs: loadMs,
                prefillMs: ((firstToken ?? prefillStart) - prefillStart).milliseconds,
                prefillTokens: cursor - cachedTokens,
                decodeMs: ((lastToken ?? start) - start).milliseconds,
                decodeTokens: max(sampled - 1, 0), encodeMs: encodeMs, encodedImages: encodedImages),
            error: error)
    }
}

extension Duration {
    package var milliseconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) * 1000 + Double(attoseconds) / 1e15
    }
}
