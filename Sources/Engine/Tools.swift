/// A function the model may call. `parameters` is a JSON Schema kept as JSON text: the engine only
/// renders it into the prompt, and each API adapter already has it as JSON.
public struct ToolDefinition: Sendable, Codable, Equatable {
    public var name: String
    public var description: String
    public var parameters: String

    public init(name: String, description: String = "", parameters: String = "{}") {
        self.name = name
        self.description = description
        self.parameters = parameters
    }
}

/// A call the model made. `arguments` is JSON object text (OpenAI sends it as a string, Ollama as an
/// object; the adapters convert).
public struct ToolCall: Sendable, Codable, Equatable {
    public var id: String
    public var name: String
    public var arguments: String

    public init(id: String, name: String, arguments: String) {
        self.id = id
        self.name = name
        self.arguments = arguments
    }
}

/// Constraint on the shape of the answer.
public struct ResponseFormat: Sendable, Codable, Equatable {
    public enum Kind: String, Sendable, Codable, Equatable {
        case text
        case jsonObject
        case jsonSchema
    }

    public var kind: Kind
    /// For `jsonSchema`: the schema as JSON text.
    public var schema: String?

    public init(kind: Kind, schema: String? = nil) {
        self.kind = kind
        self.schema = schema
    }
}

/// Whether the model must call a tool. `auto`: it decides. `required`: it calls one or more of the tools;
/// `function`: it calls that one. The llama.cpp engine enforces the last two with a grammar over the tool
/// calls, whose arguments follow each function's `parameters` schema.
public enum ToolChoice: Sendable, Equatable, Codable {
    case auto
    case required
    case function(String)

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        switch text {
        case "auto": self = .auto
        case "required": self = .required
        default:
            guard text.hasPrefix("function:") else {
                throw DecodingError.dataCorrupted(
                    .init(codingPath: decoder.codingPath, debugDescription: "expected auto, required or function:NAME"))
            }
            self = .function(String(text.dropFirst("function:".count)))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .auto: try c.encode("auto")
        case .required: try c.encode("required")
        case .function(let name): try c.encode("function:\(name)")
        }
    }
}
