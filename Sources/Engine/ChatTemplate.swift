/// A chat template given as plain strings, as RKLLM's `rkllm_set_chat_template` takes them (the manifest's
/// `chatTemplate`): used when the GGUF has no template llama.cpp recognises.
///
/// Rendering: `system`, then every user turn as `prefix + text + postfix`, every assistant turn as its text
/// and a newline. System messages of the request have no marker of their own in this scheme, so their text
/// is put in front of the first user turn (what templates without a system role, such as Gemma's, do).
public struct ChatTemplate: Sendable, Codable, Equatable {
    public var system: String
    public var prefix: String
    public var postfix: String

    public init(system: String = "", prefix: String, postfix: String) {
        self.system = system
        self.prefix = prefix
        self.postfix = postfix
    }

    func render(_ turns: [ChatTurn], addAssistant: Bool) -> String {
        var out = system
        var pendingSystem = ""
        for turn in turns {
            switch turn.role {
            case "system":
                pendingSystem += turn.content + "\n\n"
            case "assistant":
                out += turn.content + "\n"
            default:
                out += prefix + pendingSystem + turn.content + postfix
                pendingSystem = ""
            }
        }
        if !pendingSystem.isEmpty {
            // A conversation that is only a system prompt (a prompt-cache preset): the start of the first
            // user turn, so a later request with the same system message shares this text as its prefix.
            out += prefix + pendingSystem
        }
        _ = addAssistant  // the postfix of the last user turn already opens the assistant turn
        return out
    }
}

/// A message reduced to what a chat template takes: a role name and text.
struct ChatTurn: Equatable {
    var role: String
    var content: String
}

/// Canonical messages to template turns. llama.cpp's templates know only role + text, so tools, tool calls
/// and tool results are written into the text in the Hermes style (`<tools>`, `<tool_call>`,
/// `<tool_response>`) that most tool-trained open models (Qwen, Hermes, SmolLM) read.
enum ChatFormatter {
    static func turns(for messages: [ChatMessage], tools: [ToolDefinition]) -> [ChatTurn] {
        var turns: [ChatTurn] = []
        let toolPrompt = tools.isEmpty ? nil : toolsSystemPrompt(tools)
        var toolPromptPlaced = toolPrompt == nil
        for message in messages {
            switch message.role {
            case .system:
                var content = message.text
                if let toolPrompt, !toolPromptPlaced {
                    content += "\n\n" + toolPrompt
                    toolPromptPlaced = true
                }
                turns.append(ChatTurn(role: "system", content: content))
            case .user:
                turns.append(ChatTurn(role: "user", content: message.text))
            case .assistant:
                var content = message.text
                for call in message.toolCalls {
                    if !content.isEmpty { content += "\n" }
                    content +=
                        "<tool_call>\n{\"name\": \(jsonString(call.name)), \"arguments\": \(call.arguments)}\n"
                        + "</tool_call>"
                }
                turns.append(ChatTurn(role: "assistant", content: content))
            case .tool:
                turns.append(ChatTurn(role: "user", content: "<tool_response>\n\(message.text)\n</tool_response>"))
            }
        }
        if let toolPrompt, !toolPromptPlaced {
            turns.insert(ChatTurn(role: "system", content: toolPrompt), at: 0)
        }
        return turns
    }

    static func toolsSystemPrompt(_ tools: [ToolDefinition]) -> String {
        var lines = [
            "# Tools", "", "You may call one or more functions to assist with the user query.", "",
            "You are provided with function signatures within <tools></tools> XML tags:", "<tools>",
        ]
        for tool in tools {
            lines.append(
                "{\"type\": \"function\", \"function\": {\"name\": \(jsonString(tool.name)), \"description\": "
                    + "\(jsonString(tool.description)), \"parameters\": \(tool.parameters)}}")
        }
        lines += [
            "</tools>", "",
            "For each function call, return a json object with function name and arguments within "
                + "<tool_call></tool_call> XML tags:",
            "<tool_call>", "{\"name\": <function-name>, \"arguments\": <args-json-object>}", "</tool_call>",
        ]
        return lines.joined(separator: "\n")
    }

    /// `text` as a JSON string literal.
    static func jsonString(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case let s where s.value < 0x20:
                let hex = String(s.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
