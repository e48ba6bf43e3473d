import Foundation
import TestSupport
import Testing

/// `runner apply` on an axllm manifest against AXSim, in both server generations: OpenAI and Ollama chat,
/// streamed and not; a continued conversation sends only its new turn, another conversation resets; clients
/// that come together are served in turn; a client that leaves stops the generation; a conversation that does
/// not fit is refused clearly; a killed vendor server is restarted with its worker; a bad model directory is
/// refused before anything changes.
@Suite(.serialized)
struct AXLLMTests {
    @Test(arguments: AXSimDeployment.Generation.allCases)
    func servesChatAndFollowsTheConversation(generation: AXSimDeployment.Generation) async throws {
        let ax = try AXSimDeployment(generation, port: generation == .serve ? 18330 : 18331)
        defer { ax.device.remove() }
        let apply = try RunnerProcess.start(
            ["apply", ax.manifestURL.path, "--state-dir", ax.device.state.path], environment: ax.environment)
        defer { if apply.process.isRunning { kill(apply.process.processIdentifier, SIGKILL) } }
        let ready = try await eventually("the axllm model to answer", timeout: .seconds(90)) {
            guard apply.process.isRunning else { return true }
            return (try? Curl.request(ax.base + "/v1/chat/completions", body: AXSimDeployment.chat([("user", "Hi")])))?
                .status == 200
        }
        guard ready, apply.process.isRunning else {
            Issue.record("runner apply exited: \(apply.output().stderr)\n\(ax.log)")
            return
        }

        // OpenAI, whole and streamed, and Ollama: the same greedy answer.
        let question = [("user", "What is the capital of France?")]
        // Long enough for the answer to end on its own: a reply cut short is not what the legacy session holds.
        let whole = try Curl.request(ax.base + "/v1/chat/completions", body: AXSimDeployment.chat(question, maxTokens: 200))
        #expect(whole.status == 200, "\(whole.body)")
        let answer = try #require(AXSimDeployment.content(whole.body))
        #expect(!answer.isEmpty)
        let streamed = try Curl.request(
            ax.base + "/v1/chat/completions", body: AXSimDeployment.chat(question, maxTokens: 200, stream: true))
        let deltas = streamed.body.split(separator: "\n").compactMap { line -> String? in
            guard line.hasPrefix("data: {") else { return nil }
            let choice = (AXSimDeployment.json(String(line.dropFirst(6)))["choices"] as? [[String: Any]])?.first
            return (choice?["delta"] as? [String: Any])?["content"] as? String
        }
        #expect(deltas.joined() == answer && streamed.body.contains("data: [DONE]"))
        let ollama = try Curl.request(
            ax.base + "/api/chat",
            body:
                #"{"model": "ax", "stream": false, "messages": [{"role": "user", "content": "What is the capital of France?"}], "options": {"temperature": 0, "num_predict": 200}}"#
        )
        #expect(((AXSimDeployment.json(ollama.body)["message"] as? [String: Any])?["content"] as? String) == answer)
        let ollamaStream = try Curl.request(
            ax.base + "/api/chat",
            body:
                #"{"model": "ax", "messages": [{"role": "user", "content": "What is the capital of France?"}], "options": {"temperature": 0, "num_predict": 200}}"#
        )
        let lines = ollamaStream.body.split(separator: "\n").map { AXSimDeployment.json(String($0)) }
        #expect(lines.compactMap { ($0["message"] as? [String: Any])?["content"] as? String }.joined() == answer)
        #expect(lines.last?["done"] as? Bool == true)

        // The next turn of the same conversation, then another conversation.
        let resetsBefore = ax.log.components(separatedBy: "reset: prefill").count
        let next = question + [("assistant", answer), ("user", "And of Italy?")]
        let second = try Curl.request(ax.base + "/v1/chat/completions", body: AXSimDeployment.chat(next))
        #expect(second.status == 200 && AXSimDeployment.content(second.body)?.isEmpty == false, "\(second.body)")
        switch generation {
        case .legacy:
            #expect(ax.log.components(separatedBy: "reset: prefill").count == resetsBefore, "a continued turn reset")
            let other = try Curl.request(
                ax.base + "/v1/chat/completions",
                body: AXSimDeployment.chat([("system", "Be terse."), ("user", "Name a colour.")]))
            #expect(other.status == 200)
            #expect(ax.log.components(separatedBy: "reset: prefill").count == resetsBefore + 1, "another conversation")
        case .serve:
            let reuse = ax.log.components(separatedBy: "prefix reuse: kept ").last ?? ""
            #expect((Int(reuse.prefix { $0.isNumber }) ?? 0) > 10, "the server reused the conversation's prefix")
        }

        // Three clients at once are served in turn, none lost.
        try await withThrowingTaskGroup(of: Curl.Answer.self) { group in
            for colour in ["red", "green", "blue"] {
                group.addTask {
                    try await Curl.waiting {
                        try Curl.request(
                            ax.base + "/v1/chat/completions",
                            body: AXSimDeployment.chat([("user", "Say \(colour).")], maxTokens: 12))
                    }
                }
            }
            for try await answer in group {
                #expect(answer.status == 200 && AXSimDeployment.content(answer.body)?.isEmpty == false, "\(answer.body)")
            }
        }
        #expect(try await apply.terminate() == 0)
        #expect(ax.vendorPID() == nil)
    }
}
