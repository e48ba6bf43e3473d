internal import Foundation

// What clients send, decoded leniently: only the fields the gateway reads (unknown ones are ignored), every
// field optional so that validation (in the adapter) can answer with a message and a `param`, not a decoding
// error.

/// `POST /v1/chat/completions`.
struct OpenAIChatRequest: Decodable, Sendable {
    var model: String?
    var messages: [OpenAIMessage]
    var stream = false
    var includeUsage = false
    var sampling = OpenAISamplingFields()
    /// `max_completion_tokens`, else the deprecated `max_tokens`.
    var maxTokens: Int64?
    var stop: [String] = []
    var n: Int64?
    var logprobs: Bool?
    var topLogprobs: Int64?
    var logitBias: [String: JSONValue]?
    var tools: [OpenAITool]?
    var toolChoice: JSONValue?
    /// false: at most one tool call in the answer.
    var parallelToolCalls: Bool?
    var responseFormat: OpenAIResponseFormat?
    /// `none` turns thinking off; `minimal`/`low`/`medium`/`high` turn it on (no budget is enforced).
    var reasoningEffort: String?
    /// llama.cpp's `chat_template_kwargs.enable_thinking`.
    var enableThinking: Bool?
    /// Extension: a LoRA adapter the model declares in the manifest.
    var lora: String?
    /// Extension: a prompt-cache preset the model declares; its system prompt starts the conversation.
    var promptCache: String?

    private enum CodingKeys: String, CodingKey {
        case model, messages, stream, stop, n, logprobs, tools
        case streamOptions = "stream_options"
        case maxTokens = "max_tokens"
        case maxCompletionTokens = "max_completion_tokens"
        case topLogprobs = "top_logprobs"
        case logitBias = "logit_bias"
        case toolChoice = "tool_choice"
        case parallelToolCalls = "parallel_tool_calls"
        case responseFormat = "response_format"
        case reasoningEffort = "reasoning_effort"
        case chatTemplateKwargs = "chat_template_kwargs"
        case lora
        case promptCache = "prompt_cache"
    }

    private struct StreamOptions: Decodable {
        var includeUsage: Bool?
        private enum CodingKeys: String, CodingKey { case includeUsage = "include_usage" }
    }

    private struct TemplateKwargs: Decodable {
        var enableThinking: Bool?
        private enum CodingKeys: String, CodingKey { case enableThinking = "enable_thinking" }
    }

    init(model: String?, messages: [OpenAIMessage]) {
        self.model = model
        self.messages = messages
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        model = try c.decodeIfPresent(String.self, forKey: .model)
        messages = try c.decode([OpenAIMessage].self, forKey: .messages)
        lora = try c.decodeIfPresent(String.self, forKey: .lora)
        promptCache = try c.decodeIfPresent(String.self, forKey: .promptCache)
        stream = try c.decodeIfPresent(Bool.self, forKey: .stream) ?? false
        includeUsage = try c.decodeIfPresent(StreamOptions.self, forKey: .streamOptions)?.includeUsage ?? false
        sampling = try OpenAISamplingFields(from: decoder)
        maxTokens = try c.decodeOpenAIInt(forKey: .maxCompletionTokens) ?? c.decodeOpenAIInt(forKey: .maxTokens)
        stop = try c.decodeOpenAIStrings(forKey: .stop) ?? []
        n = try c.decodeOpenAIInt(forKey: .n)
        logprobs = try c.decodeIfPresent(Bool.self, forKey: .logprobs)
        topLogprobs = try c.decodeOpenAIInt(forKey: .topLogprobs)
        logitBias = try c.decodeIfPresent([String: JSONValue].self, forKey: .logitBias)
        tools = try c.decodeIfPresent([OpenAITool].self, forKey: .tools)
        toolChoice = try c.decodeIfPresent(JSONValue.self, forKey: .toolChoice)
        parallelToolCalls = try c.decodeIfPresent(Bool.self, forKey: .parallelToolCalls)
        responseFormat = try c.decodeIfPresent(OpenAIResponseFormat.self, forKey: .responseFormat)
        reasoningEffort = try c.decodeIfPresent(String.self, forKey: .reasoningEffort)
        enableThinking = try c.decodeIfPresent(TemplateKwargs.self, forKey: .chatTemplateKwargs)?.enableThinking
    }
}

/// One message of `messages`. `content` is a string, a list of parts, or null (an assistant turn that only
/// called tools).
struct OpenAIMessage: Decodable, Sendable, Equatable {
    var role: String
    var content: [OpenAIContentPart]?
    var name: String?
    var toolCalls: [OpenAIToolCallIn]?
    var toolCallID: String?

