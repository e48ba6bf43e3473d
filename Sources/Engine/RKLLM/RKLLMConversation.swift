import Foundation

/// Multi-turn state for a runtime that keeps the conversation in its own KV cache. The runtime takes one
/// new turn per run (`keep_history = 1` appends it to what the cache holds), while the APIs send the whole
/// conversation every time. So the engine remembers which messages the cache holds and sends only what a
/// request adds; anything else starts the conversation afresh.
struct RKLLMConversation {
    /// The messages the runtime's cache holds, the assistant's answers included; nil when unknown (after an
    /// error, an abort, a batch run, a template or tools change).
    private(set) var held: [ChatMessage]?

    enum Plan: Equatable {
        /// The request extends what the cache holds: send this turn with keep_history = 1.
        case continuation(RKLLMRunInput)
        /// Clear the cache (keeping the runtime's system prompt) and send this one turn.
        case fresh(RKLLMRunInput)
    }

    /// What to send for `messages`. `systemInTools`: the request's system text reaches the runtime through
    /// rkllm_set_function_tools, so it must not be repeated in the turn.
    func plan(_ messages: [ChatMessage], thinking: Bool, systemInTools: Bool) -> Plan {
        if let held, messages.count > held.count,
            zip(held, messages).allSatisfy(Self.sameTurn),
            let turn = Self.newTurn(messages[held.count...], thinking: thinking)
        {
            return .continuation(turn)
        }
        return .fresh(Self.freshTurn(messages, thinking: thinking, systemInTools: systemInTools))
    }

    /// After a run that ended normally: the cache now holds `messages` and the answer.
    mutating func record(_ messages: [ChatMessage], answer: ChatMessage) {
        held = messages + [answer]
    }

    /// The cache no longer holds a conversation we know.
    mutating func forget() { held = nil }

    // MARK: Turns

    /// One user message, or one or more tool results (sent together, as the runtime expects).
    private static func newTurn(_ added: ArraySlice<ChatMessage>, thinking: Bool) -> RKLLMRunInput? {
        if added.count == 1, let only = added.first, only.role == .user {
            return RKLLMRunInput(role: "user", thinking: thinking, text: tagged(only), images: only.images)
        }
        guard !added.isEmpty, added.allSatisfy({ $0.role == .tool }) else { return nil }
        return RKLLMRunInput(role: "tool", thinking: thinking, text: toolResults(Array(added)))
    }

    /// The whole conversation as one user turn. The runtime has no way to be given earlier assistant turns,
    /// so they travel as a plain transcript ahead of the last message; the request's system text (unless it
    /// goes with the tools) leads the turn.
    static func freshTurn(_ messages: [ChatMessage], thinking: Bool, systemInTools: Bool) -> RKLLMRunInput {
        let system = systemInTools ? "" : systemText(messages)
        var turns = messages.filter { $0.role != .system }
        var toolResults: [ChatMessage] = []
        while let message = turns.last, message.role == .tool { toolResults.insert(turns.removeLast(), at: 0) }
        // What the answer responds to: the last user message, unless tool results came after it.
        var question: ChatMessage?
        if toolResults.isEmpty, let message = turns.last, message.role == .user { question = turns.removeLast() }
        var parts: [String] = []
        if !system.isEmpty { parts.append(system) }
        if !turns.isEmpty {
            parts.append("Earlier in this conversation:\n" + turns.map(transcriptLine).joined(separator: "\n"))
        }
        if !toolResults.isEmpty { parts.append("Results of the tool calls:\n" + Self.toolResults(toolResults)) }
        if let question { parts.append(tagged(question)) }
        // Images in the order their tags appear: the transcript's turns, then the question.
        let images = turns.filter { $0.role == .user }.flatMap(\.images) + (question?.images ?? [])
        return RKLLMRunInput(role: "user", thinking: thinking, text: parts.joined(separator: "\n\n"), images: images)
    }

    /// A user turn's text with an image tag per image in front, as the vendor's demo sends it.
    static func tagged(_ message: ChatMessage) -> String {
        String(repeating: RKLLMRunInput.imageTag, count: message.images.count) + message.text
    }

    static func systemText(_ messages: [ChatMessage]) -> String {
        messages.filter { $0.role == .system }.map(\.text).joined(separator: "\n\n")
    }

    private static func transcriptLine(_ message: ChatMessage) -> String {
        switch message.role {
        case .user: return "User: " + tagged(message)
        case .assistant:
            let calls = message.toolCalls.map { "[called \($0.name) with \($0.arguments)]" }
            return "Assistant: " + ([message.text].filter { !$0.isEmpty } + calls).joined(separator: " ")
        case .tool: return "Tool result: " + message.text
        case .system: return message.text
        }
    }

    /// A JSON array of the results, each as JSON when it is JSON and as a string otherwise (the vendor's
    /// server sends consecutive tool messages this way).
    private static func toolResults(_ messages: [ChatMessage]) -> String {
        let values: [Any] = messages.map { message in
            (try? JSONSerialization.jsonObject(with: Data(message.text.utf8), options: [.fragmentsAllowed])) ?? message.text
        }
        guard let data = try? JSONSerialization.data(withJSONObject: values, options: [.sortedKeys, .withoutEscapingSlashes])
        else { return messages.map(\.text).joined(separator: "\n") }
        return String(decoding: data, as: UTF8.self)
    }

    /// Whether a message the client sent back is the turn the cache holds. Assistant turns are compared on
    /// what the client saw (content without surrounding whitespace, and which tools were called): clients
    /// drop reasoning and reformat tool calls.
    private static func sameTurn(_ held: ChatMessage, _ sent: ChatMessage) -> Bool {
        guard held.role == sent.role else { return false }
        guard held.role == .assistant else { return held.text == sent.text && held.images == sent.images }
        let trim = { (text: String) in text.trimmingCharacters(in: .whitespacesAndNewlines) }
        return trim(held.text) == trim(sent.text) && held.toolCalls.map(\.name) == sent.toolCalls.map(\.name)
    }
}
