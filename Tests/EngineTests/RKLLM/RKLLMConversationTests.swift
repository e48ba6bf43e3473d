import Testing

@testable import Engine

@Suite struct RKLLMConversationTests {
    private let first: [ChatMessage] = [.system("Be brief."), .user("Hi")]

    @Test func aFirstTurnCarriesTheSystemTextAheadOfTheQuestion() {
        let plan = RKLLMConversation().plan(first, thinking: false, systemInTools: false)
        #expect(plan == .fresh(RKLLMRunInput(role: "user", thinking: false, text: "Be brief.\n\nHi")))
    }

    @Test func withToolsTheSystemTextIsLeftToSetFunctionTools() {
        let plan = RKLLMConversation().plan(first, thinking: true, systemInTools: true)
        #expect(plan == .fresh(RKLLMRunInput(role: "user", thinking: true, text: "Hi")))
    }

    @Test func aRequestThatExtendsTheHeldConversationSendsOnlyTheNewTurn() {
        var conversation = RKLLMConversation()
        conversation.record(first, answer: .assistant("Hello."))
        // Clients send back what they saw: surrounding whitespace may differ.
        let next = first + [.assistant(" Hello.\n"), .user("Bye")]
        #expect(
            conversation.plan(next, thinking: false, systemInTools: false)
                == .continuation(RKLLMRunInput(role: "user", thinking: false, text: "Bye")))
    }

    @Test func toolResultsAfterAHeldToolCallAreOneToolTurnAsAJSONArray() {
        var conversation = RKLLMConversation()
        let call = ToolCall(id: "call_0", name: "get_weather", arguments: #"{"city":"Paris"}"#)
        conversation.record(first, answer: ChatMessage(role: .assistant, text: "", toolCalls: [call]))
        let next =
            first + [
                ChatMessage(
                    role: .assistant, text: "", toolCalls: [ToolCall(id: "other-id", name: "get_weather", arguments: "{}")]),
                ChatMessage(role: .tool, text: #"{"sky":"clear"}"#), ChatMessage(role: .tool, text: "12 C"),
            ]
        #expect(
            conversation.plan(next, thinking: false, systemInTools: false)
                == .continuation(RKLLMRunInput(role: "tool", thinking: false, text: #"[{"sky":"clear"},"12 C"]"#)))
    }

    @Test func anEditedHistoryStartsAfreshWithATranscript() {
        var conversation = RKLLMConversation()
        conversation.record(first, answer: .assistant("Hello."))
        let edited = first + [.assistant("Something else."), .user("Bye")]
        #expect(
            conversation.plan(edited, thinking: false, systemInTools: false)
                == .fresh(
                    RKLLMRunInput(
                        role: "user", thinking: false,
                        text: "Be brief.\n\nEarlier in this conversation:\nUser: Hi\nAssistant: Something else.\n\nBye")))
    }

    @Test func aChangedSystemPromptOrAForgottenCacheStartsAfresh() {
        var conversation = RKLLMConversation()
        conversation.record(first, answer: .assistant("Hello."))
        let otherSystem: [ChatMessage] = [.system("Be verbose."), .user("Hi"), .assistant("Hello."), .user("Bye")]
        guard case .fresh = conversation.plan(otherSystem, thinking: false, systemInTools: false) else {
            Issue.record("a different system prompt must not continue the held conversation")
            return
        }
        conversation.forget()
        guard
            case .fresh = conversation.plan(first + [.assistant("Hello."), .user("Bye")], thinking: false, systemInTools: false)
        else {
            Issue.record("a forgotten cache must not be continued")
            return
        }
    }
}
