import Testing

@testable import Engine

@Suite struct OutputRouterTests {
    func route(_ deltas: [String], thinking: Bool = false, tools: Bool = false) -> [GenerationEvent] {
        var router = OutputRouter(thinking: thinking, tools: tools)
        var events: [GenerationEvent] = []
        for delta in deltas { router.route(delta, into: &events) }
        router.finish(into: &events)
        return events
    }

    /// Adjacent text events on the same channel merged, so assertions do not depend on where deltas split.
    func merged(_ events: [GenerationEvent]) -> [GenerationEvent] {
        var out: [GenerationEvent] = []
        for event in events {
            if case .text(let text, let channel) = event, case .text(let previous, channel)? = out.last {
                out[out.count - 1] = .text(previous + text, channel: channel)
            } else {
                out.append(event)
            }
        }
        return out
    }

    @Test func plainTextPassesThroughUntouched() {
        #expect(route(["<think>a", "b"]) == [.text("<think>a", channel: .content), .text("b", channel: .content)])
    }

    @Test func thinkingGoesToTheReasoningChannelEvenWithSplitTags() {
        let events = merged(route(["<thi", "nk>Let me see.</th", "ink>", "The answer."], thinking: true))
        #expect(events == [.text("Let me see.", channel: .reasoning), .text("The answer.", channel: .content)])
    }

    @Test func toolCallBecomesAnEvent() {
        let events = merged(
            route(
                ["Sure. <tool", "_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>"],
                tools: true))
        #expect(
            events == [
                .text("Sure. ", channel: .content),
                .toolCall(ToolCall(id: "call_0", name: "get_weather", arguments: "{\"city\":\"Paris\"}")),
            ])
    }

    @Test func aSingleCallAnswerEndsWithItsFirstCall() {
        var router = OutputRouter(thinking: false, tools: true, singleCall: true)
        var events: [GenerationEvent] = []
        let call = #"<tool_call>{"name": "a", "arguments": {}}</tool_call>"#
        router.route("Sure. " + call + "\n<tool_", into: &events)
        #expect(router.ended)
        router.route(#"call>{"name": "b", "arguments": {}}</tool_call> more"#, into: &events)
        router.finish(into: &events)
        #expect(
            events == [.text("Sure. ", channel: .content), .toolCall(ToolCall(id: "call_0", name: "a", arguments: "{}"))])
        // An unparsable call is text, not the call: the answer goes on.
        var other = OutputRouter(thinking: false, tools: true, singleCall: true)
        other.route("<tool_call>not json</tool_call>", into: &events)
        #expect(!other.ended)
    }

    @Test func unparsableToolCallIsShownAsText() {
        let events = merged(route(["<tool_call>not json</tool_call>"], tools: true))
        #expect(events == [.text("<tool_call>not json</tool_call>", channel: .content)])
    }

    @Test func unfinishedTagIsTextAtTheEnd() {
        #expect(merged(route(["a <tool_c"], tools: true)) == [.text("a <tool_c", channel: .content)])
    }
}
