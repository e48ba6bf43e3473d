import Foundation
import Testing

@testable import Engine

@Suite struct ChatFormattingTests {
    @Test func fallbackTemplateRendersTurnsAndFoldsSystemIntoTheFirstUserTurn() {
        let template = ChatTemplate(system: "<s>", prefix: "[U]", postfix: "[A]")
        let turns = ChatFormatter.turns(
            for: [.system("Be brief."), .user("Hi"), .assistant("Hello."), .user("Bye")], tools: [])
        #expect(template.render(turns, addAssistant: true) == "<s>[U]Be brief.\n\nHi[A]Hello.\n[U]Bye[A]")
    }

    @Test func aSystemOnlyConversationIsAPrefixOfTheFullOne() {
        let template = ChatTemplate(system: "<s>", prefix: "[U]", postfix: "[A]")
        let start = template.render(ChatFormatter.turns(for: [.system("Be brief.")], tools: []), addAssistant: false)
        let full = template.render(
            ChatFormatter.turns(for: [.system("Be brief."), .user("Hi")], tools: []), addAssistant: true)
        #expect(full.hasPrefix(start))
    }

    @Test func toolsAreRenderedIntoTheSystemPromptAndCallsAndResultsIntoTurns() throws {
        let tool = ToolDefinition(
            name: "get_weather", description: "Weather \"now\"", parameters: #"{"type":"object"}"#)
        let turns = ChatFormatter.turns(
            for: [
                .user("Weather?"),
                ChatMessage(
                    role: .assistant, text: "",
                    toolCalls: [ToolCall(id: "1", name: "get_weather", arguments: #"{"city":"Paris"}"#)]),
                ChatMessage(role: .tool, text: "sunny", toolResult: ToolResultReference(callID: "1")),
            ], tools: [tool])
        #expect(turns.map(\.role) == ["system", "user", "assistant", "user"])
        #expect(
            turns[0].content.contains(
                #"{"type": "function", "function": {"name": "get_weather", "description": "Weather \"now\"", "parameters": {"type":"object"}}}"#
            ))
        #expect(turns[2].content.contains(#"{"name": "get_weather", "arguments": {"city":"Paris"}}"#))
        #expect(turns[3].content == "<tool_response>\nsunny\n</tool_response>")
    }

    @Test func jsonStringEscapes() {
        #expect(ChatFormatter.jsonString("a\"b\\c\n\u{1}") == #""a\"b\\c\n\u0001""#)
    }
}

@Suite struct WireFormatTests {
    func roundTrip<T: Codable & Equatable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let data = try encoder.encode(value)
        #expect(try JSONDecoder().decode(T.self, from: data) == value)
        return String(decoding: data, as: UTF8.self)
    }

    @Test func requestFlattensItsInput() throws {
        var request = GenerationRequest.chat("Hi", system: "Be brief.")
        request.stop = ["\n"]
        request.promptCache = "support"
        request.tools = [ToolDefinition(name: "f")]
        let json = try roundTrip(request)
        #expect(json.contains(#""messages":[{"role":"system","text":"Be brief."}"#))
        #expect(try roundTrip(GenerationRequest.prompt("Once upon")).contains(#""prompt":"Once upon""#))
    }

    @Test func minimalRequestDecodes() throws {
        let request = try JSONDecoder().decode(
            GenerationRequest.self, from: Data(#"{"messages":[{"role":"user","text":"Hi"}]}"#.utf8))
        #expect(request == GenerationRequest.messages([.user("Hi")]))
    }

    @Test func eventsHaveATypeField() throws {
        #expect(
            try roundTrip(GenerationEvent.text("Hi", channel: .content)) == #"{"channel":"content","text":"Hi","type":"text"}"#)
        _ = try roundTrip(GenerationEvent.toolCall(ToolCall(id: "1", name: "f", arguments: "{}")))
        let done = GenerationEvent.done(
            Completion(
                reason: .error, usage: Usage(promptTokens: 3), timings: Timings(prefillMs: 1.5),
                error: EngineError(.decodeFailed, "boom")))
        #expect(try roundTrip(done).contains(#""code":"decode_failed""#))
    }
}
