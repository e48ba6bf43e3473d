internal import Engine
internal import Foundation
internal import NIOCore

/// A streamed Responses answer: typed server-sent events (`event: <type>` and `data: {..., "type", "sequence_number"}`).
/// `response.created` and `response.in_progress` open it; each output item is announced, filled and closed in
/// turn (reasoning text, the message's text, a function call); `response.completed` (or `response.incomplete`
/// when cut by `max_output_tokens`, `response.failed` on an error) ends it. There is no `[DONE]`.
struct ResponsesEventStream: StreamedAnswerEncoding {
    private enum Open {
        case reasoning(id: String, text: String)
        case message(id: String, text: String, logprobs: [TokenLogprob])
    }

    let answer: ResponsesAnswer
    let logprobsWanted: Bool
    private var sequence = 0
    private var output: [JSONValue] = []
    private var open: Open?
    private var calls = 0
    /// Tokens whose text has not been sent: they go with the next delta.
    private var logprobs: [TokenLogprob] = []

    init(_ answer: ResponsesAnswer, logprobs: Bool) {
        self.answer = answer
        logprobsWanted = logprobs
    }

    var contentType: String { "text/event-stream" }

    mutating func opening() -> ByteBuffer? {
        var buffer = ByteBuffer()
        let starting = answer.object(status: "in_progress", output: [])
        buffer.writeImmutableBuffer(event("response.created", ["response": starting]))
        buffer.writeImmutableBuffer(event("response.in_progress", ["response": starting]))
        return buffer
    }

    mutating func encode(_ generation: GenerationEvent) -> [ByteBuffer] {
        var events: [ByteBuffer] = []
        switch generation {
        case .text(let text, _) where text.isEmpty: break
        case .text(let text, .reasoning):
            if case .reasoning = open {} else { events += close() + openReasoning() }
            guard case .reasoning(let id, let sofar) = open else { break }
            open = .reasoning(id: id, text: sofar + text)
            events.append(event("response.reasoning_text.delta", part(id) + ["delta": .string(text)]))
        case .text(let text, .content):
            if case .message = open {} else { events += close() + openMessage() }
            guard case .message(let id, let sofar, let earlier) = open else { break }
            open = .message(id: id, text: sofar + text, logprobs: earlier + logprobs)
            events.append(
                event(
                    "response.output_text.delta",
                    part(id) + ["delta": .string(text), "logprobs": ResponsesAnswer.logprobs(logprobs)]))
            logprobs.removeAll()
        case .logprobs(let entries): logprobs += entries
        case .toolCall(let call):
            events += close()
            events += functionCall(call)
        case .done(let completion):
            if let error = OpenAIAdapter.failure(of: completion) { return [failed(error)] }
            events += close()
            let status = ResponsesAnswer.status(completion)
            events.append(
                event(
                    status == "completed" ? "response.completed" : "response.incomplete",
                    ["response": answer.object(status: status, output: output, completion: completion)]))
        }
        return events
    }

    func failure(_ error: (any Error)?) -> ByteBuffer {
        failed(error.map { OpenAIAdapter.failure(thrown: $0) } ?? OpenAIAdapter.incomplete)
    }

    var closing: ByteBuffer? { nil }

    // MARK: Items

    private mutating func openReasoning() -> [ByteBuffer] {
        let id = answer.itemID("rs", output.count)
        open = .reasoning(id: id, text: "")
        return [
            event(
                "response.output_item.added",
                ["output_index": index, "item": answer.reasoning(id, text: nil, status: "in_progress")]),
            event("response.content_part.added", part(id) + ["part": ResponsesAnswer.reasoningText("")]),
        ]
    }

    private mutating func openMessage() -> [ByteBuffer] {
        let id = answer.itemID("msg", output.count)
        open = .message(id: id, text: "", logprobs: [])
        return [
            event(
                "response.output_item.added",
                ["output_index": index, "item": answer.message(id, text: nil, logprobs: nil, status: "in_progress")]),
            event("response.content_part.added", part(id) + ["part": ResponsesAnswer.outputText("", logprobs: [])]),
        ]
    }

    /// The done events of the open item, which joins the output.
    private mutating func close() -> [ByteBuffer] {
        defer { open = nil }
        switch open {
        case nil: return []
        case .reasoning(let id, let text)?:
            let item = answer.reasoning(id, text: text, status: "completed")
            defer { output.append(item) }
            return [
                event("response.reasoning_text.done", part(id) + ["text": .string(text)]),
                event("response.content_part.done", part(id) + ["part": ResponsesAnswer.reasoningText(text)]),
                event("response.output_item.done", ["output_index": index, "item": item]),
            ]
        case .message(let id, let text, let entries)?:
            let kept = logprobsWanted ? entries : nil
            let item = answer.message(id, text: text, logprobs: kept, status: "completed")
            defer { output.append(item) }
            return [
                event(
                    "response.output_text.done",
                    part(id) + ["text": .string(text), "logprobs": ResponsesAnswer.logprobs(entries)]),
                event("response.content_part.done", part(id) + ["part": ResponsesAnswer.outputText(text, logprobs: kept)]),
                event("response.output_item.done", ["output_index": index, "item": item]),
            ]
        }
    }

    /// A call arrives whole: announced with empty arguments, then its arguments in one delta, then done.
    private mutating func functionCall(_ call: ToolCall) -> [ByteBuffer] {
        let id = answer.itemID("fc", output.count)
        let callID = answer.callID(calls)
        calls += 1
        let item = answer.functionCall(id, callID: callID, call, arguments: call.arguments, status: "completed")
        defer { output.append(item) }
        let position: [String: JSONValue] = ["item_id": .string(id), "output_index": index]
        return [
            event(
                "response.output_item.added",
                [
                    "output_index": index,
                    "item": answer.functionCall(id, callID: callID, call, arguments: "", status: "in_progress"),
                ]),
            event("response.function_call_arguments.delta", position + ["delta": .string(call.arguments)]),
            event("response.function_call_arguments.done", position + ["arguments": .string(call.arguments)]),
            event("response.output_item.done", ["output_index": index, "item": item]),
        ]
    }

    // MARK: Events

    /// Where the open item's first content part is.
    private var index: JSONValue { .integer(Int64(output.count)) }

    private func part(_ id: String) -> [String: JSONValue] {
        ["item_id": .string(id), "output_index": index, "content_index": .integer(0)]
    }

    private mutating func event(_ type: String, _ fields: [String: JSONValue]) -> ByteBuffer {
        defer { sequence += 1 }
        return Self.event(type, fields, sequence: sequence)
    }

    private func failed(_ error: APIError) -> ByteBuffer {
        Self.event(
            "response.failed", ["response": answer.object(status: "failed", output: output, error: error)],
            sequence: sequence)
    }

    private static func event(_ type: String, _ fields: [String: JSONValue], sequence: Int) -> ByteBuffer {
        var object = fields
        object["type"] = .string(type)
        object["sequence_number"] = .integer(Int64(sequence))
        var buffer = ByteBuffer(string: "event: \(type)\n")
        // A JSON value holds only what JSON can: encoding it cannot fail.
        buffer.writeImmutableBuffer(OpenAIResponses.event((try? OpenAIResponses.encode(JSONValue.object(object))) ?? Data()))
        return buffer
    }
}

extension Dictionary where Key == String, Value == JSONValue {
    fileprivate static func + (lhs: Self, rhs: Self) -> Self { lhs.merging(rhs) { _, new in new } }
}
