import Foundation
import HTTPTypes
import TestSupport
import Testing

/// JSON that fits a schema, from the real SmolLM2 through both APIs: every answer of a corpus of schemas
/// (Schemas/corpus.json) must parse and validate with Python's `jsonschema` (Clients/validate_schemas.py, the
/// schema's own draft and format checker); keywords the grammar cannot enforce are refused by name.
struct StructuredOutputTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()

    struct Case {
        var name: String
        var prompt: String
        var schema: Any
        var schemaText: String
    }

    static func corpus(_ file: String) throws -> [[String: Any]] {
        let data = try Data(contentsOf: directory.appendingPathComponent("Schemas/\(file)"))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [[String: Any]])
    }

    static func text(_ value: Any) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed]), as: UTF8.self)
    }

    /// The content of an OpenAI answer, whole or streamed (deltas joined), and its finish reason.
    static func openAIContent(_ body: String) -> (String?, String?) {
        let json = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
        let choice = (json?["choices"] as? [[String: Any]])?.first
        return ((choice?["message"] as? [String: Any])?["content"] as? String, choice?["finish_reason"] as? String)
    }

    static func streamedContent(_ chunks: [String]) -> String {
        chunks.joined().split(separator: "\n").compactMap { line -> String? in
            guard line.hasPrefix("data: {"),
                let json = try? JSONSerialization.jsonObject(with: Data(line.dropFirst(6).utf8)) as? [String: Any]
            else { return nil }
            let delta = ((json["choices"] as? [[String: Any]])?.first?["delta"] as? [String: Any])
            return delta?["content"] as? String
        }.joined()
    }

    @Test func everyAnswerValidatesAgainstItsSchema() async throws {
        #expect(try Self.corpus("corpus.json").count >= 25)
        try await LiveGateway.with { base, _ in
            let cases = try Self.corpus("corpus.json")
            var answers: [[String: Any]] = []
            for (index, item) in cases.enumerated() {
                let name = try #require(item["name"] as? String)
                let prompt = try #require(item["prompt"] as? String)
                let schema = try #require(item["schema"])
                let schemaText = try Self.text(schema)
                let messages = #"[{"role": "user", "content": \#(try Self.text(prompt))}]"#
                let format =
                    #""response_format": {"type": "json_schema", "json_schema": {"name": "out", "strict": true, "schema": \#(schemaText)}}"#
                let body = #"{"model": "smollm2", "messages": \#(messages), "temperature": 0, "max_tokens": 400, \#(format)"#
                let whole = try await LiveGateway.send(.post, base + "/v1/chat/completions", json: body + "}")
                #expect(whole.status == 200, "\(name): \(whole.body)")
                let (content, finish) = Self.openAIContent(whole.body)
                #expect(finish == "stop", "\(name): the answer was cut (\(finish ?? "none"))")
                answers.append(["name": name, "schema": schema, "answer": content ?? ""])
                // A share of the corpus also streamed, and through Ollama's `format`.
                if index % 3 == 0 {
                    let streamed = try await LiveGateway.stream(
                        base + "/v1/chat/completions", json: body + #", "stream": true}"#)
                    #expect(streamed.status == 200)
                    let text = Self.streamedContent(streamed.chunks)
                    #expect(text == content, "\(name): the stream differs from the whole answer")
                    answers.append(["name": "\(name) (streamed)", "schema": schema, "answer": text])
                }
                if index % 3 == 1 {
                    let ollama = try await LiveGateway.send(
                        .post, base + "/api/chat",
                        json:
                            #"{"model": "smollm2", "messages": \#(messages), "stream": false, "format": \#(schemaText), "options": {"temperature": 0, "num_predict": 400}}"#
                    )
                    #expect(ollama.status == 200, "\(name): \(ollama.body)")
                    let json = try? JSONSerialization.jsonObject(with: Data(ollama.body.utf8)) as? [String: Any]
                    let text = (json?["message"] as? [String: Any])?["content"] as? String ?? ""
                    answers.append(["name": "\(name) (ollama)", "schema": schema, "answer": text])
                }
            }
            try await Self.expectValid(answers)
        }
    }

    @Test func keywordsTheGrammarCannotEnforceAreRefusedByName() async throws {
        try await LiveGateway.with { base, _ in
            let cases = try Self.corpus("unsupported.json")
            for (index, item) in cases.enumerated() {
                let keyword = try #require(item["keyword"] as? String)
                let schemaText = try Self.text(try #require(item["schema"]))
                let answer: (status: Int, headers: [String: String], body: String)
                if index % 2 == 0 {
                    answer = try await LiveGateway.send(
                        .post, base + "/v1/chat/completions",
                        json:
                            #"{"model": "smollm2", "messages": [{"role": "user", "content": "Hi"}], "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": \#(schemaText)}}}"#
                    )
                } else {
                    answer = try await LiveGateway.send(
                        .post, base + "/api/generate",
                        json: #"{"model": "smollm2", "prompt": "Hi", "stream": false, "format": \#(schemaText)}"#)
                }
                #expect(answer.status == 400, "\(keyword): \(answer.body)")
                #expect(answer.body.contains("'\(keyword)'"), "\(keyword): \(answer.body)")
            }
        }
    }

    /// Every answer (`name`, `schema`, `answer` as JSON text) parses and validates, by Python's `jsonschema`.
    static func expectValid(_ answers: [[String: Any]]) async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("answers-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: file) }
        try JSONSerialization.data(withJSONObject: answers).write(to: file)
        let result = try await validate(file)
        #expect(result["checked"] as? Int == answers.count)
        let failures = result["failures"] as? [[String: Any]] ?? []
        #expect(failures.isEmpty, "\(failures)")
    }

    static func validate(_ file: URL) async throws -> [String: Any] {
        let script = try await PythonScript.run(
            OfficialClientsTests.python, [directory.appendingPathComponent("Clients/validate_schemas.py").path, file.path])
        #expect(script.status == 0, "\(script.stderr)")
        return try #require(script.json, "\(script.stderr)")
    }
}
