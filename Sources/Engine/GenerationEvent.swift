/// What a generation streams: text deltas and tool calls, then exactly one `done`, last. A request that asked
/// for log-probabilities also gets one `logprobs` event per generated token, sent when the token is sampled:
/// before its text, which may be held back (a possible stop string or tag).
///
/// JSON shape (one object per NDJSON line): `{"type":"text","channel":"content","text":"..."}`,
/// `{"type":"toolCall","toolCall":{...}}`, `{"type":"logprobs","logprobs":[...]}`, `{"type":"done","done":{...}}`.
public enum GenerationEvent: Sendable, Codable, Equatable {
    case text(String, channel: Channel)
    case toolCall(ToolCall)
    case logprobs([TokenLogprob])
    case done(Completion)

    public enum Channel: String, Sendable, Codable, Equatable {
        /// The answer.
        case content
        /// A reasoning model's thinking, kept apart from the answer.
        case reasoning
    }

    private enum CodingKeys: String, CodingKey { case type, channel, text, toolCall, logprobs, done }
    private enum Kind: String, Codable { case text, toolCall, logprobs, done }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        switch try c.decode(Kind.self, forKey: .type) {
        case .text:
            self = .text(
                try c.decode(String.self, forKey: .text),
                channel: try c.decodeIfPresent(Channel.self, forKey: .channel) ?? .content)
        case .toolCall: self = .toolCall(try c.decode(ToolCall.self, forKey: .toolCall))
        case .logprobs: self = .logprobs(try c.decode([TokenLogprob].self, forKey: .logprobs))
        case .done: self = .done(try c.decode(Completion.self, forKey: .done))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .text(let text, let channel):
            try c.encode(Kind.text, forKey: .type)
            try c.encode(channel, forKey: .channel)
            try c.encode(text, forKey: .text)
        case .toolCall(let call):
            try c.encode(Kind.toolCall, forKey: .type)
            try c.encode(call, forKey: .toolCall)
        case .logprobs(let entries):
            try c.encode(Kind.logprobs, forKey: .type)
            try c.encode(entries, forKey: .logprobs)
        case .done(let completion):
            try c.encode(Kind.done, forKey: .type)
            try c.encode(completion, forKey: .done)
        }
    }
}

/// The end of a generation.
public struct Completion: Sendable, Codable, Equatable {
    public enum Reason: String, Sendable, Codable, Equatable {
        /// End of generation token or a stop string.
        case stop
        /// `maxTokens` reached, or the context is full.
        case length
        /// The consumer went away or cancelled.
        case cancelled
        /// The engine failed mid-generation; `error` says why.
        case error
    }

    public var reason: Reason
    public var usage: Usage
    public var timings: Timings
    public var error: EngineError?

    public init(reason: Reason, usage: Usage = Usage(), timings: Timings = Timings(), error: EngineError? = nil) {
        self.reason = reason
        self.usage = usage
        self.timings = timings
        self.error = error
    }
}

public struct Usage: Sendable, Codable, Equatable {
    /// All prompt tokens, cached ones included.
    public var promptTokens: Int
    public var completionTokens: Int
    /// Prompt tokens that were not computed again (slot prefix reuse or a prompt-cache preset).
    public var cachedPromptTokens: Int
    /// Prompt tokens that stand for images (counted in `promptTokens` too).
    public var imageTokens: Int

    public init(promptTokens: Int = 0, completionTokens: Int = 0, cachedPromptTokens: Int = 0, imageTokens: Int = 0) {
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        self.cachedPromptTokens = cachedPromptTokens
        self.imageTokens = imageTokens
    }
}

/// Measured wall-clock times of one request, in milliseconds.
public struct Timings: Sendable, Codable, Equatable {
    /// Waiting for a free slot.
    public var queueMs: Double
    /// Loading what the request needed before prefill: a prompt-cache preset restored from disk
    /// (the model itself is loaded once at startup; see `EngineStatus.loadMs`).
    public var loadMs: Double
    /// From the start of prefill to the first sampled token.
    public var prefillMs: Double
    /// Prompt tokens actually computed (cached ones excluded).
    public var prefillTokens: Int
    /// From the first sampled token to the last one.
    public var decodeMs: Double
    /// Tokens generated after the first one, i.e. the tokens that `decodeMs` covers.
    public var decodeTokens: Int
    /// Running the image encoder (part of `prefillMs`), and how many images it encoded. Images reused from
    /// the KV cache or from a recent encode cost nothing here.
    public var encodeMs: Double
    public var encodedImages: Int

    public init(
        queueMs: Double = 0, loadMs: Double = 0, prefillMs: Double = 0, prefillTokens: Int = 0,
        decodeMs: Double = 0, decodeTokens: Int = 0, encodeMs: Double = 0, encodedImages: Int = 0
    ) {
        self.queueMs = queueMs
        self.loadMs = loadMs
        self.prefillMs = prefillMs
        self.prefillTokens = prefillTokens
        self.decodeMs = decodeMs
        self.decodeTokens = decodeTokens
        self.encodeMs = encodeMs
        self.encodedImages = encodedImages
    }
}

// Decoded field by field so that a done event without the image fields (a worker or stand-in that predates
// them, an engine without images) still reads, with zeros.
extension Usage {
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            promptTokens: try c.decode(Int.self, forKey: .promptTokens),
            completionTokens: try c.decode(Int.self, forKey: .completionTokens),
            cachedPromptTokens: try c.decodeIfPresent(Int.self, forKey: .cachedPromptTokens) ?? 0,
            imageTokens: try c.decodeIfPresent(Int.self, forKey: .imageTokens) ?? 0)
    }
}

extension Timings {
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            queueMs: try c.decode(Double.self, forKey: .queueMs), loadMs: try c.decode(Double.self, forKey: .loadMs),
            prefillMs: try c.decode(Double.self, forKey: .prefillMs),
            prefillTokens: try c.decode(Int.self, forKey: .prefillTokens),
            decodeMs: try c.decode(Double.self, forKey: .decodeMs), decodeTokens: try c.decode(Int.self, forKey: .decodeTokens),
            encodeMs: try c.decodeIfPresent(Double.self, forKey: .encodeMs) ?? 0,
            encodedImages: try c.decodeIfPresent(Int.self, forKey: .encodedImages) ?? 0)
    }
}
