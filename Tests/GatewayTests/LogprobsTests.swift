import Foundation
import HTTPTypes
import TestSupport
import Testing

/// Log-probabilities from the real SmolLM2, through OpenAI chat and completions and Ollama chat and generate,
/// whole and streamed, in process and through a worker process: one entry per generated token, whose texts
/// make the answer, and at temperature 0 the sampled token is the most likely one.
struct LogprobsTests {
    typealias Entry = (token: String, logprob: Double, bytes: [Int], top: [(token: String, logprob: Double)])

    static func entries(_ list: Any?) -> [Entry] {
        (list as? [[String: Any]] ?? []).map { entry in
            let top = (entry["top_logprobs"] as? [[String: Any]] ?? []).map {
                (token: $0["token"] as? String ?? "", logprob: $0["logprob"] as? Double ?? .nan)
            }
            return (
                entry["token"] as? String ?? "", entry["logprob"] as? Double ?? .nan, entry["bytes"] as? [Int] ?? [], top
            )
        }
    }

    /// What every list of entries must satisfy at temperature 0 with `top` alternatives asked for.
    static func check(_ entries: [Entry], top: Int, text: String, tokens: Int?, _ context: String) {
        #expect(!entries.isEmpty, "\(context): no log-probabilities")
        if let tokens { #expect(entries.count == tokens, "\(context): \(entries.count) entries for \(tokens) tokens") }
        #expect(entries.map(\.token).joined() == text, "\(context): the tokens do not make the answer")
        for entry in entries {
            #expect(entry.logprob <= 0 && entry.logprob.isFinite, "\(context): logprob \(entry.logprob)")
            #expect(String(decoding: entry.bytes.map { UInt8($0) }, as: UTF8.self) == entry.token, "\(context): bytes")
            #expect(entry.top.count == top, "\(context): \(entry.top.count) alternatives, asked for \(top)")
            guard let best = entry.top.first else { continue }
            #expect(best.token == entry.token && abs(best.logprob - entry.logprob) < 1e-9, "\(context): greedy pick")
            #expect(zip(entry.top, entry.top.dropFirst()).allSatisfy { $0.logprob >= $1.logprob }, "\(context): order")
            #expect(entry.top.map { exp($0.logprob) }.reduce(0, +) <= 1 + 1e-6, "\(context): probabilities")
        }
    }

    static func json(_ text: some StringProtocol) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]) ?? [:]
    }

    static func events(_ chunks: [String]) -> [[String: Any]] {
        chunks.joined().split(separator: "\n").compactMap { line in
            line.hasPrefix("data: {") ? json(line.dropFirst(6)) : line.hasPrefix("{") ? json(line) : nil
        }
    }

    static let chat =
        #"{"model": "smollm2", "messages": [{"role": "user", "content": "Name three colours."}], "temperature": 0, "max_tokens": 16, "logprobs": true, "top_logprobs": 3"#

    @Test(arguments: LiveBackend.allCases)
    func openAIChatWholeAndStreamed(backend: LiveBackend) async throws {
        try await LiveGateway.with(backend: backend) { base, _ in
            let whole = try await LiveGateway.send(.post, base + "/v1/chat/completions", json: Self.chat + "}")
            #expect(whole.status == 200, "\(whole.body)")
            let answer = Self.json(whole.body)
            let choice = (answer["choices"] as? [[String: Any]])?.first ?? [:]
            let content = (choice["message"] as? [String: Any])?["content"] as? String ?? ""
            let usage = answer["usage"] as? [String: Any]
            let entries = Self.entries((choice["logprobs"] as? [String: Any])?["content"])
            Self.check(entries, top: 3, text: content, tokens: usage?["completion_tokens"] as? Int, "chat")

            let streamed = try await LiveGateway.stream(base + "/v1/chat/completions", json: Self.chat + #", "stream": true}"#)
            #expect(streamed.status == 200)
            let chunks = Self.events(streamed.chunks).compactMap { ($0["choices"] as? [[String: Any]])?.first }
            let text = chunks.compactMap { ($0["delta"] as? [String: Any])?["content"] as? String }.joined()
            let streamedEntries = chunks.flatMap { Self.entries(($0["logprobs"] as? [String: Any])?["content"]) }
            Self.check(streamedEntries, top: 3, text: text, tokens: entries.count, "chat stream")
            #expect(streamedEntries.map(\.logprob) == entries.map(\.logprob), "the stream's logprobs differ")
        }
    }

    @Test func openAICompletions() async throws {
        try await LiveGateway.with { base, _ in
            let body = #"{"model": "smollm2", "prompt": "The sky is", "temperature": 0, "max_tokens": 10, "logprobs": 2"#
            let whole = try await LiveGateway.send(.post, base + "/v1/completions", json: body + "}")
            #expect(whole.status == 200, "\(whole.body)")
            let choice = (Self.json(whole.body)["choices"] as? [[String: Any]])?.first ?? [:]
            let logprobs = choice["logprobs"] as? [String: Any] ?? [:]
            let tokens = logprobs["tokens"] as? [String] ?? []
            let values = logprobs["token_logprobs"] as? [Double] ?? []
            let tops = logprobs["top_logprobs"] as? [[String: Double]] ?? []
            let offsets = logprobs["text_offset"] as? [Int] ?? []
            #expect(tokens.joined() == choice["text"] as? String)
            #expect(tokens.count == 10 && values.count == 10 && tops.count == 10 && offsets.count == 10)
            for (index, token) in tokens.enumerated() where index < tops.count && index < values.count {
                #expect(tops[index].count <= 2 && tops[index][token] == values[index], "position \(index): \(tops[index])")
            }
            #expect(offsets.first == 0 && zip(offsets, offsets.dropFirst()).allSatisfy { $0 <= $1 })

            let streamed = try await LiveGateway.stream(base + "/v1/completions", json: body + #", "stream": true}"#)
            let chunks = Self.events(streamed.chunks).compactMap {
                ($0["choices"] as? [[String: Any]])?.first?["logprobs"] as? [String: Any]
            }
            #expect(chunks.flatMap { $0["tokens"] as? [String] ?? [] } == tokens)
            #expect(chunks.flatMap { $0["text_offset"] as? [Int] ?? [] } == offsets)
        }
    }

    @Test func ollamaChatAndGenerate() async throws {
        try await LiveGateway.with { base, _ in
            let options = #""options": {"temperature": 0, "num_predict": 12}, "logprobs": true, "top_logprobs": 2"#
            let chat = try await LiveGateway.stream(
                base + "/api/chat",
                json: #"{"model": "smollm2", "messages": [{"role": "user", "content": "Say hello."}], \#(options)}"#)
            #expect(chat.status == 200)
            let lines = Self.events(chat.chunks)
            let text = lines.compactMap { ($0["message"] as? [String: Any])?["content"] as? String }.joined()
            let entries = lines.flatMap { Self.entries($0["logprobs"]) }
            Self.check(entries, top: 2, text: text, tokens: lines.last?["eval_count"] as? Int, "ollama chat stream")

            let generate = try await LiveGateway.send(
                .post, base + "/api/generate",
                json: #"{"model": "smollm2", "prompt": "Say hello.", "stream": false, \#(options)}"#)
            #expect(generate.status == 200, "\(generate.body)")
            let answer = Self.json(generate.body)
            Self.check(
                Self.entries(answer["logprobs"]), top: 2, text: answer["response"] as? String ?? "",
                tokens: answer["eval_count"] as? Int, "ollama generate")
        }
    }

    @Test func outOfRangeRequestsAreRefused() async throws {
        try await LiveGateway.with { base, _ in
            let message = #""messages": [{"role": "user", "content": "Hi"}]"#
            let cases: [(path: String, body: String, expected: String)] = [
                (
                    "/v1/chat/completions", #"{"model": "smollm2", \#(message), "logprobs": true, "top_logprobs": 21}"#,
                    "top_logprobs"
                ),
                ("/v1/chat/completions", #"{"model": "smollm2", \#(message), "top_logprobs": 2}"#, "logprobs: true"),
                ("/v1/completions", #"{"model": "smollm2", "prompt": "Hi", "logprobs": 6}"#, "between 0 and 5"),
                ("/api/chat", #"{"model": "smollm2", \#(message), "logprobs": true, "top_logprobs": 30}"#, "top_logprobs"),
            ]
            for item in cases {
                let answer = try await LiveGateway.send(.post, base + item.path, json: item.body)
                #expect(answer.status == 400, "\(item.body): \(answer.body)")
                #expect(answer.body.contains(item.expected), "\(item.body): \(answer.body)")
            }
        }
    }
}
