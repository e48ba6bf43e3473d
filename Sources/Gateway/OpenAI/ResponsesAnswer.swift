internal import Engine
internal import Foundation

/// A `response` object and its output items, built as JSON values: the same builders serve the whole
/// answer and the objects a stream sends (`response.created`, items as they open and close, `response.completed`).
struct ResponsesAnswer: Sendable {
    /// `resp_…`; item ids share its random suffix.
    let id: String
    let created: Int
    /// The name the client asked for.
    let model: String
    /// What the response object repeats from the request, as sent.
    let echo: [String: JSONValue]

    init(_ r: ResponsesRequest, model: String) {
        let suffix = OpenAIEnvelope.randomSuffix()
        id = "resp_\(suffix)"
        created = Int(Date().timeIntervalSince1970)
        self.model = model
        var echo: [String: JSONValue] = [
            "instructions": r.instructions.map(JSONValue.string) ?? .null,
            "max_output_tokens": r.maxOutputTokens.map(JSONValue.integer) ?? .null,
            "metadata": r.metadata ?? .object([:]),
            "parallel_tool_calls": .bool(r.parallelToolCalls ?? true),
            "previous_response_id": .null,
            "reasoning": .object(["effort": r.reasoning?["effort"] ?? .null, "summary": .null]),
            "store": .bool(false),
            "temperature": r.sampling.temperature.map(JSONValue.number) ?? .null,
            "text": .object(["format": r.text?["format"] ?? .object(["type": .string("text")])]),
            "tool_choice": r.toolChoice ?? .string("auto"),
            "tools": r.tools ?? .array([]),
            "top_p": r.sampling.topP.map(JSONValue.number) ?? .null,
            "truncation": .string("disabled"),
        ]
        if let top = r.topLogprobs { echo["top_logprobs"] = .integer(top) }
        self.echo = echo
    }

    /// Ids of output items: `msg_…`, `rs_…`, `fc_…`, numbered in output order.
    func itemID(_ prefix: String, _ index: Int) -> String { "\(prefix)_\(id.dropFirst(5))_\(index)" }

    /// Function-call ids as chat answers them, so a client can mix the two APIs.
    func callID(_ index: Int) -> String { "call_\(id.dropFirst(5))_\(index)" }

    /// The response object. `status`: in_progress, completed, incomplete or failed.
    func object(status: String, output: [JSONValue], completion: Completion? = nil, error: APIError? = nil) -> JSONValue {
        var object = echo
        object["id"] = .string(id)
        object["object"] = .string("response")
        object["created_at"] = .integer(Int64(created))
        object["model"] = .string(model)
        object["status"] = .string(status)
        object["output"] = .array(output)
        object["error"] = error.map { .object(["code": .string($0.code ?? $0.type), "message": .string($0.message)]) } ?? .null
        object["incomplete_details"] =
            completion?.reason == .length ? .object(["reason": .string("max_output_tokens")]) : .null
        object["usage"] = completion.map { Self.usage($0.usage) } ?? .null
        if status == "completed" || status == "incomplete" {
            object["completed_at"] = .integer(Int64(Date().timeIntervalSince1970))
        }
        return .object(object)
    }

    static func usage(_ usage: Usage) -> JSONValue {
        .object([
            "input_tokens": .integer(Int64(usage.promptTokens)),
            "input_tokens_details": .object(["cached_tokens": .integer(Int64(usage.cachedPromptTokens))]),
            "output_tokens": .integer(Int64(usage.completionTokens)),
            "total_tokens": .integer(Int64(usage.promptTokens + usage.completionTokens)),
        ])
    }

    /// A finished generation's status: `incomplete` when it was cut by `max_output_tokens`.
    static func status(_ completion: Completion) -> String { completion.reason == .length ? "incomplete" : "completed" }

    // MARK: Items

    func message(_ id: String, text: String?, logprobs: [TokenLogprob]?, status: String) -> JSONValue {
        .object([
            "id": .string(id), "type": .string("message"), "role": .string("assistant"), "status": .string(status),
            "content": .array(text.map { [Self.outputText($0, logprobs: logprobs)] } ?? []),
        ])
    }

    static func outputText(_ text: String, logprobs: [TokenLogprob]?) -> JSONValue {
        var part: [String: JSONValue] = ["type": .string("output_text"), "text": .string(text), "annotations": .array([])]
        if let logprobs { part["logprobs"] = Self.logprobs(logprobs) }
        return .object(part)
    }

    func reasoning(_ id: String, text: String?, status: String) -> JSONValue {
        .object([
            "id": .string(id), "type": .string("reasoning"), "summary": .array([]), "status": .string(status),
            "content": .array(text.map { [Self.reasoningText($0)] } ?? []),
        ])
    }

    static func reasoningText(_ text: String) -> JSONValue {
        .object(["type": .string("reasoning_text"), "text": .string(text)])
    }

    func functionCall(_ id: String, callID: String, _ call: ToolCall, arguments: String, status: String) -> JSONValue {
        .object([
            "id": .string(id), "type": .string("function_call"), "call_id": .string(callID), "name": .string(call.name),
            "arguments": .string(arguments), "status": .string(status),
        ])
    }

    /// `[{token, logprob, bytes, top_logprobs: [{token, logprob, bytes}]}]`.
    static func logprobs(_ entries: [TokenLogprob]) -> JSONValue {
        func candidate(_ c: TokenLogprob.Candidate) -> [String: JSONValue] {
            ["token": .string(c.token), "logprob": .number(c.logprob), "bytes": .array(c.bytes.map { .integer(Int64($0)) })]
        }
        return .array(
            entries.map { entry in
                var object = candidate(entry.sampled)
                object["top_logprobs"] = .array(entry.top.map { .object(candidate($0)) })
                return .object(object)
            })
    }

    // MARK: Whole answer

    /// The non-streamed answer: reasoning, then the message, then the function calls.
    func whole(_ answer: OpenAICollectedAnswer, logprobs wanted: Bool) throws(APIError) -> JSONValue {
        if let error = OpenAIAdapter.failure(of: answer.completion) { throw error }
        let completion = answer.completion ?? Completion(reason: .stop)
        var output: [JSONValue] = []
        if !answer.reasoning.isEmpty {
            output.append(reasoning(itemID("rs", output.count), text: answer.reasoning, status: "completed"))
        }
        if !answer.content.isEmpty || answer.toolCalls.isEmpty {
            output.append(
                message(
                    itemID("msg", output.count), text: answer.content, logprobs: wanted ? answer.logprobs : nil,
                    status: Self.status(completion)))
        }
        for (index, call) in answer.toolCalls.enumerated() {
            output.append(
                functionCall(
                    itemID("fc", output.count), callID: callID(index), call, arguments: call.arguments, status: "completed"))
        }
        return object(status: Self.status(completion), output: output, completion: completion)
    }
}
