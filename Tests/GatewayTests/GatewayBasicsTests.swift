import Engine
import Foundation
import Gateway
import HTTPTypes
import TestSupport
import Testing

/// What every endpoint shares, over real sockets: probes, auth, CORS, body limits, admin and metrics.
@Suite(.serialized)
struct GatewayBasicsTests {
    /// The admin API's source, backed by the in-process engine.
    struct TestAdmin: AdminSource {
        let engine: any Engine
        let directory: String

        func status() async -> Data { Data(#"{"manifest":"test"}"#.utf8) }
        func promptCaches() async -> [String: PromptCacheReport] {
            ["smollm2-135m-instruct": PromptCacheReport(await engine.status())]
        }
        func buildPromptCache(model: String, name: String, system: String) async throws -> PromptCacheInfo {
            try await engine.buildPromptCache(name: name, system: system, directory: directory)
        }
    }

    @Test func probesAnswerWithoutATokenEverythingElseNeedsOne() async throws {
        try await LiveGateway.with(tokens: ["sk-right"]) { base, _ in
            #expect(try await LiveGateway.send(.get, base + "/healthz").status == 200)
            let ready = try await LiveGateway.send(.get, base + "/readyz")
            #expect(ready.status == 200 && ready.body == "smollm2-135m-instruct: ready\n")

            let missing = try await LiveGateway.send(.get, base + "/v1/models")
            let wrong = try await LiveGateway.send(.get, base + "/v1/models", headers: ["authorization": "Bearer sk-wrong"])
            let malformed = try await LiveGateway.send(
                .get, base + "/v1/models", headers: ["authorization": "Basic c2stcmlnaHQ="])
            // One answer for every kind of failure: nothing tells a caller what was wrong.
            for response in [missing, wrong, malformed] {
                #expect(response.status == 401)
                #expect(response.headers["www-authenticate"] == "Bearer")
                #expect(
                    response.body
                        == #"{"error":{"code":"invalid_api_key","message":"a valid bearer token is required","param":null,"type":"invalid_request_error"}}"#
                )
            }
            let ollama = try await LiveGateway.send(.get, base + "/api/tags")
            #expect(ollama.status == 401 && ollama.body == #"{"error":"a valid bearer token is required"}"#)
            let right = try await LiveGateway.send(.get, base + "/v1/models", headers: ["authorization": "Bearer sk-right"])
            #expect(right.status == 200)
        }
    }

