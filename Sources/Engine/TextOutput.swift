/// What an engine that receives text (not tokens) from its runtime sends on: stop strings cut the text
/// (`TextStream`), then thinking and tool-call tags are split out (`OutputRouter`). For engines in other
/// modules, such as the AXERA vendor-server engine.
package struct TextOutput {
    private var text: TextStream
    private var router: OutputRouter

    package init(stop: [String], thinking: Bool, tools: Bool, singleCall: Bool = false) {
        text = TextStream(stopStrings: stop)
        router = OutputRouter(thinking: thinking, tools: tools, singleCall: singleCall)
    }

    /// The events for one piece of text, and whether the answer has ended (a stop string, or the one tool call
    /// a single-call answer may hold): nothing after that counts.
    package mutating func append(_ piece: String) -> (events: [GenerationEvent], stopped: Bool) {
        let (delta, stopped) = text.append(Array(piece.utf8))
        var events: [GenerationEvent] = []
        router.route(delta, into: &events)
        return (events, stopped || router.ended)
    }

    /// What is still held back, at the end of the answer.
    package mutating func finish() -> [GenerationEvent] {
        var events: [GenerationEvent] = []
        router.route(text.flush(), into: &events)
        router.finish(into: &events)
        return events
    }
}
