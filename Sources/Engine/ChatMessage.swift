public import Foundation

/// One turn of a conversation.
public struct ChatMessage: Sendable, Codable, Equatable {
    public enum Role: String, Sendable, Codable, Equatable {
        case system, user, assistant, tool
    }

    public var role: Role
    public var text: String
    /// Images attached to a user turn (engines without vision refuse them with `unsupported`).
    public var images: [ImageInput]
    /// Calls an assistant turn made.
    public var toolCalls: [ToolCall]
    /// For a `tool` turn: the call this text is the result of.
    public var toolResult: ToolResultReference?

    public init(
        role: Role, text: String, images: [ImageInput] = [], toolCalls: [ToolCall] = [],
        toolResult: ToolResultReference? = nil
    ) {
        self.role = role
        self.text = text
        self.images = images
        self.toolCalls = toolCalls
        self.toolResult = toolResult
    }

    public static func system(_ text: String) -> ChatMessage { ChatMessage(role: .system, text: text) }
    public static func user(_ text: String) -> ChatMessage { ChatMessage(role: .user, text: text) }
    public static func assistant(_ text: String) -> ChatMessage { ChatMessage(role: .assistant, text: text) }

    private enum CodingKeys: String, CodingKey { case role, text, images, toolCalls, toolResult }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        role = try c.decode(Role.self, forKey: .role)
        text = try c.decodeIfPresent(String.self, forKey: .text) ?? ""
        images = try c.decodeIfPresent([ImageInput].self, forKey: .images) ?? []
        toolCalls = try c.decodeIfPresent([ToolCall].self, forKey: .toolCalls) ?? []
        toolResult = try c.decodeIfPresent(ToolResultReference.self, forKey: .toolResult)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(role, forKey: .role)
        try c.encode(text, forKey: .text)
        if !images.isEmpty { try c.encode(images, forKey: .images) }
        if !toolCalls.isEmpty { try c.encode(toolCalls, forKey: .toolCalls) }
        try c.encodeIfPresent(toolResult, forKey: .toolResult)
    }
}

public struct ImageInput: Sendable, Codable, Equatable {
    /// The encoded image file (PNG, JPEG, ...); base64 in JSON.
    public var data: Data
    public var mimeType: String?

    public init(data: Data, mimeType: String? = nil) {
        self.data = data
        self.mimeType = mimeType
    }
}

/// Which call a tool turn answers. OpenAI identifies it by id, Ollama by function name.
public struct ToolResultReference: Sendable, Codable, Equatable {
    public var callID: String?
    public var name: String?

    public init(callID: String? = nil, name: String? = nil) {
        self.callID = callID
        self.name = name
    }
}
