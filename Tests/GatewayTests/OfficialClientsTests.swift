import Foundation
import TestSupport
import Testing

/// The official `openai` and `ollama` Python packages (installed into .deps/ by `make setup`) against the
/// gateway on the real model: what users' tools parse is what matters.
struct OfficialClientsTests {
    static let python = LiveGateway.packageRoot + "/.deps/venv/bin/python"
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
        "Clients/official_clients.py"
    ).path

    @Test func officialClientsParseWhatTheGatewaySends() async throws {
        try await LiveGateway.with { base, _ in
            let script = try await PythonScript.run(Self.python, [Self.script, base])
            #expect(script.status == 0, "\(script.stderr)")
            let result = try #require(script.json, "\(script.stderr)")

            let chat = try #require(result["openai_chat"] as? [String: Any])
            let content = try #require(chat["content"] as? String)
            #expect(content.contains("Paris"))
            #expect(chat["model"] as? String == "smollm2")
            #expect((chat["prompt_tokens"] as? Int ?? 0) > 0 && (chat["completion_tokens"] as? Int ?? 0) > 0)
            let stream = try #require(result["openai_stream"] as? [String: Any])
            #expect(stream["content"] as? String == content)
            #expect(stream["completion_tokens"] as? Int == chat["completion_tokens"] as? Int)
            #expect(result["openai_models"] as? [String] == ["default", "smollm2", "smollm2-135m-instruct"])
            #expect((result["openai_embeddings"] as? [Int])?.count == 2)
            #expect(((result["openai_embeddings"] as? [Int])?.first ?? 0) > 0)
            #expect((result["openai_completion"] as? String)?.isEmpty == false)
            #expect(result["openai_not_found"] as? Int == 404)

            let ollamaChat = try #require(result["ollama_chat"] as? [String: Any])
            #expect(ollamaChat["content"] as? String == content)
            #expect((ollamaChat["eval_count"] as? Int ?? 0) > 0)
            #expect(result["ollama_stream"] as? String == content)
            #expect((result["ollama_tags"] as? [String])?.contains("smollm2-135m-instruct:latest") == true)
            let show = try #require(result["ollama_show"] as? [String: Any])
            #expect((show["capabilities"] as? [String])?.contains("completion") == true)
            #expect((result["ollama_generate"] as? [String: Any])?["done"] as? Bool == true)
            #expect((result["ollama_embed"] as? [Int])?.count == 2)
            #expect(result["ollama_not_found"] as? Int == 404)
            // Pydantic models through `chat.completions.parse` and Ollama's `format=`: the clients parsed them.
            for key in ["openai_parse", "ollama_format"] {
                let city = try #require(result[key] as? [String: Any], "\(key)")
                #expect(city["name"] is String && city["coastal"] is Bool && (city["population"] as? Int ?? -1) >= 0)
            }

            let responses = try await PythonScript.run(Self.python, [ResponsesAPITests.script, base])
            #expect(responses.status == 0, "\(responses.stderr)")
            try ResponsesAPITests.check(try #require(responses.json, "\(responses.stderr)"))
        }
    }
}
