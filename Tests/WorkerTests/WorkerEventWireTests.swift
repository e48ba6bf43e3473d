import Engine
import Foundation
import Testing

@testable import Worker

/// Text events are read without `Decodable` on the gateway's hot path; they must read exactly as the decoder
/// reads them, and anything else must be left to the decoder.
@Suite struct WorkerEventWireTests {
    static let texts = [
        " a", "", "naïve café", "日本語", "😀👩‍👩‍👧", "quote \" and back\\slash", "a/b", "tab\t new\n cr\r",
        "\u{0}\u{1}\u{1F}\u{7F}", "\u{2028}", "{\"type\":\"done\"}",
    ]

    @Test func textEventsReadAsTheDecoderReadsThem() throws {
        let encoder = JSONEncoder()
        let sorted = JSONEncoder()
        sorted.outputFormatting = [.sortedKeys]
        for text in Self.texts {
            for channel in [GenerationEvent.Channel.content, .reasoning] {
                let event = GenerationEvent.text(text, channel: channel)
                for line in [try encoder.encode(event), try sorted.encode(event)] {
                    #expect(EventReader.textEvent([UInt8](line)) == event, "\(String(decoding: line, as: UTF8.self))")
                    #expect(try JSONDecoder().decode(GenerationEvent.self, from: line) == event)
                }
            }
        }
    }

    @Test func escapesOtherEncodersUseAreRead() throws {
        let lines: [(String, String)] = [
            (#"{"type":"text","text":"\u00e9\ud83d\ude00\/"}"#, "é😀/"),
            (#" { "text" : "a\"b" , "type" : "text" } "#, "a\"b"),
            (#"{"type":"text","text":"\b\f\n\r\t\\"}"#, "\u{8}\u{C}\n\r\t\\"),
        ]
        for (line, text) in lines {
            #expect(EventReader.textEvent(Array(line.utf8)) == .text(text, channel: .content), "\(line)")
        }
    }

    @Test func everythingElseIsLeftToTheDecoder() throws {
        let done = try JSONEncoder().encode(GenerationEvent.done(Completion(reason: .stop)))
        let call = try JSONEncoder().encode(GenerationEvent.toolCall(ToolCall(id: "call_0", name: "f", arguments: "{}")))
        let others = [
            done, call,
            Data(#"{"type":"text","channel":"elsewhere","text":"a"}"#.utf8),  // unknown channel: the decoder's error
            Data(#"{"type":"text","text":"a\q"}"#.utf8),  // bad escape
            Data(#"{"type":"text","text":"\ud83d"}"#.utf8),  // lone surrogate
            Data(#"{"type":"text","text":"a"#.utf8),  // cut short
            Data(#"{"type":"text","text":"a"}x"#.utf8),  // trailing bytes
            Data("{\"type\":\"text\",\"text\":\"raw\nnewline\"}".utf8),  // unescaped control character
            Data(#"{"type":"text","text":"a","n":1}"#.utf8),  // a non-string value
            Data([0x7B, 0x22, 0x74, 0x22, 0x3A, 0x22, 0xFF, 0x22, 0x7D]),  // invalid UTF-8
        ]
        for line in others { #expect(EventReader.textEvent([UInt8](line)) == nil, "\(String(decoding: line, as: UTF8.self))") }
    }
}
