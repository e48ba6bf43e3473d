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

/// An answer as server-sent events: a transcoder's chunks, then `data: [DONE]` whether the generation finished
/// or failed (a failure is sent as an error event first).
struct OpenAIEventStream<Transcoder: OpenAIStreamTranscoding>: StreamedAnswerEncoding {
    private var transcoder: Transcoder
    private var texts: OpenAITextEvents<Transcoder>

    init(_ transcoder: Transcoder) {
        self.transcoder = transcoder
        texts = OpenAITextEvents(preparingFor: transcoder)
    }

    var contentType: String { "text/event-stream" }

    mutating func opening() -> ByteBuffer? {
        transcoder.opening().flatMap { try? OpenAIResponses.event(OpenAIResponses.encode($0)) }
    }

    mutating func encode(_ event: GenerationEvent) -> [ByteBuffer] {
        if case .text(let text, let channel) = event, !text.isEmpty, !transcoder.holdsLogprobs,
            let event = texts.event(text, channel: channel, of: transcoder)
        {
            return [event]
        }
        return transcoder.items(for: event).map { item in
            switch item {
            // The chunk types hold strings, numbers and optionals only: encoding them cannot fail.
            case .chunk(let chunk): (try? OpenAIResponses.encode(chunk)).map(OpenAIResponses.event) ?? ByteBuffer()
            case .error(let error): OpenAIResponses.event(error.bodyData)
            }
        }
    }

    func failure(_ error: (any Error)?) -> ByteBuffer {
        // Thrown: the engine or its worker failed without a `done`. Ended: a client must not take it for an answer.
        OpenAIResponses.event((error.map { OpenAIAdapter.failure(thrown: $0) } ?? OpenAIAdapter.incomplete).bodyData)
    }

    var closing: ByteBuffer? { OpenAIResponses.done }
}
