internal import Engine
internal import Foundation
internal import Hummingbird
internal import NIOCore

/// HTTP bodies of the OpenAI surface: JSON objects and server-sent events.
enum OpenAIResponses {
    static func encode(_ value: some Encodable) throws -> Data {
        let encoder = JSONEncoder()
        // Sorted keys: answers are byte-for-byte reproducible, which the golden tests rely on.
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(value)
    }

    static func json(_ value: some Encodable) throws -> Response {
        Response(
            status: .ok, headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: try encode(value))))
    }

    /// `data: <json>\n\n`.
    static func event(_ json: Data) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(json.count + 8)
        buffer.writeString("data: ")
        buffer.writeBytes(json)
        buffer.writeString("\n\n")
        return buffer
    }

    static let done = ByteBuffer(string: "data: [DONE]\n\n")

    /// Streams `events` as SSE through `transcoder`, ending with `data: [DONE]` whether the generation
    /// finished or failed (a failure is sent as an error event first). The loop runs inside the response body,
    /// so when the client goes away the failed write ends it, which drops `events` and cancels the generation;
    /// nothing outlives the response.
    static func stream<T: OpenAIStreamTranscoding>(
        _ events: some AsyncSequence<GenerationEvent, any Error> & Sendable, through transcoder: T
    ) -> Response {
        Response(
            status: .ok,
            headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"],
            body: ResponseBody { writer in
                var transcoder = transcoder
                var texts = OpenAITextEvents(preparingFor: transcoder)
                if let first = transcoder.opening() { try await writer.write(event(try encode(first))) }
                var iterator = events.makeAsyncIterator()
                var finished = false
                while !finished {
                    let next: GenerationEvent?
                    do {
                        next = try await iterator.next()
                    } catch {
                        // The engine or its worker failed without a `done`: say so, then end cleanly.
                        try await writer.write(event(OpenAIAdapter.failure(thrown: error).bodyData))
                        break
                    }
                    guard let next else {
                        // Ended without `done` (a worker that went away): a client must not take this for an answer.
                        try await writer.write(event(OpenAIAdapter.incomplete.bodyData))
                        break
                    }
                    if case .text(let text, let channel) = next, !text.isEmpty,
                        let event = texts.event(text, channel: channel, of: transcoder)
                    {
                        try await writer.write(event)
                        continue
                    }
                    if case .done = next { finished = true }
                    for item in transcoder.items(for: next) {
                        switch item {
                        case .chunk(let chunk): try await writer.write(event(try encode(chunk)))
                        case .error(let error): try await writer.write(event(error.bodyData))
                        }
                    }
                }
                try await writer.write(done)
                try await writer.finish(nil)
            })
    }

    /// Reads a whole generation for a non-streaming answer.
    static func collect(_ events: some AsyncSequence<GenerationEvent, any Error> & Sendable) async throws(APIError)
        -> OpenAICollectedAnswer
    {
        var answer = OpenAICollectedAnswer()
        do {
            for try await event in events { answer.add(event) }
        } catch {
            throw OpenAIAdapter.failure(thrown: error)
        }
        return answer
    }
}
