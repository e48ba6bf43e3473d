/// One generation, already translated from the wire API (OpenAI, Ollama) into engine terms.
///
/// JSON shape (the worker's internal API): the fields below, with the input flattened in as either
/// `"messages": [...]` or `"prompt": "..."`.
public struct GenerationRequest: Sendable, Codable, Equatable {
    public enum Input: Sendable, Equatable {
        /// A conversation; the engine applies the model's chat template.
        case messages([ChatMessage])
        /// Text sent to the model as is (no chat template).
        case prompt(String)
    }

    public var input: Input
    /// Overrides of the model's default sampling; nil fields keep the default.
    public var sampling: Sampling
    /// nil: until end of generation or the context is full.
    public var maxTokens: Int?
    /// Generation stops before any of these strings; the string itself is never emitted.
    public var stop: [String]
    /// nil: the model's default. false asks a reasoning model not to think.
    public var thinking: Bool?
    public var tools: [ToolDefinition]
    public var toolChoice: ToolChoice
    /// false: the answer holds at most one tool call (the generation ends once it is complete).
    public var parallelToolCalls: Bool
    public var responseFormat: ResponseFormat?
    /// Name of a prompt-cache preset to start from.
    public var promptCache: String?
    /// Name of a LoRA adapter the model declares, applied to this request only.
    public var lora: String?
    /// nil: no log-probabilities. N: a `logprobs` event per generated token with the N most likely
    /// alternatives (0 for the sampled token alone; at most 20).
    public var logprobs: Int?

    public init(
        input: Input, sampling: Sampling = Sampling(), maxTokens: Int? = nil, stop: [String] = [],
        thinking: Bool? = nil, tools: [ToolDefinition] = [], toolChoice: ToolChoice = .auto,
        parallelToolCalls: Bool = true, responseFormat: ResponseFormat? = nil, promptCache: String? = nil, lora: String? = nil,
        logprobs: Int? = nil
    ) {
        self.input = input
        self.sampling = sampling
        self.maxTokens = maxTokens
        self.stop = stop
        self.thinking = thinking
        self.tools = tools
        self.toolChoice = toolChoice
        self.parallelToolCalls = parallelToolCalls
        self.responseFormat = responseFormat
        self.promptCache = promptCache
        self.lora = lora
        self.logprobs = logprobs
    }

    public static func messages(_ messages: [ChatMessage], maxTokens: Int? = nil) -> GenerationRequest {
        GenerationRequest(input: .messages(messages), maxTokens: maxTokens)
    }

    public static func prompt(_ prompt: String, maxTokens: Int? = nil) -> GenerationRequest {
        GenerationRequest(input: .prompt(prompt), maxTokens: maxTokens)
    }

    private enum CodingKeys: String, CodingKey {
        case messages, prompt, sampling, maxTokens, stop, thinking, tools, toolChoice, responseFormat, promptCache, lora
        case logprobs, parallelToolCalls
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        if let prompt = try c.decodeIfPresent(String.self, forKey: .prompt) {
            input = .prompt(prompt)
        } else if let messages = try c.decodeIfPresent([ChatMessage].self, forKey: .messages) {
            input = .messages(messages)
        } else {
            throw DecodingError.keyNotFound(
                CodingKeys.messages,
                .init(codingPath: c.codingPath, debugDescription: "a request needs `messages` or `prompt`"))
        }
        sampling = try c.decodeIfPresent(Sampling.self, forKey: .sampling) ?? Sampling()
        maxTokens = try c.decodeIfPresent(Int.self, forKey: .maxTokens)
        stop = try c.decodeIfPresent([String].self, forKey: .stop) ?? []
        thinking = try c.decodeIfPresent(Bool.self, forKey: .thinking)
        tools = try c.decodeIfPresent([ToolDefinition].self, forKey: .tools) ?? []
        toolChoice = try c.decodeIfPresent(ToolChoice.self, forKey: .toolChoice) ?? .auto
        parallelToolCalls = try c.decodeIfPresent(Bool.self, forKey: .parallelToolCalls) ?? true
        responseFormat = try c.decodeIfPresent(ResponseFormat.self, forKey: .responseFormat)
        promptCache = try c.decodeIfPresent(String.self, forKey: .promptCache)
        lora = try c.decodeIfPresent(String.self, forKey: .lora)
        logprobs = try c.decodeIfPresent(Int.self, forKey: .logprobs)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        switch input {
        case .messages(let messages): try c.encode(messages, forKey: .messages)
        case .prompt(let prompt): try c.encode(prompt, forKey: .prompt)
        }
        try c.encode(sampling, forKey: .sampling)
        try c.encodeIfPresent(maxTokens, forKey: .maxTokens)
        if !stop.isEmpty { try c.encode(stop, forKey: .stop) }
        try c.encodeIfPresent(thinking, forKey: .thinking)
        if !tools.isEmpty { try c.encode(tools, forKey: .tools) }
        if toolChoice != .auto { try c.encode(toolChoice, forKey: .toolChoice) }
        if !parallelToolCalls { try c.encode(false, forKey: .parallelToolCalls) }
        try c.encodeIfPresent(responseFormat, forKey: .responseFormat)
        try c.encodeIfPresent(promptCache, forKey: .promptCache)
        try c.encodeIfPresent(lora, forKey: .lora)
        try c.encodeIfPresent(logprobs, forKey: .logprobs)
    }
}
