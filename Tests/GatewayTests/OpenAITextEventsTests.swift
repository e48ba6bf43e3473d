import Engine
import Foundation
import NIOCore
import Testing

@testable import Gateway

/// The substituted text events must be byte for byte what encoding each chunk gives.
@Suite struct OpenAITextEventsTests {
    static let texts = [
        " a", "Hello", "", "naïve café", "日本語", "emoji 😀 and ZWJ 👩‍👩‍👧", "quote \" inside", "back\\slash",
        "a/b", "tab\there", "new\nline", "\u{7F}del", "line\u{2028}sep", "bell\u{07}", " ", "{\"json\": [1, 2]}",
        OpenAITextEvents<OpenAICompletionStreamTranscoder>.marker,
    ]

    static func expected<T: OpenAIStreamTranscoding>(_ transcoder: T, _ text: String, _ channel: GenerationEvent.Channel)
        throws -> String
    {
        String(buffer: OpenAIResponses.event(try OpenAIResponses.encode(transcoder.textChunk(text, channel: channel))))
    }

    @Test(arguments: [true, false])
    func chatChunksMatchTheEncoder(includeUsage: Bool) throws {
        let transcoder = OpenAIChatStreamTranscoder(envelope: OpenAITest.envelope, includeUsage: includeUsage)
        var events = OpenAITextEvents(preparingFor: transcoder)
        var substituted = 0
        for channel in [GenerationEvent.Channel.content, .reasoning] {
            for text in Self.texts {
                guard let event = events.event(text, channel: channel, of: transcoder) else { continue }
                substituted += 1
                #expect(String(buffer: event) == (try Self.expected(transcoder, text, channel)), "text \(text.debugDescription)")
            }
        }
        #expect(substituted >= 2 * 8, "plain texts take the fast path")
    }

    @Test func completionChunksMatchTheEncoder() throws {
        let transcoder = OpenAICompletionStreamTranscoder(envelope: OpenAITest.envelope, includeUsage: true)
        var events = OpenAITextEvents(preparingFor: transcoder)
        for text in Self.texts {
            if let event = events.event(text, channel: .content, of: transcoder) {
                #expect(String(buffer: event) == (try Self.expected(transcoder, text, .content)), "text \(text.debugDescription)")
            }
        }
    }

    @Test func onlyTextsWrittenAsTheyAreAreSubstituted() {
        typealias Events = OpenAITextEvents<OpenAICompletionStreamTranscoder>
        for plain in [" a", "naïve café", "😀", "{x: 1}"] { #expect(Events.isVerbatim(plain), "\(plain)") }
        for escaped in ["\"", "\\", "/", "\n", "\u{1F}", "\u{7F}", "\u{2028}", "\u{2029}"] {
            #expect(!Events.isVerbatim(escaped), "\(escaped.debugDescription)")
        }
    }

    @Test func aModelNamedLikeTheMarkerFallsBackToEncoding() throws {
        var envelope = OpenAITest.envelope
        envelope.model = OpenAITextEvents<OpenAICompletionStreamTranscoder>.marker
        let transcoder = OpenAICompletionStreamTranscoder(envelope: envelope, includeUsage: false)
        var events = OpenAITextEvents(preparingFor: transcoder)
        #expect(events.event(" a", channel: .content, of: transcoder) == nil)
    }

    @Test func completionIDsAreTwentyFourAlphanumericsAndDiffer() {
        let ids = (0..<200).map { _ in OpenAIEnvelope.randomSuffix() }
        for id in ids {
            #expect(id.count == 24)
            #expect(id.unicodeScalars.allSatisfy { CharacterSet.alphanumerics.contains($0) && $0.isASCII })
        }
        #expect(Set(ids).count == ids.count)
        // Every position uses the whole alphabet, not a few letters.
        #expect(Set(ids.map { $0.last! }).count > 40)
    }
}
