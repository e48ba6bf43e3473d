import AsyncHTTPClient
import Engine
import Foundation
import Hummingbird
import NIOCore
import NIOHTTP1
import Testing

@testable import Gateway

/// The Ollama surface over real sockets, in front of the real SmolLM2 model. Answers are kept short.
@Suite(.serialized) struct OllamaLiveTests {
    let name = "smollm2-135m-instruct"

    @Test func rootVersionAndHead() async throws {
        try await LiveGateway.with(apis: [.ollama]) { base, _ in
            let root = try await LiveGateway.send(.get, base + "/")
            #expect(root.status == 200)
            #expect(root.body == "Ollama is running")
            #expect(try await LiveGateway.send(.head, base + "/").status == 200)
            let version = try await LiveGateway.send(.get, base + "/api/version")
            #expect(version.status == 200)
            #expect(version.body == #"{"version":"0.1.0-test"}"#)
            #expect(try await LiveGateway.send(.head, base + "/api/version").status == 200)
            #expect(try await LiveGateway.send(.head, base + "/api/tags").status == 200)
        }
    }

    @Test func tagsShowAndPs() async throws {
        try await LiveGateway.with(apis: [.ollama]) { base, _ in
            let tags = try OllamaTest.object(try await LiveGateway.send(.get, base + "/api/tags").body)
            let models = try #require(tags["models"] as? [[String: Any]])
            #expect(models.count == 1, "aliases resolve but are not listed")
            let model = try #require(models.first)
            #expect(model["name"] as? String == "smollm2-135m-instruct:latest")
            #expect(model["model"] as? String == "smollm2-135m-instruct:latest")
            #expect((model["size"] as? Int ?? 0) > 1_000_000)
            #expect((model["digest"] as? String)?.count == 64)
            #expect(model["modified_at"] as? String == "2023-11-14T22:13:20.000Z")
            let details = try #require(model["details"] as? [String: Any])
            #expect(details["format"] as? String == "gguf")
            #expect(details["family"] as? String == "llama")
            #expect(details["quantization_level"] as? String == "Q4_1")
            #expect(details["parameter_size"] as? String == "135M")

            // By alias, with a tag, in the legacy `name` field.
            let shown = try await LiveGateway.send(.post, base + "/api/show", json: #"{"name": "smollm2:latest"}"#)
            #expect(shown.status == 200)
            let show = try OllamaTest.object(shown.body)
            let info = try #require(show["model_info"] as? [String: Any])
            #expect(info["general.architecture"] as? String == "llama")
            #expect(info["llama.context_length"] as? Int == 2048)
            #expect(show["capabilities"] as? [String] == ["completion", "tools"])
            #expect((show["parameters"] as? String)?.hasPrefix("num_ctx") == true)
            #expect(show["template"] is String)
            #expect(show["modified_at"] as? String == "2023-11-14T22:13:20.000Z")

            let ps = try OllamaTest.object(try await LiveGateway.send(.get, base + "/api/ps").body)
            let running = try #require((ps["models"] as? [[String: Any]])?.first)
            #expect(running["name"] as? String == "smollm2-135m-instruct:latest")
            #expect(running["context_length"] as? Int == 2048)
            #expect(running["size_vram"] as? Int == 0)
            #expect((running["size"] as? Int ?? 0) > 1_000_000)
            #expect((running["expires_at"] as? String ?? "") > "2200")
        }
    }

    @Test(arguments: LiveBackend.allCases)
    func chatStreamsNDJSONLineByLine(backend: LiveBackend) async throws {
        try await LiveGateway.with(apis: [.ollama], backend: backend) { base, _ in
            let body = #"""
                {"model": "smollm2", "messages": [{"role": "user", "content": "Name three colors."}],
                 "options": {"temperature": 0, "num_predict": 8}}
                """#
            let (status, chunks) = try await LiveGateway.stream(base + "/api/chat", json: body)
            #expect(status == 200)
            let lines = try OllamaTest.lines(chunks)
            #expect(lines.count >= 2)
            for line in lines.dropLast() {
                #expect(line["done"] as? Bool == false)
                #expect(line["model"] as? String == "smollm2")
                #expect((line["message"] as? [String: Any])?["role"] as? String == "assistant")
                #expect(line["created_at"] is String)
            }
            let last = try #require(lines.last)
            #expect(last["done"] as? Bool == true)
            #expect(["stop", "length"].contains(last["done_reason"] as? String ?? ""))
            #expect((last["prompt_eval_count"] as? Int ?? 0) > 0)
            #expect((last["eval_count"] as? Int ?? 0) > 0)
            #expect((last["eval_count"] as? Int ?? 0) <= 8)
            #expect((last["total_duration"] as? Int ?? 0) > 0)
            #expect((last["prompt_eval_duration"] as? Int ?? 0) > 0)
            #expect(last["load_duration"] is Int)
            #expect(last["eval_duration"] is Int)

            let whole = try await LiveGateway.send(.post, base + "/api/chat", json: body)
            #expect(whole.headers["content-type"] == "application/x-ndjson")
        }
    }

    @Test(arguments: LiveBackend.allCases)
    func chatWithoutStreamingEqualsTheStreamedContent(backend: LiveBackend) async throws {
        try await LiveGateway.with(apis: [.ollama], backend: backend) { base, _ in
            let request = #"""
                {"model": "smollm2-135m-instruct", "messages": [{"role": "user", "content": "What is 2+2?"}],
                 "options": {"temperature": 0, "num_predict": 10}, "stream": %@}
                """#
            let streamed = try OllamaTest.lines(
                try await LiveGateway.stream(base + "/api/chat", json: request.replacingOccurrences(of: "%@", with: "true"))
                    .chunks)
            let text = streamed.compactMap { ($0["message"] as? [String: Any])?["content"] as? String }.joined()
            let single = try await LiveGateway.send(
                .post, base + "/api/chat", json: request.replacingOccurrences(of: "%@", with: "false"))
            #expect(single.status == 200)
            #expect(single.headers["content-type"]?.hasPrefix("application/json") == true)
            let object = try OllamaTest.object(single.body)
            #expect(object["done"] as? Bool == true)
            #expect((object["message"] as? [String: Any])?["content"] as? String == text)
            #expect(!text.isEmpty)
            #expect(object["eval_count"] as? Int == streamed.last?["eval_count"] as? Int)
        }
    }

    @Test(arguments: LiveBackend.allCases)
    func generateStreamsAndAnswersWholeAndRaw(backend: LiveBackend) async throws {
        try await LiveGateway.with(apis: [.ollama], backend: backend) { base, _ in
            let body = #"{"model": "smollm2", "prompt": "Say hello.", "options": {"temperature": 0, "num_predict": 6}}"#
            let lines = try OllamaTest.lines(try await LiveGateway.stream(base + "/api/generate", json: body).chunks)
            let streamed = lines.compactMap { $0["response"] as? String }.joined()
            #expect(lines.last?["done"] as? Bool == true)
            #expect(lines.last?["response"] as? String == "")
            #expect(lines.allSatisfy { $0["message"] == nil })

            let whole = try OllamaTest.object(
                try await LiveGateway.send(
                    .post, base + "/api/generate",
                    json:
                        #"{"model": "smollm2", "prompt": "Say hello.", "stream": false, "options": {"temperature": 0, "num_predict": 6}}"#
                ).body)
            #expect(whole["response"] as? String == streamed)
            #expect(whole["done"] as? Bool == true)

            let raw = try OllamaTest.object(
                try await LiveGateway.send(
                    .post, base + "/api/generate",
                    json: #"{"model": "smollm2", "prompt": "The capital of France is", "raw": true, "stream": false, "#
                        + #""options": {"temperature": 0, "num_predict": 4}}"#
                ).body)
            #expect((raw["response"] as? String)?.isEmpty == false)
            // A raw prompt has no chat template around it: far fewer prompt tokens than the templated one.
            #expect((raw["prompt_eval_count"] as? Int ?? 99) < (whole["prompt_eval_count"] as? Int ?? 0))
        }
    }

    @Test(arguments: LiveBackend.allCases)
    func numPredictEndsWithLengthAndExactCount(backend: LiveBackend) async throws {
        try await LiveGateway.with(apis: [.ollama], backend: backend) { base, _ in
            let answer = try await LiveGateway.send(
                .post, base + "/api/chat",
                json: #"{"model": "smollm2", "stream": false, "options": {"temperature": 0, "num_predict": 5}, "#
                    + #""messages": [{"role": "user", "content": "Write a long story about a dragon."}]}"#)
            let object = try OllamaTest.object(answer.body)
            #expect(object["done_reason"] as? String == "length")
            #expect(object["eval_count"] as? Int == 5)
        }
    }

    @Test func stopStringsAreHonoured() async throws {
        try await LiveGateway.with(apis: [.ollama]) { base, _ in
            func generate(stop: String?) async throws -> [String: Any] {
                let stopOption =
                    stop.map { #", "stop": [\#(String(decoding: try! JSONEncoder().encode($0), as: UTF8.self))]"# } ?? ""
                return try OllamaTest.object(
                    try await LiveGateway.send(
                        .post, base + "/api/generate",
                        json: #"{"model": "smollm2", "prompt": "List the days of the week.", "stream": false, "#
                            + #""options": {"temperature": 0, "num_predict": 16\#(stopOption)}}"#
                    ).body)
            }
            let free = try #require(try await generate(stop: nil)["response"] as? String)
            // Stop at a word from the middle of the greedy answer: the same answer must end right before it.
            let words = free.split(separator: " ")
            try #require(words.count >= 3, "the answer is too short to pick a stop word: \(free)")
            let word = String(words[words.count / 2])
            let stopped = try await generate(stop: word)
            let text = try #require(stopped["response"] as? String)
            #expect(stopped["done_reason"] as? String == "stop")
            #expect(!text.contains(word))
            #expect(free.hasPrefix(text))
        }
    }

    @Test func errorShapes() async throws {
        try await LiveGateway.with(apis: [.ollama]) { base, _ in
            let unknown = try await LiveGateway.send(
                .post, base + "/api/chat", json: #"{"model": "nope", "messages": [{"role": "user", "content": "hi"}]}"#)
            #expect(unknown.status == 404)
            #expect(
                try OllamaTest.sorted(unknown.body) == #"{"error":"model 'nope' not found; add it to the manifest to serve it"}"#)
            let showUnknown = try await LiveGateway.send(.post, base + "/api/show", json: #"{"model": "nope"}"#)
            #expect(showUnknown.status == 404)

            let badJSON = try await LiveGateway.send(.post, base + "/api/generate", json: "{not json")
            #expect(badJSON.status == 400)
            let error = try OllamaTest.object(badJSON.body)
            #expect(error.keys.sorted() == ["error"])
            #expect(error["error"] is String)

            let noModel = try await LiveGateway.send(.post, base + "/api/generate", json: #"{"prompt": "hi"}"#)
            #expect(noModel.status == 400)
            #expect(try OllamaTest.object(noModel.body)["error"] as? String == "model is required")

            let image = try await LiveGateway.send(
                .post, base + "/api/chat",
                json:
                    #"{"model": "smollm2", "messages": [{"role": "user", "content": "What is this?", "images": ["iVBORw0KGgo="]}]}"#
            )
            #expect(image.status == 400)
            #expect(
                try OllamaTest.object(image.body)["error"] as? String
                    == "model 'smollm2-135m-instruct' does not support images ('images')")

            let think = try await LiveGateway.send(
                .post, base + "/api/generate", json: #"{"model": "smollm2", "prompt": "hi", "think": true}"#)
            #expect(think.status == 400)
            let badOption = try await LiveGateway.send(
                .post, base + "/api/generate", json: #"{"model": "smollm2", "prompt": "hi", "options": {"top_k": "many"}}"#)
            #expect(badOption.status == 400)
            #expect(try OllamaTest.object(badOption.body)["error"] as? String == "option 'top_k' must be an integer")
        }
    }

    @Test(arguments: LiveBackend.allCases)
    func embedAndLegacyEmbeddings(backend: LiveBackend) async throws {
        try await LiveGateway.with(apis: [.ollama], backend: backend) { base, _ in
            let embed = try OllamaTest.object(
                try await LiveGateway.send(
                    .post, base + "/api/embed", json: #"{"model": "smollm2", "input": ["a cat", "a dog"]}"#
                ).body)
            let vectors = try #require(embed["embeddings"] as? [[Double]])
            #expect(vectors.count == 2)
            #expect(vectors[0].count > 16)
            #expect(vectors[0].count == vectors[1].count)
            #expect(abs(vectors[0].reduce(0) { $0 + $1 * $1 } - 1) < 0.01)
            #expect((embed["prompt_eval_count"] as? Int ?? 0) > 0)
            #expect((embed["total_duration"] as? Int ?? 0) > 0)
            #expect(embed["model"] as? String == "smollm2")

            let one = try OllamaTest.object(
                try await LiveGateway.send(
                    .post, base + "/api/embed", json: #"{"model": "smollm2", "input": "a cat", "dimensions": 8}"#
                ).body)
            let short = try #require((one["embeddings"] as? [[Double]])?.first)
            #expect(short.count == 8)
            #expect(abs(short.reduce(0) { $0 + $1 * $1 } - 1) < 0.01)

            let legacy = try OllamaTest.object(
                try await LiveGateway.send(.post, base + "/api/embeddings", json: #"{"model": "smollm2", "prompt": "a cat"}"#)
                    .body)
            let embedding = try #require(legacy["embedding"] as? [Double])
            #expect(embedding.count == vectors[0].count)
        }
    }

    @Test func pullDeclaredAndUndeclaredAndManagementRefusals() async throws {
        try await LiveGateway.with(apis: [.ollama]) { base, _ in
            let (status, chunks) = try await LiveGateway.stream(base + "/api/pull", json: #"{"model": "smollm2"}"#)
            #expect(status == 200)
            let lines = try OllamaTest.lines(chunks)
            #expect(lines.first?["status"] as? String == "pulling manifest")
            #expect(lines.last?["status"] as? String == "success")
            let once = try await LiveGateway.send(.post, base + "/api/pull", json: #"{"model": "smollm2", "stream": false}"#)
            #expect(once.body == #"{"status":"success"}"#)

            let undeclared = try await LiveGateway.send(.post, base + "/api/pull", json: #"{"model": "llama3:8b"}"#)
            #expect(undeclared.status == 404)
            #expect((try OllamaTest.object(undeclared.body)["error"] as? String)?.contains("add it to the manifest") == true)

            let refused: [(HTTPRequest.Method, String, String)] = [
                (.delete, "/api/delete", #"{"model": "smollm2"}"#),
                (.post, "/api/copy", #"{"source": "smollm2", "destination": "x"}"#),
                (.post, "/api/create", #"{"model": "x", "from": "smollm2"}"#),
                (.post, "/api/push", #"{"model": "smollm2"}"#),
            ]
            for (method, path, body) in refused {
                let answer = try await LiveGateway.send(method, base + path, json: body)
                #expect(answer.status == 403, "\(path)")
                #expect(
                    (try OllamaTest.object(answer.body)["error"] as? String)?.contains("manifest is the source of truth") == true)
            }
        }
    }

    @Test func emptyPromptLoadsAndKeepAliveZeroUnloads() async throws {
        try await LiveGateway.with(apis: [.ollama]) { base, _ in
            let load = try OllamaTest.object(
                try await LiveGateway.send(.post, base + "/api/chat", json: #"{"model": "smollm2", "messages": []}"#).body)
            #expect(load["done"] as? Bool == true)
            #expect(load["done_reason"] as? String == "load")
            #expect((load["message"] as? [String: Any])?["content"] as? String == "")

            let unload = try OllamaTest.object(
                try await LiveGateway.send(.post, base + "/api/generate", json: #"{"model": "smollm2", "keep_alive": 0}"#).body)
            #expect(unload["done_reason"] as? String == "unload")
            #expect(unload["response"] as? String == "")

            let loadFor = try OllamaTest.object(
                try await LiveGateway.send(
                    .post, base + "/api/generate", json: #"{"model": "smollm2", "prompt": "", "keep_alive": "10m"}"#
                )
                .body)
            #expect(loadFor["done_reason"] as? String == "load")
            let bad = try await LiveGateway.send(
                .post, base + "/api/generate", json: #"{"model": "smollm2", "keep_alive": "soon"}"#)
            #expect(bad.status == 400)
        }
    }

    @Test func aClientDisconnectingMidStreamFreesTheModel() async throws {
        try await LiveGateway.with(apis: [.ollama]) { base, gateway in
            let (firstChunk, signal) = AsyncStream.makeStream(of: String.self)
            let reader = Task {
                var request = HTTPClientRequest(url: base + "/api/generate")
                request.method = .POST
                request.headers.add(name: "content-type", value: "application/json")
                request.body = .bytes(
                    ByteBuffer(
                        string: #"{"model": "smollm2", "prompt": "Write a long story about a dragon who learns to bake bread.", "#
                            + #""options": {"temperature": 0, "num_predict": 1500}}"#))
                let response = try await HTTPClient.shared.execute(request, timeout: .seconds(120))
                for try await buffer in response.body {
                    signal.yield(String(buffer: buffer))
                }
            }
            var iterator = firstChunk.makeAsyncIterator()
            let first = try #require(await iterator.next())
            #expect(first.contains(#""done":false"#))
            #expect(inFlight(gateway) == 1)
            reader.cancel()
            _ = await reader.result

            // The generation is cancelled within a token or so, long before 1500 tokens.
            let deadline = ContinuousClock.now + .seconds(10)
            while inFlight(gateway) > 0, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
            #expect(inFlight(gateway) == 0)
            // It was cancelled, not finished: no request has been recorded as answered yet.
            #expect(
                !gateway.metrics.render().contains(
                    #"rockchipllama_requests_total{model="smollm2-135m-instruct",api="ollama",status="200"}"#))

            let next = try await LiveGateway.send(
                .post, base + "/api/generate",
                json: #"{"model": "smollm2", "prompt": "Hi", "stream": false, "options": {"num_predict": 3}}"#)
            #expect(next.status == 200)
            #expect(try OllamaTest.object(next.body)["done"] as? Bool == true)
            #expect(gateway.metrics.render().contains(#"status="200""#))
        }
    }

    /// Requests admitted for the model and not finished.
    func inFlight(_ gateway: Gateway) -> Int {
        guard let count = gateway.admission.enter(name) else { return Int.max }
        _ = gateway.admission.leave(name)
        return count - 1
    }
}
