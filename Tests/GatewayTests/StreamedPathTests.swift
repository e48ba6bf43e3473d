import Foundation
import Gateway
import HTTPTypes
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Testing

/// Streamed generations are answered in the connection's pipeline, ahead of the router
/// (`StreamedGenerationHandler`): whatever that path does not take, or takes and finds wrong, must be answered
/// exactly as the routes answer it, and nothing may come out of order.
@Suite(.serialized)
struct StreamedPathTests {
    static let streamedChat = OpenAILiveTests.chatBody(#""max_tokens": 4, "stream": true"#)

    /// Keeps every byte a raw connection receives.
    final class Received: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let text = NIOLockedValueBox("")

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let buffer = unwrapInboundIn(data)
            text.withLockedValue { $0 += String(buffer: buffer) }
        }
    }

    /// Sends `requests` back to back on one connection without waiting for answers (HTTP pipelining) and
    /// returns all that comes back until the server closes (the last request asks it to).
    static func pipelined(_ requests: [String], port: Int) async throws -> String {
        let received = Received()
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(received) }
            }
            .connect(host: "127.0.0.1", port: port).get()
        try await channel.writeAndFlush(ByteBuffer(string: requests.joined())).get()
        try await channel.closeFuture.get()
        return received.text.withLockedValue { $0 }
    }

    static func post(_ path: String, _ json: String) -> String {
        "POST \(path) HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: \(json.utf8.count)\r\n\r\n\(json)"
    }

    @Test func pipelinedRequestsAreAnsweredInOrder() async throws {
        try await LiveGateway.with { base, _ in
            let port = try #require(Int(base.split(separator: ":").last ?? ""))
            let generate = #"{"model": "smollm2", "prompt": "Hi", "options": {"num_predict": 3, "temperature": 0}}"#
            let answer = try await Self.pipelined(
                [
                    Self.post("/v1/chat/completions", Self.streamedChat),
                    "GET /v1/models HTTP/1.1\r\nHost: test\r\n\r\n",
                    Self.post("/api/generate", generate),
                    Self.post("/v1/chat/completions", Self.streamedChat),
                    "GET /api/version HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n",
                ], port: port)
            let markers = ["data: [DONE]", #""object":"list""#, #""done":true"#, "data: [DONE]", #""version""#]
            var rest = answer[...]
            for marker in markers {
                let found = try #require(rest.range(of: marker), "\(marker) in order in: \(answer)")
                rest = rest[found.upperBound...]
            }
            #expect(answer.components(separatedBy: "HTTP/1.1 200 OK").count == 6, "\(answer)")
        }
    }

    @Test func streamedRequestsNeedATokenLikeAnyOther() async throws {
        try await LiveGateway.with(tokens: ["sk-right"]) { base, _ in
            let url = base + "/v1/chat/completions"
            let wrong = try await LiveGateway.send(
                .post, url, json: Self.streamedChat, headers: ["authorization": "Bearer sk-wrong"])
            #expect(wrong.status == 401 && wrong.headers["www-authenticate"] == "Bearer")
            #expect(wrong.body.contains(#""code":"invalid_api_key""#))
            let ollama = try await LiveGateway.send(
                .post, base + "/api/chat", json: #"{"model": "smollm2", "messages": [{"role": "user", "content": "Hi"}]}"#)
            #expect(ollama.status == 401 && ollama.body == #"{"error":"a valid bearer token is required"}"#)
            let right = try await LiveGateway.stream(url, json: Self.streamedChat, headers: ["authorization": "bearer sk-right"])
            #expect(right.status == 200 && right.chunks.joined().hasSuffix("data: [DONE]\n\n"))
        }
    }

    @Test func invalidStreamedRequestsGetTheRoutesErrors() async throws {
        try await LiveGateway.with { base, _ in
            let url = base + "/v1/chat/completions"
            try OpenAILiveTests.expectError(
                try await LiveGateway.send(.post, url, json: OpenAILiveTests.chatBody(#""n": 2, "stream": true"#)), status: 400,
                type: "invalid_request_error", param: "n")
            try OpenAILiveTests.expectError(
                try await LiveGateway.send(.post, url, json: OpenAILiveTests.chatBody(#""stream": true"#, model: "gpt-4o")),
                status: 404, type: "not_found_error", param: "model")
            try OpenAILiveTests.expectError(
                try await LiveGateway.send(.post, url, json: #"{"stream": true, "#), status: 400, type: "invalid_request_error")
            let keepAlive = try await LiveGateway.send(
                .post, base + "/api/generate", json: #"{"model": "smollm2", "prompt": "Hi", "keep_alive": "soon"}"#)
            #expect(keepAlive.status == 400 && keepAlive.body.hasPrefix(#"{"error":"#), "\(keepAlive.body)")
            let unknown = try await LiveGateway.send(.post, base + "/api/generate", json: #"{"model": "nope", "prompt": "Hi"}"#)
            #expect(unknown.status == 404 && unknown.body.contains("add it to the manifest"))
        }
    }

    @Test func streamedBodiesOverTheLimitAreRefused() async throws {
        let long = String(repeating: "x", count: 4000)
        let chat = OpenAILiveTests.chatBody(#""stream": true"#, messages: #"[{"role": "user", "content": "\#(long)"}]"#)
        try await LiveGateway.with(limits: Gateway.Limits(maxBodyBytes: 1024)) { base, _ in
            let declared = try await LiveGateway.send(.post, base + "/v1/chat/completions", json: chat)
            #expect(declared.status == 413 && declared.body.contains(#""code":"request_too_large""#))
            // Without a length up front the body is counted as it comes.
            let port = try #require(Int(base.split(separator: ":").last ?? ""))
            let chunked =
                "POST /v1/chat/completions HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n"
                + String(chat.utf8.count, radix: 16) + "\r\n" + chat + "\r\n0\r\n\r\n"
                + "GET /healthz HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"
            let answer = try await Self.pipelined([chunked], port: port)
            #expect(answer.hasPrefix("HTTP/1.1 413"), "\(answer)")
        }
    }

    @Test func streamedAnswersToAnAllowedOriginCarryCORSHeaders() async throws {
        try await LiveGateway.with(corsOrigins: ["https://chat.example.com"]) { base, _ in
            let allowed = try await LiveGateway.send(
                .post, base + "/v1/chat/completions", json: Self.streamedChat, headers: ["origin": "https://chat.example.com"])
            #expect(allowed.status == 200 && allowed.body.hasSuffix("data: [DONE]\n\n"))
            #expect(allowed.headers["access-control-allow-origin"] == "https://chat.example.com")
        }
    }

    @Test func streamedAnswersAreCounted() async throws {
        try await LiveGateway.with { base, _ in
            let streamed = try await LiveGateway.stream(base + "/v1/chat/completions", json: Self.streamedChat)
            #expect(streamed.status == 200)
            let metrics = try await LiveGateway.send(.get, base + "/metrics").body
            #expect(metrics.contains(#"rockchipllama_requests_total{model="smollm2-135m-instruct",api="openai",status="200"} 1"#))
            #expect(metrics.contains(#"rockchipllama_http_responses_total{api="openai",status="200"} 1"#))
            #expect(metrics.contains(#"rockchipllama_completion_tokens_total{model="smollm2-135m-instruct",api="openai"}"#))
            #expect(
                metrics.contains(
                    #"rockchipllama_time_to_first_token_seconds_count{model="smollm2-135m-instruct",api="openai"} 1"#))
            #expect(metrics.contains(#"rockchipllama_requests_in_flight{model="smollm2-135m-instruct"} 0"#))
        }
    }
}
