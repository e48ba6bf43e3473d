/// Ollama's request bodies as they arrive (api/types.go). Every field is optional: absent and `null` mean the
/// same to Ollama, and validation happens in the adapter so errors can name the field.

struct OllamaChatRequest: Sendable, Decodable {
    var model: String?
    var messages: [OllamaMessage]?
    var tools: [OllamaTool]?
    var format: JSONValue?
    var options: [String: JSONValue]?
    var stream: Bool?
    var keepAlive: OllamaKeepAlive?
    var think: OllamaThink?
    var truncate: Bool?
    var shift: Bool?
    var logprobs: Bool?
    var topLogprobs: Int?
    /// Extension: a prompt-cache preset the model declares; its system prompt starts the conversation.
    var promptCache: String?

    enum CodingKeys: String, CodingKey {
        case model, messages, tools, format, options, stream, think, truncate, shift, logprobs
        case keepAlive = "keep_alive"
        case topLogprobs = "top_logprobs"
        case promptCache = "prompt_cache"
    }
}

struct OllamaGenerateRequest: Sendable, Decodable {
    var model: String?
    var prompt: String?
    var suffix: String?
    var system: String?
    var template: String?
    /// Token ids from an earlier response (deprecated by Ollama; never returned here).
    var context: [Int]?
    var stream: Bool?
    var raw: Bool?
    var format: JSONValue?
    var images: [String]?
    var options: [String: JSONValue]?
    var keepAlive: OllamaKeepAlive?
    var think: OllamaThink?
    var truncate: Bool?
    var shift: Bool?
    var logprobs: Bool?
    var topLogprobs: Int?
    /// Extension: as on chat.
    var promptCache: String?

    enum CodingKeys: String, CodingKey {
        case model, prompt, suffix, system, template, context, stream, raw, format, images, options, think
        case truncate, shift, logprobs
        case keepAlive = "keep_alive"
        case topLogprobs = "top_logprobs"
        case promptCache = "prompt_cache"
    }
}

struct OllamaMessage: Sendable, Codable, Equatable {
    var role: String
    var content: String?
    /// An earlier assistant turn's reasoning; the canonical conversation does not carry it back.
    var thinking: String?
    /// Base64 image files.
    var images: [String]?
    var toolCalls: [OllamaToolCall]?
    var toolName: String?
    var toolCallID: String?

    enum CodingKeys: String, CodingKey {
        case role, content, thinking, images
        case toolCalls = "tool_calls"
        case toolName = "tool_name"
        case toolCallID = "tool_call_id"
    }
}

/// `{"id"?, "function": {"index"?, "name", "arguments": {...}}}`: arguments are a JSON object in Ollama's
/// native API (OpenAI sends a string).
struct OllamaToolCall: Sendable, Codable, Equatable {
    struct Function: Sendable, Codable, Equatable {
        var index: Int?
        var name: String
        var arguments: JSONValue?
    }

    var id: String?
    var function: Function
}

/// `{"type": "function", "function": {"name", "description", "parameters": {JSON schema}}}`.
struct OllamaTool: Sendable, Decodable {
    struct Function: Sendable, Decodable {
        var name: String
        var description: String?
        var parameters: JSONValue?
    }

    var type: String?
    var function: Function
}

/// `think`: a bool, or a level (`"low"`, `"medium"`, `"high"`, `"max"`) for models that take one.
enum OllamaThink: Sendable, Equatable, Decodable {
    case enabled(Bool)
    case level(String)

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let value = try? c.decode(Bool.self) {
            self = .enabled(value)
        } else {
            self = .level(try c.decode(String.self))
        }
    }
}

/// `keep_alive`: a number of seconds or a Go duration string (`"5m"`, `"1h30m"`); negative keeps the model
/// forever, zero unloads it after the request.
enum OllamaKeepAlive: Sendable, Equatable, Decodable {
    case seconds(Double)
    case text(String)

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let value = try? c.decode(Double.self) {
            self = .seconds(value)
        } else {
            self = .text(try c.decode(String.self))
        }
    }
}

/// `/api/show`, `/api/pull`, `/api/delete`: `model`, or the older `name`.
struct OllamaModelRequest: Sendable, Decodable {
    var model: String?
    var name: String?
    var stream: Bool?
    var verbose: Bool?

    var requested: String? { model?.isEmpty == false ? model : name }
}

struct OllamaEmbedRequest: Sendable, Decodable {
    enum Input: Sendable, Equatable, Decodable {
        case one(String)
        case many([String])

        init(from decoder: any Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let value = try? c.decode(String.self) {
                self = .one(value)
            } else {
                self = .many(try c.decode([String].self))
            }
        }
    }

    var model: String?
    var input: Input?
    var truncate: Bool?
    var options: [String: JSONValue]?
    var keepAlive: OllamaKeepAlive?
    var dimensions: Int?

    enum CodingKeys: String, CodingKey {
        case model, input, truncate, options, dimensions
        case keepAlive = "keep_alive"
    }
}

/// The legacy `/api/embeddings`: one `prompt`, one `embedding`.
struct OllamaEmbeddingsRequest: Sendable, Decodable {
    var model: String?
    var prompt: String?
    var options: [String: JSONValue]?
    var keepAlive: OllamaKeepAlive?

    enum CodingKeys: String, CodingKey {
        case model, prompt, options
        case keepAlive = "keep_alive"
    }
}
