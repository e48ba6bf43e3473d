import Engine
import Foundation
import Hummingbird
import NIOCore
import Testing

@testable import Gateway

/// How a stream that fails after its 200 ends: with one `{"error": ...}` line, never a truncated body.
@Suite struct OllamaStreamTests {
    /// Keeps what the route writes.
    final class Collected: @unchecked Sendable {
        var text = ""
        var finished = false
    }

    struct CollectingWriter: ResponseBodyWriter {
        let collected: Collected
        mutating func write(_ buffer: ByteBuffer) async throws { collected.text += String(buffer: buffer) }
        consuming func finish(_ trailingHeaders: HTTPFields?) async throws { collected.finished = true }
    }

    func written(_ events: [GenerationEvent], failing error: (any Error)? = nil, shape: OllamaGenerationRoutes.Shape)
        async throws -> [String]
    {
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: GenerationEvent.self)
        for event in events { continuation.yield(event) }
        continuation.finish(throwing: error)
        let collected = Collected()
        var writer: any ResponseBodyWriter = CollectingWriter(collected: collected)
        try await StreamedAnswer.write(
            stream, through: OllamaEventStream(shape: shape, model: "m", started: .now), to: &writer)
        #expect(collected.finished)
        return collected.text.split(separator: "\n").map(String.init)
    }

    @Test func anEngineFailureMidStreamIsTheLastLine() async throws {
        let lines = try await written(
            [
                .text("Hel", channel: .content),
                .done(Completion(reason: .error, error: EngineError(.decodeFailed, "llama_decode returned -3"))),
            ], shape: .chat)
        #expect(lines.count == 2)
        #expect(lines.first?.contains(#""content":"Hel""#) == true)
        #expect(lines.last == #"{"error":"llama_decode returned -3"}"#)
    }

    @Test func aWorkerThatStopsAnsweringIsTheLastLine() async throws {
        let lines = try await written(
            [.text("Once", channel: .content)], failing: EngineError(.unavailable, "worker smollm2 exited"), shape: .generate)
        #expect(lines.count == 2)
        #expect(lines.first?.contains(#""response":"Once""#) == true)
        #expect(lines.last == #"{"error":"worker smollm2 exited"}"#)
    }

    @Test func aStreamWithoutAnEndSaysSo() async throws {
        let lines = try await written([.text("x", channel: .content)], shape: .generate)
        #expect(lines.last == #"{"error":"the generation ended without a final answer"}"#)
    }

    @Test func emptyDeltasAreNotSent() async throws {
        let lines = try await written(
            [.text("", channel: .content), .text("a", channel: .reasoning), .done(Completion(reason: .stop))], shape: .generate)
        #expect(lines.count == 2)
        #expect(lines.first?.contains(#""response":"","thinking":"a""#) == true)
        #expect(lines.last?.contains(#""done":true,"done_reason":"stop""#) == true)
    }
}
