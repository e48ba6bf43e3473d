import Engine
import Testing

@testable import AXLLM

/// How stateless requests are brought to the legacy AXERA server's single session.
struct LegacyConversationTests {
    typealias Exchange = LegacyConversation.Exchange

    @Test func aConversationThatExtendsTheSessionSendsOnlyItsNewTurn() throws {
        let held = LegacyConversation(system: "Be brief.", exchanges: [Exchange(user: "Hi", assistant: "Hello! ")])
        let request = try LegacyConversation.request(
            [.system("Be brief."), .user("Hi"), .assistant("Hello!"), .user("How are you?")]
        ).get()
        #expect(LegacyConversation.step(for: request, held: held) == .extend(prompt: "How are you?"))
    }

    @Test func anythingElseResetsAndReplaysTheEarlierTurnsAsATranscript() throws {
        let held = LegacyConversation(system: "Be brief.", exchanges: [Exchange(user: "Hi", assistant: "Hello!")])
        let otherSystem = try LegacyConversation.request([.system("Be verbose."), .user("Hi")]).get()
        #expect(LegacyConversation.step(for: otherSystem, held: held) == .reset(system: "Be verbose.", prompt: "Hi"))
        let edited = try LegacyConversation.request(
            [.system("Be brief."), .user("Hi"), .assistant("Hey."), .user("Bye")]
        ).get()
        guard case .reset(let system, let prompt) = LegacyConversation.step(for: edited, held: held) else {
            Issue.record("an edited answer must reset")
            return
        }
        #expect(system == "Be brief.")
        #expect(prompt.contains("User: Hi\nAssistant: Hey.") && prompt.hasSuffix("Bye"))
        // Nothing known about the session (a cancelled run): reset.
        let same = try LegacyConversation.request([.system("Be brief."), .user("Hi")]).get()
        #expect(LegacyConversation.step(for: same, held: nil) == .reset(system: "Be brief.", prompt: "Hi"))
    }

    @Test func withoutASystemMessageTheServersOwnPromptIsKept() throws {
        let request = try LegacyConversation.request([.user("Hi")], defaultSystem: "You are helpful.").get()
        #expect(request.system == "You are helpful.")
    }

    @Test func whatTheServerCannotTakeIsRefused() {
        let cases: [[ChatMessage]] = [
            [.user("Hi"), .assistant("Hello")],
            [.user("Hi"), ChatMessage(role: .assistant, text: "", toolCalls: [ToolCall(id: "1", name: "f", arguments: "{}")])],
            [.user("Hi"), ChatMessage(role: .tool, text: "42")],
            [.user("Hi"), .system("late system")],
        ]
        for messages in cases {
            guard case .failure = LegacyConversation.request(messages) else {
                Issue.record("\(messages) was accepted")
                continue
            }
        }
    }

    @Test func theModelDirectoryIsCheckedAsEachServerReadsIt() throws {
        #expect(
            AXLLMModelDirectory.problem("/nonexistent/model", server: .serve, arguments: [])
                == "the model directory /nonexistent/model does not exist")
        #expect(
            AXLLMModelDirectory.problem(binary: "/nonexistent/axllm", directory: "/tmp", server: .serve, arguments: [])
                == "the AXERA server binary /nonexistent/axllm is missing or not executable")
    }
}
