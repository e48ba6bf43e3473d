import Testing

@testable import Engine

@Suite struct TextStreamTests {
    /// Feeds `chunks` one by one, as tokens would arrive.
    func run(_ chunks: [[UInt8]], stops: [String] = []) -> (deltas: [String], stopped: Bool, rest: String) {
        var stream = TextStream(stopStrings: stops)
        var deltas: [String] = []
        for chunk in chunks {
            let (text, stopped) = stream.append(chunk)
            if !text.isEmpty { deltas.append(text) }
            if stopped { return (deltas, true, "") }
        }
        return (deltas, false, stream.flush())
    }

    @Test func emojiSplitOverTokensIsSentWhole() {
        let bytes = Array("a😀b".utf8)  // 61 F0 9F 98 80 62
        let result = run([[bytes[0], bytes[1]], [bytes[2]], [bytes[3]], [bytes[4], bytes[5]]])
        #expect(result.deltas == ["a", "😀b"])
    }

    @Test func stopStringSplitOverTokensIsNeverEmitted() {
        let result = run([Array("Hello ".utf8), Array("wo".utf8), Array("rld!".utf8)], stops: ["world"])
        #expect(result.deltas == ["Hello "])
        #expect(result.stopped)
    }

    @Test func heldTailIsReleasedWhenItStopsMatching() {
        let result = run([Array("Hello wo".utf8), Array("w".utf8)], stops: ["world"])
        // "wo" can no longer become "world"; the last "w" still can, so it waits (and is flushed at the end).
        #expect(result.deltas == ["Hello ", "wo"])
        #expect(!result.stopped && result.rest == "w")
    }

    @Test func earliestOfSeveralStopsWins() {
        let result = run([Array("one two three".utf8)], stops: ["three", "two"])
        #expect(result.deltas == ["one "])
        #expect(result.stopped)
    }

    @Test func heldTextIsFlushedAtTheEndButACutCharacterIsDropped() {
        let emoji = Array("😀".utf8)
        let result = run([Array("end wor".utf8), Array(emoji.prefix(2))], stops: ["world"])
        #expect(result.deltas == ["end "])
        #expect(result.rest == "wor")
    }

    @Test func invalidBytesBecomeReplacementCharactersInsteadOfStallingTheStream() {
        let result = run([[0x61, 0xFF, 0x62]])
        #expect(result.deltas == ["a\u{FFFD}b"])
    }

    @Test func completeCharactersLength() {
        #expect(TextStream.completeCharactersLength(Array("é".utf8)) == 2)
        #expect(TextStream.completeCharactersLength([0x61, 0xC3]) == 1)
        #expect(TextStream.completeCharactersLength([0xE2, 0x82]) == 0)
        #expect(TextStream.completeCharactersLength([]) == 0)
    }
}
