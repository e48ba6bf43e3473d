import Foundation
import HTTPTypes
import TestSupport
import Testing

/// `POST /v1/responses`: through the official `openai` Python client (Clients/responses_client.py, run by
/// OfficialClientsTests) on the real model: whole and streamed answers, the SDK's accumulating stream helper,
/// `responses.parse` with a Pydantic model, a required function call and the turn after it, log-probabilities,
/// and the refusal of stored state; over plain HTTP, the refusals of what the server cannot honour.
struct ResponsesAPITests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
        "Clients/responses_client.py"
    ).path

    /// What Clients/responses_client.py printed. OfficialClientsTests runs it after the chat clients, on the same
    /// gateway: a Python client waits on this process's own server, so only one may block a test thread at a time.
    static func check(_ result: [String: Any]) throws {
        let chatContent = try #require(result["chat_content"] as? String)

        let whole = try #require(result["whole"] as? [String: Any])
        #expect(whole["text"] as? String == chatContent, "the same question answers as in chat")
        #expect(whole["object"] as? String == "response" && (whole["id"] as? String)?.hasPrefix("resp_") == true)
        #expect(whole["item_types"] as? [String] == ["message"])
        #expect((whole["input_tokens"] as? Int ?? 0) > 0 && (whole["output_tokens"] as? Int ?? 0) > 0)
        let cut = whole["status"] as? String == "incomplete"
        #expect(cut == (whole["incomplete"] as? String == "max_output_tokens"))

        let stream = try #require(result["stream"] as? [String: Any])
        #expect(stream["text"] as? String == chatContent)
        let types = stream["types"] as? [String] ?? []
        #expect(
            Array(types.prefix(4)) == [
                "response.created", "response.in_progress", "response.output_item.added", "response.content_part.added",
            ])
        #expect(
            Array(types.suffix(4)) == [
                "response.output_text.done", "response.content_part.done", "response.output_item.done",
                cut ? "response.incomplete" : "response.completed",
            ])
        #expect(stream["sequence"] as? [Int] == Array(0..<types.count))

        let helper = try #require(result["helper"] as? [String: Any])
        #expect((helper["text"] as? String)?.isEmpty == false && helper["text"] as? String == helper["final_text"] as? String)

        let city = try #require(result["parsed"] as? [String: Any])
        #expect(city["name"] is String && city["coastal"] is Bool && (city["population"] as? Int ?? -1) >= 0)

        let calls = try #require(result["tool_call"] as? [[String: Any]])
        #expect(!calls.isEmpty && calls.allSatisfy { $0["name"] as? String == "get_weather" })
        #expect(calls.allSatisfy { (($0["arguments"] as? [String: Any])?["city"] as? String)?.isEmpty == false })
        let followUp = try #require(result["follow_up"] as? [String: Any])
        #expect((followUp["text"] as? String)?.isEmpty == false, "\(followUp)")

        let logprobs = try #require(result["logprobs"] as? [String: Any])
        #expect((logprobs["tokens"] as? [String])?.joined() == logprobs["text"] as? String)
        #expect((logprobs["top"] as? [Int])?.allSatisfy { $0 == 2 } == true)

        let refused = try #require(result["stateful_refused"] as? [String: Any])
        #expect(refused["status"] as? Int == 400 && refused["param"] as? String == "previous_response_id")
    }

    @Test func itemsAndFormatsTheServerCannotHonourAreRefusedByField() async throws {
        try await LiveGateway.with { base, _ in
            let cases: [(body: String, param: String)] = [
                (#""input": "Hi", "store": true"#, "store"),
                (#""input": "Hi", "tools": [{"type": "web_search"}]"#, "tools[0].type"),
                (#""input": [{"type": "item_reference", "id": "msg_1"}]"#, "input[0].type"),
                (#""input": [{"role": "user", "content": [{"type": "input_file", "file_id": "f"}]}]"#, "input[0].content"),
                (#""instructions": "Be brief.", "input": [{"role": "robot", "content": "Hi"}]"#, "input[0].role"),
                (#""input": "Hi", "include": ["reasoning.encrypted_content"]"#, "include[0]"),
                (#""input": "Hi", "text": {"format": {"type": "json_schema", "name": "x"}}"#, "text.format.schema"),
                (#""input": 3"#, "input"),
            ]
            for item in cases {
                let answer = try await LiveGateway.send(
                    .post, base + "/v1/responses", json: #"{"model": "smollm2", \#(item.body)}"#)
                #expect(answer.status == 400, "\(item.body): \(answer.body)")
                let error = (LogprobsTests.json(answer.body)["error"] as? [String: Any]) ?? [:]
                #expect(error["param"] as? String == item.param, "\(item.body): \(answer.body)")
            }
        }
    }
}
