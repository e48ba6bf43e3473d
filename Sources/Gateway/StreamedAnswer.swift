internal import Engine
internal import Hummingbird
internal import NIOCore

/// What a streamed answer's body is made of, event by event, in one API's format (OpenAI's SSE, Ollama's
/// NDJSON). Both ways of streaming use it: a route's response body (`StreamedAnswer.response`) and the
/// connection-level path of `StreamedGenerationHandler`, so the bytes are the same either way.
protocol StreamedAnswerEncoding: Sendable {
    var contentType: String { get }
    /// Sent with the head, before the engine produces anything (OpenAI chat's role chunk).
    mutating func opening() -> ByteBuffer?
    /// One event's bytes (none for an empty delta). After `done` nothing else is encoded but `closing`.
    mutating func encode(_ event: GenerationEvent) -> [ByteBuffer]
    /// The last event of an answer that failed after its 200 went out: `error` thrown by the engine, or nil
    /// when the events ended without `done` (a worker that went away).
    func failure(_ error: (any Error)?) -> ByteBuffer
    /// Sent last, after `done` or a failure (`data: [DONE]`).
    var closing: ByteBuffer? { get }
}

enum StreamedAnswer {
    /// The response that streams `events` through `encoder`. The loop runs inside the response body, so when
    /// the client goes away the failed write ends it, which drops `events` and cancels the generation;
    /// nothing outlives the response.
    static func response(
        _ events: some AsyncSequence<GenerationEvent, any Error> & Sendable, through encoder: some StreamedAnswerEncoding
    ) -> Response {
        Response(
            status: .ok, headers: [.contentType: encoder.contentType, .cacheControl: "no-cache"],
            body: ResponseBody { writer in try await write(events, through: encoder, to: &writer) })
    }

    static func write(
        _ events: some AsyncSequence<GenerationEvent, any Error> & Sendable, through encoder: some StreamedAnswerEncoding,
        to writer: inout any ResponseBodyWriter
    ) async throws {
        var encoder = encoder
        if let opening = encoder.opening() { try await writer.write(opening) }
        var iterator = events.makeAsyncIterator()
        while true {
            let next: GenerationEvent?
            do {
                next = try await iterator.next()
            } catch {
                try await writer.write(encoder.failure(error))
                break
            }
            guard let next else {
                try await writer.write(encoder.failure(nil))
                break
            }
            for buffer in encoder.encode(next) { try await writer.write(buffer) }
            if case .done = next { break }
        }
        if let closing = encoder.closing { try await writer.write(closing) }
        try await writer.finish(nil)
    }
}
