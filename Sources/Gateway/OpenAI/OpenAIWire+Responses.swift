internal import Foundation

// What the gateway answers, in OpenAI's spelling. Fields OpenAI sends as `null` (content of a tools-only
// message, finish_reason of a running chunk, logprobs) are written as null, not left out: some clients index
// them unconditionally.

struct OpenAIUsage: Encodable, Sendable, Equatable {
    var promptTokens: Int
    var completionTokens: Int
    var cachedTokens: Int
    /// Prompt tokens that stand for images, as `prompt_tokens_details.image_tokens` (the field OpenAI's client
    /// declares); written only when there are any.
    var imageTokens = 0

    private enum CodingKeys: String, CodingKey {
        case promptTokens = "prompt_tokens"
        case completionTokens = "completion_tokens"
        case totalTokens = "total_tokens"
        case promptTokensDetails = "prompt_tokens_details"
    }
    private enum DetailsKeys: String, CodingKey {
        case cachedTokens = "cached_tokens"
        case imageTokens = "image_tokens"
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(promptTokens, forKey: .promptTokens)
        try c.encode(completionTokens, forKey: .completionTokens)
        try c.encode(promptTokens + completionTokens, forKey: .totalTokens)
        var details = c.nestedContainer(keyedBy: DetailsKeys.self, forKey: .promptTokensDetails)
        try details.encode(cachedTokens, forKey: .cachedTokens)
        if imageTokens > 0 { try details.encode(imageTokens, forKey: .imageTokens) }
    }
}

/// A tool call as OpenAI sends it, whole (in a message) or as a stream delta (with `index`).
struct OpenAIToolCallOut: Encodable, Sendable, Equatable {
    var index: Int?
    var id: String
    var name: String
    var arguments: String

    private enum CodingKeys: String, CodingKey { case index, id, type, function }
    private enum FunctionKeys: String, CodingKey { case name, arguments }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeIfPresent(index, forKey: .index)
        try c.encode(id, forKey: .id)
        try c.encode("function", forKey: .type)
        var function = c.nestedContainer(keyedBy: FunctionKeys.self, forKey: .function)
        try function.encode(name, forKey: .name)
        try function.encode(arguments, forKey: .arguments)
    }
}

/// `choices[0].message` of a `chat.completion`.
struct OpenAIAssistantMessage: Encodable, Sendable, Equatable {
    /// nil when the answer is only tool calls (sent as `null`).
    var content: String?
    var reasoningContent: String?
    var toolCalls: [OpenAIToolCallOut]

    private enum CodingKeys: String, CodingKey {
        case role, content
        case reasoningContent = "reasoning_content"
        case toolCalls = "tool_calls"
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode("assistant", forKey: .role)
        try c.encode(content, forKey: .content)
        try c.encodeIfPresent(reasoningContent, forKey: .reasoningContent)
        if !toolCalls.isEmpty { try c.encode(toolCalls, forKey: .toolCalls) }
    }
}

/// A non-streaming `chat.completion`.
struct OpenAIChatCompletion: Encodable, Sendable, Equatable {
    var id: String
    var created: Int
    var model: String
    var systemFingerprint: String
    var message: OpenAIAssistantMessage
    var finishReason: String
    var usage: OpenAIUsage
    /// nil: sent as null (the request did not ask for log-probabilities).
    var logprobs: OpenAIChatLogprobs?

    private enum CodingKeys: String, CodingKey {
        case id, object, created, model, choices, usage
        case systemFingerprint = "system_fingerprint"
    }
    private enum ChoiceKeys: String, CodingKey {
        case index, message, logprobs
        case finishReason = "finish_reason"
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode("chat.completion", forKey: .object)
        try c.encode(created, forKey: .created)
        try c.encode(model, forKey: .model)
        try c.encode(systemFingerprint, forKey: .systemFingerprint)
        var choices = c.nestedUnkeyedContainer(forKey: .choices)
        var choice = choices.nestedContainer(keyedBy: ChoiceKeys.self)
        try choice.encode(0, forKey: .index)
        try choice.encode(message, forKey: .message)
        try choice.encode(logprobs, forKey: .logprobs)
        try choice.encode(finishReason, forKey: .finishReason)
        try c.encode(usage, forKey: .usage)
    }
}

/// `choices[0].delta` of a `chat.completion.chunk`: only what this chunk adds.
struct OpenAIDelta: Encodable, Sendable, Equatable {
    var role: String?
    var content: String?
    var reasoningContent: String?
    var toolCalls: [OpenAIToolCallOut]?

    private enum CodingKeys: String, CodingKey {
        case role, content
        case reasoningContent = "reasoning_content"
        case toolCalls = "tool_calls"
    }
}

/// One `chat.completion.chunk`. `choice == nil` is the usage chunk (`choices: []`).
struct OpenAIChatChunk: Encodable, Sendable, Equatable {
    struct Choice: Sendable, Equatable {
        var delta: OpenAIDelta
        var finishReason: String?
        var logprobs: OpenAIChatLogprobs?
    }

