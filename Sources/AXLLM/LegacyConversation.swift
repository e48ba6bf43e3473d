public import Engine
internal import Foundation

/// What the legacy server's single session holds, and how a stateless request is brought to it.
///
/// The server keeps one conversation in its KV cache and only ever takes the next user turn (`/api/generate`)
/// or a reset with a system prompt. A request whose messages are exactly what the session holds plus one new
/// user message sends only that message. Anything else resets the session with the request's system prompt;
/// the server cannot be given assistant turns it did not write, so an earlier conversation goes in as a
/// transcript at the start of the new user turn.
public struct LegacyConversation: Sendable, Equatable {
    public struct Exchange: Sendable, Equatable {
        public var user: String
        public var assistant: String
    }

    public var system: String
    public var exchanges: [Exchange]

    /// A request's conversation: its system text, earlier exchanges and the new user message.
    public struct Request: Sendable, Equatable {
        public var system: String
        public var history: [Exchange]
        public var user: String
    }

    /// What to send for `request` given the session `held` (nil: unknown, e.g. after a cancelled run).
    public enum Step: Sendable, Equatable {
        /// The session is this conversation so far: send only the new turn.
        case extend(prompt: String)
        /// Reset with `system`, then send `prompt`.
        case reset(system: String, prompt: String)
    }

    public static func step(for request: Request, held: LegacyConversation?) -> Step {
        if let held, held.system == request.system, held.exchanges.count == request.history.count,
            zip(held.exchanges, request.history).allSatisfy({ same($0, $1) })
        {
            return .extend(prompt: request.user)
        }
        return .reset(system: request.system, prompt: replay(request))
    }

    /// The new user turn, after a transcript of the earlier exchanges when there are any.
    public static func replay(_ request: Request) -> String {
        guard !request.history.isEmpty else { return request.user }
        let transcript = request.history.map { "User: \($0.user)\nAssistant: \($0.assistant)" }.joined(separator: "\n")
        return "The conversation so far:\n\(transcript)\n\nContinue it. \(request.user)"
    }

    /// Clients send an answer back trimmed or not; the session matches either way.
    private static func same(_ a: Exchange, _ b: Exchange) -> Bool {
        a.user == b.user
            && a.assistant.trimmingCharacters(in: .whitespacesAndNewlines)
                == b.assistant.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// A request's messages as system text (`defaultSystem` when it has none, as a chat template puts in its
    /// default), exchanges and the last user message; a failure when the legacy server cannot take them (tool
    /// turns, images, no final user message).
    public static func request(_ messages: [ChatMessage], defaultSystem: String = "") -> Result<Request, EngineError> {
        var system: [String] = []
        var history: [Exchange] = []
        var user: String?
        for message in messages {
            guard message.images.isEmpty else { return .failure(unsupported("images")) }
            switch message.role {
            case .system:
                guard history.isEmpty, user == nil else { return .failure(unsupported("a system message after the first turn")) }
                system.append(message.text)
            case .user:
                if let earlier = user { history.append(Exchange(user: earlier, assistant: "")) }
                user = message.text
            case .assistant:
                guard message.toolCalls.isEmpty else { return .failure(unsupported("tool calls")) }
                history.append(Exchange(user: user ?? "", assistant: message.text))
                user = nil
            case .tool: return .failure(unsupported("tool results"))
            }
        }
        guard let user else {
            return .failure(EngineError(.invalidRequest, "the conversation must end with a user message"))
        }
        return .success(
            Request(system: system.isEmpty ? defaultSystem : system.joined(separator: "\n"), history: history, user: user))
    }

    private static func unsupported(_ what: String) -> EngineError {
        EngineError(.unsupported, "the legacy AXERA server takes plain user and assistant turns; it cannot take \(what)")
    }
}