    private enum CodingKeys: String, CodingKey {
        case role, content, name
        case toolCalls = "tool_calls"
        case toolCallID = "tool_call_id"
    }

    init(
        role: String, content: [OpenAIContentPart]?, name: String? = nil, toolCalls: [OpenAIToolCallIn]? = nil,
        toolCallID: String? = nil
    ) {
        self.role = role
        self.content = content
        self.name = name
        self.toolCalls = toolCalls
        self.toolCallID = toolCallID
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        role = try c.decode(String.self, forKey: .role)
        if try !c.contains(.content) || c.decodeNil(forKey: .content) {
            content = nil
        } else if let text = try? c.decode(String.self, forKey: .content) {
            content = [.text(text)]
        } else {
            content = try c.decode([OpenAIContentPart].self, forKey: .content)
        }
        name = try c.decodeIfPresent(String.self, forKey: .name)
        toolCalls = try c.decodeIfPresent([OpenAIToolCallIn].self, forKey: .toolCalls)
        toolCallID = try c.decodeIfPresent(String.self, forKey: .toolCallID)
    }
}

/// A content part. Kinds the gateway cannot use (`input_audio`, `file`, …) are kept by name so the adapter
/// can refuse them by name.
enum OpenAIContentPart: Decodable, Sendable, Equatable {
    case text(String)
    /// `image_url.url` (a `data:` URI or an http(s) URL).
    case imageURL(String)
    case other(type: String)

    private enum CodingKeys: String, CodingKey {
        case type, text
        case imageURL = "image_url"
    }

    private struct ImageURL: Decodable {
        var url: String
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let type = try c.decode(String.self, forKey: .type)
        switch type {
        case "text", "input_text":
            self = .text(try c.decode(String.self, forKey: .text))
        case "image_url":
            // Some clients send `image_url` as the URL string itself.
            if let url = try? c.decode(String.self, forKey: .imageURL) {
                self = .imageURL(url)
            } else {
                self = .imageURL(try c.decode(ImageURL.self, forKey: .imageURL).url)
            }
        default:
            self = .other(type: type)
        }
    }
}

/// A tool call in an earlier assistant turn. `arguments` is a JSON string by the spec; some clients send the
/// object itself.
struct OpenAIToolCallIn: Decodable, Sendable, Equatable {
    var id: String?
    var name: String
    var arguments: JSONValue?

    private enum CodingKeys: String, CodingKey { case id, function }
    private struct Function: Decodable {
        var name: String
        var arguments: JSONValue?
    }

    init(id: String?, name: String, arguments: JSONValue?) {
        self.id = id
        self.name = name
        self.arguments = arguments
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decodeIfPresent(String.self, forKey: .id)
        let function = try c.decode(Function.self, forKey: .function)
        name = function.name
        arguments = function.arguments
    }
}

/// `{"type": "function", "function": {"name", "description", "parameters"}}`.
struct OpenAITool: Decodable, Sendable, Equatable {
    var type: String
    var name: String
    var description: String?
    var parameters: JSONValue?

    private enum CodingKeys: String, CodingKey { case type, function }
    private struct Function: Decodable {
        var name: String
        var description: String?
        var parameters: JSONValue?
    }

    init(name: String, description: String? = nil, parameters: JSONValue? = nil) {
        self.type = "function"
        self.name = name
        self.description = description
        self.parameters = parameters
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        type = try c.decodeIfPresent(String.self, forKey: .type) ?? "function"
        let function = try c.decode(Function.self, forKey: .function)
        name = function.name
        description = function.description
        parameters = function.parameters
    }
}

/// `{"type": "text" | "json_object" | "json_schema", "json_schema": {"name", "schema", "strict"}}`, plus
/// llama.cpp's `{"type": "json_object", "schema": {...}}`.
struct OpenAIResponseFormat: Decodable, Sendable, Equatable {
    var type: String
    var schema: JSONValue?
    /// Whether a `json_schema` object was present (its `schema` is optional in the spec).
    var hasJSONSchema = false

    private enum CodingKeys: String, CodingKey {
        case type, schema
        case jsonSchema = "json_schema"
    }
    private struct JSONSchema: Decodable {
        var schema: JSONValue?
    }

    init(type: String, schema: JSONValue? = nil, hasJSONSchema: Bool = false) {
        self.type = type
        self.schema = schema
        self.hasJSONSchema = hasJSONSchema
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        type = try c.decode(String.self, forKey: .type)
        if let wrapped = try c.decodeIfPresent(JSONSchema.self, forKey: .jsonSchema) {
            hasJSONSchema = true
            schema = wrapped.schema
        } else {
            schema = try c.decodeIfPresent(JSONValue.self, forKey: .schema)
        }
    }
}
