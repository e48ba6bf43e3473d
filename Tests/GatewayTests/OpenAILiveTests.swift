import AsyncHTTPClient
import Engine
import Foundation
import Hummingbird
import NIOCore
import NIOHTTP1
import TestSupport
import Testing

@testable import Gateway

/// The OpenAI surface over real sockets in front of the real SmolLM2 model. Serialized: the tests share one
/// engine on a small machine, and the disconnect test watches the gateway's in-flight count.
@Suite(.serialized) struct OpenAILiveTests {
    static let question = #"[{"role": "user", "content": "What is the capital of France?"}]"#

    static func chatBody(_ extra: String = "", messages: String = question, model: String = "smollm2") -> String {
        #"{"model": "\#(model)", "messages": \#(messages), "temperature": 0\#(extra.isEmpty ? "" : ", " + extra)}"#
    }

    /// Requests admitted and not finished for the served model.
    static func inFlight(_ gateway: Gateway) -> Int {
        guard let count = gateway.admission.enter("smollm2-135m-instruct") else { return gateway.admission.limit }
        _ = gateway.admission.leave("smollm2-135m-instruct")
        return count - 1
    }

    static func content(_ completion: [String: Any]) -> String? {
        let choices = completion["choices"] as? [[String: Any]]
        return (choices?.first?["message"] as? [String: Any])?["content"] as? String
    }

    static func choice(_ object: [String: Any]) -> [String: Any]? {
        (object["choices"] as? [[String: Any]])?.first
    }

    /// The text a chat stream's deltas add up to, and its finish reason.
    static func assemble(_ events: [String]) throws -> (text: String, finish: String?) {
        var text = ""
        var finish: String?
        for event in events where event != "[DONE]" {
            let choice = try #require(choice(try OpenAITest.object(event)), "no choice in \(event)")
            text += ((choice["delta"] as? [String: Any])?["content"] as? String) ?? ""
            if let reason = choice["finish_reason"] as? String { finish = reason }
        }
        return (text, finish)
    }

