import Foundation
import HTTPTypes
import NIOCore
import TestSupport
import Testing

/// `tool_choice: required` and a named function, with the real SmolLM2: the answer is always a call to a
/// declared tool whose arguments validate against its `parameters` schema (Python's `jsonschema`), whole and
/// streamed; and through a worker process.
struct ToolChoiceTests {
    static let weather = #"""
        {"type": "object", "properties": {"city": {"type": "string", "minLength": 2, "maxLength": 30},
         "unit": {"enum": ["celsius", "fahrenheit"]}, "days": {"type": "integer", "minimum": 0}},
         "required": ["city", "unit"], "additionalProperties": false}
        """#
    static let time = #"""
        {"type": "object", "properties": {"zone": {"$ref": "#/$defs/zone"}}, "required": ["zone"],
         "$defs": {"zone": {"type": "string", "pattern": "^[A-Z][a-z]+/[A-Z][a-z]+$"}}}
        """#
    static let tools =
        #"[{"type": "function", "function": {"name": "get_weather", "description": "Weather for a city", "parameters": \#(weather)}}, {"type": "function", "function": {"name": "get_time", "description": "Local time in a zone", "parameters": \#(time)}}]"#

    static func body(_ user: String, choice: String, parallel: Bool = true, stream: Bool = false) -> String {
        #"{"model": "smollm2", "messages": [{"role": "user", "content": "\#(user)"}], "tools": \#(tools), "tool_choice": \#(choice), "parallel_tool_calls": \#(parallel), "temperature": 0, "max_tokens": 100, "stream": \#(stream)}"#
    }

    /// The calls of an answer: (name, arguments text) from `message.tool_calls`, or from streamed deltas.
    static func calls(_ body: String, streamed: Bool) -> (calls: [(String, String)], finish: String?) {
        if !streamed {
            let choice = (LogprobsTests.json(body)["choices"] as? [[String: Any]])?.first ?? [:]
            let calls = ((choice["message"] as? [String: Any])?["tool_calls"] as? [[String: Any]] ?? []).map { call in
                let function = call["function"] as? [String: Any] ?? [:]
                return (function["name"] as? String ?? "", function["arguments"] as? String ?? "")
            }
            return (calls, choice["finish_reason"] as? String)
        }
        let choices = LogprobsTests.events([body]).compactMap { ($0["choices"] as? [[String: Any]])?.first }
        let calls = choices.flatMap { ($0["delta"] as? [String: Any])?["tool_calls"] as? [[String: Any]] ?? [] }.map { call in
            let function = call["function"] as? [String: Any] ?? [:]
            return (function["name"] as? String ?? "", function["arguments"] as? String ?? "")
        }
        return (calls, choices.compactMap { $0["finish_reason"] as? String }.last)
    }

    @Test func requiredAndNamedCallsValidate() async throws {
        try await LiveGateway.with { base, _ in
            let schemas = [
                "get_weather": try JSONSerialization.jsonObject(with: Data(Self.weather.utf8)),
                "get_time": try JSONSerialization.jsonObject(with: Data(Self.time.utf8)),
            ]
            var answers: [[String: Any]] = []
            // `parallel`: the model may go on calling tools; with false the answer is exactly one call.
            let cases: [(user: String, choice: String, parallel: Bool, only: String?)] = [
                ("What is the weather in Paris?", #""required""#, true, nil),
                ("Hello there!", #""required""#, false, nil),
                ("What is the weather in Oslo?", #"{"type": "function", "function": {"name": "get_time"}}"#, true, "get_time"),
                ("Tell me a joke.", #"{"type": "function", "function": {"name": "get_weather"}}"#, true, "get_weather"),
            ]
            for item in cases {
                for stream in [false, true] {
                    let body = Self.body(item.user, choice: item.choice, parallel: item.parallel, stream: stream)
                    let text: String
                    // Long deadlines: every gateway suite shares this engine, and a full test run keeps it busy.
                    if stream {
                        let answer = try await LiveGateway.stream(
                            base + "/v1/chat/completions", json: body, timeout: .seconds(600))
                        #expect(answer.status == 200)
                        text = answer.chunks.joined()
                    } else {
                        let answer = try await LiveGateway.send(
                            .post, base + "/v1/chat/completions", json: body, timeout: .seconds(600))
                        #expect(answer.status == 200, "\(answer.body)")
                        text = answer.body
                    }
                    let (calls, finish) = Self.calls(text, streamed: stream)
                    let context = "\(item.user) \(item.choice) parallel=\(item.parallel) stream=\(stream)"
                    #expect(!calls.isEmpty, "\(context): no tool call in \(text)")
                    if item.parallel && item.only == nil {
                        // The model may call until the token limit; every call it finished counts.
                        #expect(
                            finish == "tool_calls" || (finish == "length" && calls.count > 1),
                            "\(context): finish_reason \(finish ?? "none") after \(calls.count) calls: \(text)")
                    } else {
                        #expect(calls.count == 1, "\(context): \(calls.count) calls in \(text)")
                        #expect(finish == "tool_calls", "\(context): finish_reason \(finish ?? "none") in \(text)")
                    }
                    for (name, arguments) in calls {
                        if let only = item.only { #expect(name == only, "\(context): called \(name)") }
                        guard let schema = schemas[name] else {
                            Issue.record("\(context): called an undeclared tool '\(name)'")
                            continue
                        }
                        answers.append(["name": "\(context) \(name)", "schema": schema, "answer": arguments])
                    }
                }
            }
            try await StructuredOutputTests.expectValid(answers)
        }
    }

    /// Through a worker process (the one every gateway suite shares): the tool choice crosses the worker's API.
    @Test func aNamedCallThroughAWorkerProcess() async throws {
        try await LiveGateway.with(backend: .workerProcess) { base, _ in
            let body = Self.body(
                "What is the weather in Paris?", choice: #"{"type": "function", "function": {"name": "get_weather"}}"#,
                stream: true)
            // A long deadline: on a loaded machine the shared worker may take minutes.
            let answer = try await LiveGateway.stream(base + "/v1/chat/completions", json: body, timeout: .seconds(600))
            let text = answer.chunks.joined()
            #expect(answer.status == 200, "\(text)")
            let (calls, finish) = Self.calls(text, streamed: true)
            #expect(calls.map(\.0) == ["get_weather"] && finish == "tool_calls", "\(text)")
            let arguments = calls.first.flatMap { try? JSONSerialization.jsonObject(with: Data($0.1.utf8)) as? [String: Any] }
            #expect(arguments?["city"] is String && ["celsius", "fahrenheit"].contains(arguments?["unit"] as? String))
        }
    }

    @Test func requiredWithoutToolsIsRefused() async throws {
        try await LiveGateway.with { base, _ in
            let answer = try await LiveGateway.send(
                .post, base + "/v1/chat/completions",
                json: #"{"model": "smollm2", "messages": [{"role": "user", "content": "Hi"}], "tool_choice": "required"}"#)
            #expect(answer.status == 400 && answer.body.contains("tool_choice"), "\(answer.body)")
        }
    }
}