    @Test func tokensFileIgnoresCommentsAndBlankLines() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("tokens-\(UUID().uuidString)")
        try "# ops team\nsk-one\n\n  sk-two  \n".write(to: url, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: url) }
        let tokens = try BearerTokens(contentsOf: url.path)
        #expect(tokens.accepts("sk-one") && tokens.accepts("sk-two"))
        #expect(!tokens.accepts("sk-on") && !tokens.accepts("sk-one2") && !tokens.accepts("# ops team") && !tokens.accepts(""))
    }

    /// A valid token followed by any number of extra bytes (a multiple of 256 included) is another token.
    @Test(arguments: [1, 255, 256, 512])
    func tokensDifferingOnlyInLengthAreRefused(extra: Int) {
        let tokens = BearerTokens(["sk-right"])
        let longer = "sk-right" + String(repeating: "x", count: extra)
        #expect(!tokens.accepts(Substring(longer)))
        #expect(!BearerTokens([longer]).accepts("sk-right"))
        #expect(!tokens.accepts(authorization: "Bearer " + longer))
        #expect(tokens.accepts("sk-right") && BearerTokens([longer]).accepts(Substring(longer)))
    }

    @Test func corsAllowsOnlyListedOrigins() async throws {
        try await LiveGateway.with(corsOrigins: ["https://chat.example.com"]) { base, _ in
            let preflight = try await LiveGateway.send(
                .options, base + "/v1/chat/completions",
                headers: [
                    "origin": "https://chat.example.com", "access-control-request-method": "POST",
                    "access-control-request-headers": "content-type",
                ])
            #expect(preflight.status == 204)
            #expect(preflight.headers["access-control-allow-origin"] == "https://chat.example.com")
            #expect(preflight.headers["access-control-allow-headers"] == "content-type")
            let allowed = try await LiveGateway.send(.get, base + "/v1/models", headers: ["origin": "https://chat.example.com"])
            #expect(allowed.headers["access-control-allow-origin"] == "https://chat.example.com")
            let other = try await LiveGateway.send(.get, base + "/v1/models", headers: ["origin": "https://evil.example.com"])
            #expect(other.status == 200 && other.headers["access-control-allow-origin"] == nil)
        }
    }

    @Test func bodiesOverTheLimitAreRefusedInTheAPIsShape() async throws {
        let big =
            "{\"model\":\"smollm2\",\"messages\":[{\"role\":\"user\",\"content\":\"\(String(repeating: "x", count: 4096))\"}]}"
        try await LiveGateway.with(limits: Gateway.Limits(maxBodyBytes: 1024)) { base, _ in
            let openAI = try await LiveGateway.send(.post, base + "/v1/chat/completions", json: big)
            #expect(openAI.status == 413)
            #expect(openAI.body.contains(#""code":"request_too_large""#) && openAI.body.hasPrefix(#"{"error":{"#))
            let ollama = try await LiveGateway.send(.post, base + "/api/chat", json: big)
            #expect(ollama.status == 413 && ollama.body == #"{"error":"request body is larger than 1024 bytes"}"#)
        }
    }

    @Test func adminBuildsPromptCachesWithSafeNamesOnly() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("admin-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let admin = TestAdmin(engine: try await LiveGateway.engine.value, directory: directory.path)
        try await LiveGateway.with(admin: admin) { base, _ in
            let built = try await LiveGateway.send(
                .post, base + "/v1/caches/smollm2/support", json: #"{"system":"You are a support agent."}"#)
            #expect(built.status == 200 && built.body.contains(#""name":"support""#), "\(built.body)")
            let listed = try await LiveGateway.send(.get, base + "/v1/caches")
            #expect(listed.body.contains(#"{"smollm2-135m-instruct":{"failed":[],"ready":["support"]}}"#), "\(listed.body)")
            for bad in ["..%2F..%2Fetc", "Upper", "-dash", "a%20b"] {
                let refused = try await LiveGateway.send(.post, base + "/v1/caches/smollm2/\(bad)", json: #"{"system":"x"}"#)
                #expect(refused.status == 400, "\(bad)")
            }
            let unknown = try await LiveGateway.send(.post, base + "/v1/caches/nope/support", json: #"{"system":"x"}"#)
            #expect(unknown.status == 404)
            #expect(try await LiveGateway.send(.get, base + "/v1/status").body == #"{"manifest":"test"}"#)
        }
    }

    @Test func metricsCountRequestsTokensAndTimeToFirstToken() async throws {
        try await LiveGateway.with { base, _ in
            let chat = #"{"model":"smollm2","messages":[{"role":"user","content":"Say hi."}],"max_tokens":4}"#
            #expect(try await LiveGateway.send(.post, base + "/v1/chat/completions", json: chat).status == 200)
            let metrics = try await LiveGateway.send(.get, base + "/metrics")
            #expect(metrics.status == 200)
            #expect(
                metrics.body.contains(#"rockchipllama_requests_total{model="smollm2-135m-instruct",api="openai",status="200"} 1"#)
            )
            #expect(metrics.body.contains(#"rockchipllama_completion_tokens_total{model="smollm2-135m-instruct",api="openai"}"#))
            #expect(metrics.body.contains("rockchipllama_time_to_first_token_seconds_bucket"))
            #expect(metrics.body.contains(#"rockchipllama_requests_in_flight{model="smollm2-135m-instruct"} 0"#))
            // Refusals that never reach a model are counted too.
            #expect(
                try await LiveGateway.send(.post, base + "/v1/chat/completions", json: #"{"model":"nope","messages":[]}"#).status
                    == 404)
            #expect(try await LiveGateway.send(.post, base + "/api/chat", json: "not json").status == 400)
            let after = try await LiveGateway.send(.get, base + "/metrics").body
            #expect(after.contains(#"rockchipllama_http_responses_total{api="openai",status="404"} 1"#))
            #expect(after.contains(#"rockchipllama_http_responses_total{api="ollama",status="400"} 1"#))
            #expect(after.contains(#"rockchipllama_http_responses_total{api="openai",status="200"} 1"#))
        }
    }

    @Test func aJSONSchemaKeywordTheGrammarCannotEnforceIsRefusedNotIgnored() async throws {
        try await LiveGateway.with { base, _ in
            let schema = #"{"type":"object","patternProperties":{"^x":{"type":"string"}}}"#
            let request = """
                {"model":"smollm2","messages":[{"role":"user","content":"Age?"}],"max_tokens":8,
                 "response_format":{"type":"json_schema","json_schema":{"name":"a","schema":\(schema)}}}
                """
            let refused = try await LiveGateway.send(.post, base + "/v1/chat/completions", json: request)
            #expect(refused.status == 400 && refused.body.contains(#""code":"unsupported""#), "\(refused.body)")
            #expect(refused.body.contains("'patternProperties'"), "\(refused.body)")
            let ollama = try await LiveGateway.send(
                .post, base + "/api/chat",
                json: #"{"model":"smollm2","messages":[{"role":"user","content":"Age?"}],"format":\#(schema)}"#)
            #expect(ollama.status == 400 && ollama.body.contains("'patternProperties'"), "\(ollama.body)")
        }
    }

    @Test func aFullQueueAnswers429WithRetryAfter() async throws {
        try await LiveGateway.with(limits: Gateway.Limits(maxInFlightPerModel: 1)) { base, _ in
            // Greedy decoding runs this story to max_tokens (a prompt asking to count can end after ~70 tokens,
            // before the second request is sent).
            let long =
                #"{"model":"smollm2","messages":[{"role":"user","content":"Write a long story about a dragon who learns to bake bread."}],"#
                + #""max_tokens":300,"temperature":0,"stream":true}"#
            let running = Task { try await LiveGateway.stream(base + "/v1/chat/completions", json: long) }
            // Wait until the first request holds the model's only place.
            let busy = #"rockchipllama_requests_in_flight{model="smollm2-135m-instruct"} 1"#
            guard
                try await eventually(
                    "the first request to hold the model",
                    {
                        try await LiveGateway.send(.get, base + "/metrics").body.contains(busy)
                    })
            else { return }
            let refused = try await LiveGateway.send(
                .post, base + "/v1/chat/completions", json: long.replacingOccurrences(of: ",\"stream\":true", with: ""))
            #expect(refused.status == 429)
            #expect(refused.headers["retry-after"] == "1")
            #expect(refused.body.contains(#""type":"rate_limit_error""#))
            running.cancel()
            _ = try? await running.value
        }
    }
}