    static func expectError(
        _ response: (status: Int, headers: [String: String], body: String), status: Int, type: String, param: String? = nil,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        #expect(response.status == status, "\(response.body)", sourceLocation: sourceLocation)
        #expect(response.headers["content-type"] == "application/json", sourceLocation: sourceLocation)
        let error = try #require(try OpenAITest.object(response.body)["error"] as? [String: Any], sourceLocation: sourceLocation)
        #expect(Set(error.keys) == ["message", "type", "param", "code"], sourceLocation: sourceLocation)
        #expect((error["message"] as? String)?.isEmpty == false, sourceLocation: sourceLocation)
        #expect(error["type"] as? String == type, sourceLocation: sourceLocation)
        if let param { #expect(error["param"] as? String == param, sourceLocation: sourceLocation) }
    }

    // MARK: Chat

    @Test(arguments: LiveBackend.allCases)
    func chatAnswersWithConsistentUsage(backend: LiveBackend) async throws {
        try await LiveGateway.with(apis: [.openai], backend: backend) { base, _ in
            let response = try await LiveGateway.send(
                .post, base + "/v1/chat/completions", json: Self.chatBody(#""max_tokens": 16"#))
            #expect(response.status == 200, "\(response.body)")
            #expect(response.headers["content-type"] == "application/json")
            let completion = try OpenAITest.object(response.body)
            #expect(completion["object"] as? String == "chat.completion")
            #expect((completion["id"] as? String)?.hasPrefix("chatcmpl-") == true)
            #expect(completion["model"] as? String == "smollm2", "the name the client asked for")
            #expect(Self.content(completion)?.contains("Paris") == true, "\(response.body)")
            let usage = try #require(completion["usage"] as? [String: Any])
            let prompt = try #require(usage["prompt_tokens"] as? Int)
            let generated = try #require(usage["completion_tokens"] as? Int)
            #expect(prompt > 5 && prompt < 100)
            #expect(generated >= 1 && generated <= 16)
            #expect(usage["total_tokens"] as? Int == prompt + generated)
            #expect(["stop", "length"].contains(Self.choice(completion)?["finish_reason"] as? String))
        }
    }

    @Test(arguments: LiveBackend.allCases)
    func streamArrivesInChunksAndMatchesTheWholeAnswer(backend: LiveBackend) async throws {
        try await LiveGateway.with(apis: [.openai], backend: backend) { base, _ in
            let whole = try await LiveGateway.send(
                .post, base + "/v1/chat/completions", json: Self.chatBody(#""max_tokens": 12"#))
            let expected = try #require(Self.content(try OpenAITest.object(whole.body)))
            let streamed = try await LiveGateway.stream(
                base + "/v1/chat/completions", json: Self.chatBody(#""max_tokens": 12, "stream": true"#))
            #expect(streamed.status == 200)
            #expect(streamed.chunks.count > 1, "the answer is written as it is generated")
            let events = OpenAITest.events(streamed.chunks)
            #expect(events.last == "[DONE]")
            let first = try OpenAITest.object(try #require(events.first))
            #expect(first["object"] as? String == "chat.completion.chunk")
            #expect(Self.choice(first)?["delta"] as? [String: String] == ["role": "assistant", "content": ""])
            let ids = Set(try events.dropLast().map { try OpenAITest.object($0)["id"] as? String })
            #expect(ids.count == 1, "every chunk carries the same id")
            let (text, finish) = try Self.assemble(events)
            #expect(text == expected, "greedy decoding gives the same answer streamed or not")
            #expect(finish == (Self.choice(try OpenAITest.object(whole.body))?["finish_reason"] as? String))
        }
    }

    @Test(arguments: LiveBackend.allCases)
    func includeUsageAddsAUsageChunkBeforeDone(backend: LiveBackend) async throws {
        try await LiveGateway.with(apis: [.openai], backend: backend) { base, _ in
            let response = try await LiveGateway.send(
                .post, base + "/v1/chat/completions",
                json: Self.chatBody(#""max_tokens": 6, "stream": true, "stream_options": {"include_usage": true}"#))
            #expect(response.headers["content-type"] == "text/event-stream")
            let events = OpenAITest.events([response.body])
            #expect(events.last == "[DONE]")
            let usageChunk = try OpenAITest.object(events[events.count - 2])
            #expect((usageChunk["choices"] as? [Any])?.isEmpty == true)
            let usage = try #require(usageChunk["usage"] as? [String: Any])
            #expect(usage["completion_tokens"] as? Int == 6)
            for event in events.dropLast(2) { #expect(try OpenAITest.object(event)["usage"] is NSNull) }
            #expect(Self.choice(try OpenAITest.object(events[events.count - 3]))?["finish_reason"] as? String == "length")
        }
    }

    @Test(arguments: LiveBackend.allCases)
    func stopStringEndsTheAnswerBeforeIt(backend: LiveBackend) async throws {
        try await LiveGateway.with(apis: [.openai], backend: backend) { base, _ in
            let whole = try await LiveGateway.send(
                .post, base + "/v1/chat/completions", json: Self.chatBody(#""max_tokens": 24"#))
            let text = try #require(Self.content(try OpenAITest.object(whole.body)))
            let words = text.split(separator: " ")
            try #require(words.count >= 3, "need a few words to pick a stop string from: \(text)")
            let stop = String(words[2])
            let stopped = try await LiveGateway.send(
                .post, base + "/v1/chat/completions", json: Self.chatBody(#""max_tokens": 24, "stop": ["\#(stop)"]"#))
            let object = try OpenAITest.object(stopped.body)
            let at = try #require(text.range(of: stop))
            let expected = String(text[..<at.lowerBound])
            #expect(Self.content(object) == expected)
            #expect(Self.choice(object)?["finish_reason"] as? String == "stop")
        }
    }

    @Test func maxTokensEndsWithLength() async throws {
        try await LiveGateway.with(apis: [.openai]) { base, _ in
            let response = try await LiveGateway.send(
                .post, base + "/v1/chat/completions", json: Self.chatBody(#""max_completion_tokens": 3"#))
            let object = try OpenAITest.object(response.body)
            #expect(Self.choice(object)?["finish_reason"] as? String == "length")
            #expect((object["usage"] as? [String: Any])?["completion_tokens"] as? Int == 3)
        }
    }

    @Test(arguments: LiveBackend.allCases)
    func sameSeedSameText(backend: LiveBackend) async throws {
        try await LiveGateway.with(apis: [.openai], backend: backend) { base, _ in
            let body = #"{"model": "smollm2", "messages": \#(Self.question), "temperature": 0.8, "seed": 1234, "max_tokens": 16}"#
            let first = try await LiveGateway.send(.post, base + "/v1/chat/completions", json: body)
            let second = try await LiveGateway.send(.post, base + "/v1/chat/completions", json: body)
            let text = try #require(Self.content(try OpenAITest.object(first.body)))
            #expect(!text.isEmpty)
            #expect(Self.content(try OpenAITest.object(second.body)) == text)
        }
    }

    @Test func jsonObjectFormatConstrainsTheAnswer() async throws {
        try await LiveGateway.with(apis: [.openai]) { base, _ in
            let messages = #"[{"role": "user", "content": "Give the capital of France as JSON with the key city."}]"#
            let response = try await LiveGateway.send(
                .post, base + "/v1/chat/completions",
                json: Self.chatBody(#""max_tokens": 48, "response_format": {"type": "json_object"}"#, messages: messages))
            let object = try OpenAITest.object(response.body)
            let content = try #require(Self.content(object), "\(response.body)")
            if Self.choice(object)?["finish_reason"] as? String == "stop" {
                #expect(throws: Never.self, "a finished answer is one JSON object: \(content)") {
                    _ = try OpenAITest.object(content)
                }
            } else {
                #expect(content.trimmingCharacters(in: .whitespaces).hasPrefix("{"), "\(content)")
            }
        }
    }

    @Test(arguments: LiveBackend.allCases)
    func toolsAreAcceptedAndTheAnswerIsWellFormed(backend: LiveBackend) async throws {
        try await LiveGateway.with(apis: [.openai], backend: backend) { base, _ in
            let tools =
                #""tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather in a city", "#
                + #""parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]"#
            let messages = #"[{"role": "user", "content": "What is the weather in Paris?"}]"#
            let response = try await LiveGateway.send(
                .post, base + "/v1/chat/completions", json: Self.chatBody(#""max_tokens": 40, \#(tools)"#, messages: messages))
            #expect(response.status == 200, "\(response.body)")
            let choice = try #require(Self.choice(try OpenAITest.object(response.body)))
            let finish = choice["finish_reason"] as? String
            #expect(["stop", "length", "tool_calls"].contains(finish))
            let message = try #require(choice["message"] as? [String: Any])
            if finish == "tool_calls" {
                let calls = try #require(message["tool_calls"] as? [[String: Any]])
                let function = try #require(calls.first?["function"] as? [String: Any])
                #expect(function["name"] as? String == "get_weather")
                #expect((function["arguments"] as? String).map { (try? OpenAITest.object($0)) != nil } == true)
            } else {
                #expect(message["content"] is String)
            }
        }
    }

    // MARK: Refusals and errors

    @Test func refusalsHaveOpenAIShape() async throws {
        try await LiveGateway.with(apis: [.openai]) { base, _ in
            let url = base + "/v1/chat/completions"
            try Self.expectError(
                try await LiveGateway.send(.post, url, json: Self.chatBody(#""n": 2"#)), status: 400,
                type: "invalid_request_error",
                param: "n")
            try Self.expectError(
                try await LiveGateway.send(.post, url, json: Self.chatBody(model: "gpt-4o")), status: 404,
                type: "not_found_error",
                param: "model")
            try Self.expectError(
                try await LiveGateway.send(.post, url, json: "{not json"), status: 400, type: "invalid_request_error")
            try Self.expectError(
                try await LiveGateway.send(.post, url, json: #"{"model": "smollm2"}"#), status: 400, type: "invalid_request_error"
            )
            let image =
                #"[{"role": "user", "content": [{"type": "text", "text": "What is it?"}, "#
                + #"{"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw=="}}]}]"#
            let refused = try await LiveGateway.send(.post, url, json: Self.chatBody(messages: image))
            try Self.expectError(refused, status: 400, type: "invalid_request_error", param: "messages[0].content")
            #expect(refused.body.contains("does not take images"))
            try Self.expectError(
                try await LiveGateway.send(.post, url, json: Self.chatBody(#""response_format": {"type": "xml"}"#)), status: 400,
                type: "invalid_request_error", param: "response_format.type")
        }
    }

    @Test func bodyTooLargeIs413() async throws {
        try await LiveGateway.with(apis: [.openai], limits: Gateway.Limits(maxBodyBytes: 256)) { base, _ in
            let long = String(repeating: "x", count: 1000)
            try Self.expectError(
                try await LiveGateway.send(
                    .post, base + "/v1/chat/completions",
                    json: Self.chatBody(messages: #"[{"role": "user", "content": "\#(long)"}]"#)),
                status: 413, type: "invalid_request_error")
        }
    }

    @Test func fullQueueIs429WithRetryAfter() async throws {
        try await LiveGateway.with(apis: [.openai], limits: Gateway.Limits(maxInFlightPerModel: 1)) { base, gateway in
            let busy = Task {
                try await LiveGateway.stream(
                    base + "/v1/completions",
                    json: #"{"model": "smollm2", "prompt": "1, 2, 3, 4,", "max_tokens": 200, "temperature": 0, "stream": true}"#)
            }
            try await eventually("the first request to hold the model") { Self.inFlight(gateway) > 0 }
            let refused = try await LiveGateway.send(
                .post, base + "/v1/chat/completions", json: Self.chatBody(#""max_tokens": 2"#))
            busy.cancel()
            _ = try? await busy.value
            try Self.expectError(refused, status: 429, type: "rate_limit_error")
            #expect(refused.headers["retry-after"] == "1")
        }
    }

    // MARK: Disconnects

    @Test func clientThatLeavesCancelsItsGeneration() async throws {
        let probe = ProbedEngine(try await LiveGateway.engine.value)
        try await OpenAITest.serve(probe) { base, gateway in
            var request = HTTPClientRequest(url: base + "/v1/chat/completions")
            request.method = .POST
            request.headers.add(name: "content-type", value: "application/json")
            request.body = .bytes(
                ByteBuffer(
                    string: Self.chatBody(
                        #""max_tokens": 1500, "stream": true"#,
                        messages: #"[{"role": "user", "content": "Write a long story about a dragon who learns to bake bread."}]"#
                    )))
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
            var received = ""
            var chunks = 0
            for try await buffer in response.body {
                received += String(buffer: buffer)
                chunks += 1
                if chunks == 4 { break }  // leaving the loop drops the body: the client closes the connection
            }
            #expect(!received.contains("[DONE]"))
            let clock = ContinuousClock()
            let start = clock.now
            while Self.inFlight(gateway) > 0, clock.now - start < .seconds(10) { try await Task.sleep(for: .milliseconds(20)) }
            #expect(Self.inFlight(gateway) == 0, "the request is released when its client goes away")
            #expect(probe.recorded == [.cancelled], "the generation was cancelled, not run to its end")
            let next = try await LiveGateway.send(.post, base + "/v1/chat/completions", json: Self.chatBody(#""max_tokens": 4"#))
            #expect(next.status == 200)
            #expect(probe.recorded == [.cancelled, .done(.length)])
        }
    }

    @Test func clientThatLeavesBeforeAWholeAnswerCancelsItsGeneration() async throws {
        let probe = ProbedEngine(try await LiveGateway.engine.value)
        try await OpenAITest.serve(probe) { base, gateway in
            var request = HTTPClientRequest(url: base + "/v1/chat/completions")
            request.method = .POST
            request.headers.add(name: "content-type", value: "application/json")
            request.body = .bytes(
                ByteBuffer(
                    string: Self.chatBody(
                        #""max_tokens": 1500"#,
                        messages: #"[{"role": "user", "content": "Write a long story about a dragon who learns to bake bread."}]"#
                    )))
            // The client gives up long before 1,500 tokens and closes its connection.
            await #expect(throws: (any Error).self) {
                _ = try await HTTPClient.shared.execute(request, timeout: .milliseconds(500))
            }
            let clock = ContinuousClock()
            let start = clock.now
            while Self.inFlight(gateway) > 0, clock.now - start < .seconds(10) { try await Task.sleep(for: .milliseconds(20)) }
            #expect(Self.inFlight(gateway) == 0, "the request is released when its client goes away")
            #expect(probe.recorded == [.cancelled], "the generation was cancelled, not run to its end")
        }
    }

    @Test func generationAnswersKeepTheConnectionOpen() async throws {
        try await LiveGateway.with(apis: [.openai]) { base, _ in
            let body = #"{"model": "smollm2", "prompt": "Hello", "max_tokens": 2, "temperature": 0"#
            for stream in [false, true] {
                var request = HTTPClientRequest(url: base + "/v1/completions")
                request.method = .POST
                request.headers.add(name: "content-type", value: "application/json")
                request.body = .bytes(ByteBuffer(string: body + #", "stream": \#(stream)}"#))
                let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
                _ = try await response.body.collect(upTo: 1 << 20)
                #expect(response.status == .ok)
                #expect(!response.headers[canonicalForm: "connection"].contains("close"), "stream: \(stream)")
            }
        }
    }

    // MARK: Completions

    @Test(arguments: LiveBackend.allCases)
    func completionsStreamAndWhole(backend: LiveBackend) async throws {
        try await LiveGateway.with(apis: [.openai], backend: backend) { base, _ in
            let body = #"{"model": "smollm2", "prompt": "The capital of France is", "max_tokens": 8, "temperature": 0"#
            let whole = try await LiveGateway.send(.post, base + "/v1/completions", json: body + "}")
            #expect(whole.status == 200, "\(whole.body)")
            let object = try OpenAITest.object(whole.body)
            #expect(object["object"] as? String == "text_completion")
            #expect((object["id"] as? String)?.hasPrefix("cmpl-") == true)
            let text = try #require(Self.choice(object)?["text"] as? String)
            #expect(!text.isEmpty)
            #expect((object["usage"] as? [String: Any])?["completion_tokens"] as? Int ?? 0 <= 8)

            let streamed = try await LiveGateway.stream(base + "/v1/completions", json: body + #", "stream": true}"#)
            let events = OpenAITest.events(streamed.chunks)
            #expect(events.last == "[DONE]")
            var assembled = ""
            var finish: String?
            for event in events.dropLast() {
                let chunk = try OpenAITest.object(event)
                #expect(chunk["object"] as? String == "text_completion")
                assembled += Self.choice(chunk)?["text"] as? String ?? ""
                if let reason = Self.choice(chunk)?["finish_reason"] as? String { finish = reason }
            }
            #expect(assembled == text)
            #expect(finish == Self.choice(object)?["finish_reason"] as? String)
            try Self.expectError(
                try await LiveGateway.send(.post, base + "/v1/completions", json: #"{"model": "smollm2", "prompt": ["a", "b"]}"#),
                status: 400, type: "invalid_request_error", param: "prompt")
        }
    }

    // MARK: Models

    @Test func modelsListAndLookup() async throws {
        try await LiveGateway.with(apis: [.openai]) { base, _ in
            let list = try OpenAITest.object(try await LiveGateway.send(.get, base + "/v1/models").body)
            #expect(list["object"] as? String == "list")
            let data = try #require(list["data"] as? [[String: Any]])
            #expect(data.compactMap { $0["id"] as? String } == ["smollm2-135m-instruct", "smollm2", "default"])
            #expect(data.allSatisfy { $0["object"] as? String == "model" && $0["owned_by"] as? String == "rockchipllama" })
            #expect(data.first?["created"] as? Int == 1_700_000_000)
            for (asked, id) in [
                ("smollm2", "smollm2"), ("smollm2:latest", "smollm2"), ("SmolLM2-135M-Instruct", "smollm2-135m-instruct"),
            ] {
                let one = try await LiveGateway.send(.get, base + "/v1/models/" + asked)
                #expect(one.status == 200)
                #expect(try OpenAITest.object(one.body)["id"] as? String == id)
            }
            try Self.expectError(
                try await LiveGateway.send(.get, base + "/v1/models/nope"), status: 404, type: "not_found_error", param: "model")
        }
    }

    // MARK: Embeddings

    @Test(arguments: LiveBackend.allCases)
    func embeddingsFloatAndBase64Agree(backend: LiveBackend) async throws {
        try await LiveGateway.with(apis: [.openai], backend: backend) { base, _ in
            let floats = try OpenAITest.object(
                try await LiveGateway.send(
                    .post, base + "/v1/embeddings", json: #"{"model": "smollm2", "input": ["hello", "world"]}"#
                )
                .body)
            #expect(floats["object"] as? String == "list")
            #expect(floats["model"] as? String == "smollm2")
            let data = try #require(floats["data"] as? [[String: Any]])
            #expect(data.map { $0["index"] as? Int } == [0, 1])
            let vector = try #require(data[0]["embedding"] as? [Double])
            #expect(vector.count > 100)
            let norm = vector.reduce(0) { $0 + $1 * $1 }.squareRoot()
            #expect(abs(norm - 1) < 1e-3, "pooled embeddings are L2-normalised")
            let usage = try #require(floats["usage"] as? [String: Any])
            #expect((usage["prompt_tokens"] as? Int ?? 0) > 0)
            #expect(usage["total_tokens"] as? Int == usage["prompt_tokens"] as? Int)

            let encoded = try OpenAITest.object(
                try await LiveGateway.send(
                    .post, base + "/v1/embeddings", json: #"{"model": "smollm2", "input": "hello", "encoding_format": "base64"}"#
                ).body)
            let text = try #require((encoded["data"] as? [[String: Any]])?.first?["embedding"] as? String)
            let bytes = try #require(Data(base64Encoded: text))
            let decoded = stride(from: 0, to: bytes.count, by: 4).map { offset in
                Float(
                    bitPattern: bytes[offset..<offset + 4].enumerated().reduce(UInt32(0)) {
                        $0 | UInt32($1.element) << (8 * $1.offset)
                    })
            }
            #expect(decoded.count == vector.count)
            #expect(zip(decoded, vector).allSatisfy { abs(Double($0) - $1) < 1e-6 })

            try Self.expectError(
                try await LiveGateway.send(.post, base + "/v1/embeddings", json: #"{"model": "smollm2", "input": [[1, 2, 3]]}"#),
                status: 400, type: "invalid_request_error", param: "input")
        }
    }
}