    var id: String
    var created: Int
    var model: String
    var systemFingerprint: String
    var choice: Choice?
    /// `.some(nil)`: the key is sent as null (every chunk but the last, when the client asked for usage).
    var usage: OpenAIUsage??

    private enum CodingKeys: String, CodingKey {
        case id, object, created, model, choices, usage
        case systemFingerprint = "system_fingerprint"
    }
    private enum ChoiceKeys: String, CodingKey {
        case index, delta, logprobs
        case finishReason = "finish_reason"
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode("chat.completion.chunk", forKey: .object)
        try c.encode(created, forKey: .created)
        try c.encode(model, forKey: .model)
        try c.encode(systemFingerprint, forKey: .systemFingerprint)
        var choices = c.nestedUnkeyedContainer(forKey: .choices)
        if let choice {
            var entry = choices.nestedContainer(keyedBy: ChoiceKeys.self)
            try entry.encode(0, forKey: .index)
            try entry.encode(choice.delta, forKey: .delta)
            try entry.encode(choice.logprobs, forKey: .logprobs)
            try entry.encode(choice.finishReason, forKey: .finishReason)
        }
        if let usage { try c.encode(usage, forKey: .usage) }
    }
}

/// A `text_completion`, whole or one streamed piece of it. `choice == nil` is the usage chunk.
struct OpenAITextCompletion: Encodable, Sendable, Equatable {
    struct Choice: Sendable, Equatable {
        var text: String
        var finishReason: String?
        var logprobs: OpenAICompletionLogprobs?
    }

    var id: String
    var created: Int
    var model: String
    var systemFingerprint: String
    var choice: Choice?
    var usage: OpenAIUsage??

    private enum CodingKeys: String, CodingKey {
        case id, object, created, model, choices, usage
        case systemFingerprint = "system_fingerprint"
    }
    private enum ChoiceKeys: String, CodingKey {
        case text, index, logprobs
        case finishReason = "finish_reason"
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode("text_completion", forKey: .object)
        try c.encode(created, forKey: .created)
        try c.encode(model, forKey: .model)
        try c.encode(systemFingerprint, forKey: .systemFingerprint)
        var choices = c.nestedUnkeyedContainer(forKey: .choices)
        if let choice {
            var entry = choices.nestedContainer(keyedBy: ChoiceKeys.self)
            try entry.encode(choice.text, forKey: .text)
            try entry.encode(0, forKey: .index)
            try entry.encode(choice.logprobs, forKey: .logprobs)
            try entry.encode(choice.finishReason, forKey: .finishReason)
        }
        if let usage { try c.encode(usage, forKey: .usage) }
    }
}

/// `GET /v1/models` entries.
struct OpenAIModel: Encodable, Sendable, Equatable {
    var id: String
    var created: Int

    private enum CodingKeys: String, CodingKey {
        case id, object, created
        case ownedBy = "owned_by"
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode("model", forKey: .object)
        try c.encode(created, forKey: .created)
        try c.encode("rockchipllama", forKey: .ownedBy)
    }
}

/// `{"object": "list", "data": [...]}`.
struct OpenAIList<Element: Encodable & Sendable>: Encodable, Sendable {
    var data: [Element]

    private enum CodingKeys: String, CodingKey { case object, data }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode("list", forKey: .object)
        try c.encode(data, forKey: .data)
    }
}

/// `POST /v1/embeddings` answer.
struct OpenAIEmbeddingsResponse: Encodable, Sendable, Equatable {
    enum Vector: Sendable, Equatable {
        case floats([Float])
        /// Little-endian float32 bytes, base64: what OpenAI sends for `encoding_format: base64`.
        case base64(String)
    }

    var model: String
    var vectors: [Vector]
    var promptTokens: Int

    private enum CodingKeys: String, CodingKey { case object, data, model, usage }
    private enum EntryKeys: String, CodingKey { case object, index, embedding }
    private enum UsageKeys: String, CodingKey {
        case promptTokens = "prompt_tokens"
        case totalTokens = "total_tokens"
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode("list", forKey: .object)
        var data = c.nestedUnkeyedContainer(forKey: .data)
        for (index, vector) in vectors.enumerated() {
            var entry = data.nestedContainer(keyedBy: EntryKeys.self)
            try entry.encode("embedding", forKey: .object)
            try entry.encode(index, forKey: .index)
            switch vector {
            case .floats(let values): try entry.encode(values, forKey: .embedding)
            case .base64(let text): try entry.encode(text, forKey: .embedding)
            }
        }
        try c.encode(model, forKey: .model)
        var usage = c.nestedContainer(keyedBy: UsageKeys.self, forKey: .usage)
        try usage.encode(promptTokens, forKey: .promptTokens)
        try usage.encode(promptTokens, forKey: .totalTokens)
    }
}
