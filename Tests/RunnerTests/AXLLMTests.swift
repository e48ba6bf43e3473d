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
        guard let apply = try await ax.apply() else { return }
        defer { if apply.process.isRunning { kill(apply.process.processIdentifier, SIGKILL) } }

        // OpenAI, whole and streamed, and Ollama: the same greedy answer.
        let question = [("user", "What is the capital of France?")]
        // Long enough for the answer to end on its own: a reply cut short is not what the legacy session holds.
        let whole = try await ax.post("/v1/chat/completions", AXSimDeployment.chat(question, maxTokens: 200))
        #expect(whole.status == 200, "\(whole.body)")
        let answer = try #require(AXSimDeployment.content(whole.body))
        #expect(!answer.isEmpty)
        let streamed = try await ax.post("/v1/chat/completions", AXSimDeployment.chat(question, maxTokens: 200, stream: true))
        let deltas = streamed.body.split(separator: "\n").compactMap { line -> String? in
            guard line.hasPrefix("data: {") else { return nil }
            let choice = (AXSimDeployment.json(String(line.dropFirst(6)))["choices"] as? [[String: Any]])?.first
            return (choice?["delta"] as? [String: Any])?["content"] as? String
        }
        #expect(deltas.joined() == answer && streamed.body.contains("data: [DONE]"))
        let ollama = try await ax.post(
            "/api/chat",

            #"{"model": "ax", "stream": false, "messages": [{"role": "user", "content": "What is the capital of France?"}], "options": {"temperature": 0, "num_predict": 200}}"#
        )
        #expect(((AXSimDeployment.json(ollama.body)["message"] as? [String: Any])?["content"] as? String) == answer)
        let ollamaStream = try await ax.post(
            "/api/chat",

            #"{"model": "ax", "messages": [{"role": "user", "content": "What is the capital of France?"}], "options": {"temperature": 0, "num_predict": 200}}"#
        )
        let lines = ollamaStream.body.split(separator: "\n").map { AXSimDeployment.json(String($0)) }
        #expect(lines.compactMap { ($0["message"] as? [String: Any])?["content"] as? String }.joined() == answer)
        #expect(lines.last?["done"] as? Bool == true)

        // The next turn of the same conversation, then another conversation.
        let resetsBefore = ax.log.components(separatedBy: "reset: prefill").count
        let next = question + [("assistant", answer), ("user", "And of Italy?")]
        let second = try await ax.post("/v1/chat/completions", AXSimDeployment.chat(next))
        #expect(second.status == 200 && AXSimDeployment.content(second.body)?.isEmpty == false, "\(second.body)")
        switch generation {
        case .legacy:
            #expect(ax.log.components(separatedBy: "reset: prefill").count == resetsBefore, "a continued turn reset")
            let other = try await ax.post(
                "/v1/chat/completions",
                AXSimDeployment.chat([("system", "Be terse."), ("user", "Name a colour.")]))
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
                    try await ax.post(
                        "/v1/chat/completions", AXSimDeployment.chat([("user", "Say \(colour).")], maxTokens: 12))
                }
            }
            for try await answer in group {
                #expect(answer.status == 200 && AXSimDeployment.content(answer.body)?.isEmpty == false, "\(answer.body)")
            }
        }
        #expect(try await apply.terminate() == 0)
        #expect(ax.vendorPID() == nil)
    }

    /// A leaving client, a conversation too long for the context, a killed vendor server.
    @Test(arguments: AXSimDeployment.Generation.allCases)
    func recoversFromClientsThatLeaveLongConversationsAndAKilledServer(generation: AXSimDeployment.Generation)
        async throws
    {
        let ax = try AXSimDeployment(
            generation, port: generation == .serve ? 18332 : 18333, context: 256, tokenDelayMs: 20, ignoreEOS: true)
        defer { ax.device.remove() }
        guard let apply = try await ax.apply() else { return }
        defer { if apply.process.isRunning { kill(apply.process.processIdentifier, SIGKILL) } }

        // A streaming client that goes away after the first text: the server's generation stops.
        let stream = try Curl.stream(port: ax.port, model: "ax", prompt: "Count.", maxTokens: 200, in: ax.device.directory)
        // The role chunk's content is empty; two more chunks mean the generation is under way.
        #expect(try await eventually("streamed text") { stream.text.components(separatedBy: "\"content\":").count > 3 })
        // SIGKILL: this test process ignores SIGTERM (for its own graceful shutdown), and children inherit that.
        kill(stream.process.processIdentifier, SIGKILL)
        stream.process.waitUntilExit()
        let stopped = generation == .serve ? "client disconnected, generation stopped" : "stopped by /api/stop"
        #expect(
            try await eventually("the server to stop generating") { ax.log.contains(stopped) },
            "\(stream.text.prefix(1500))\n\(ax.log.suffix(2000))")
        // Well before the 200 tokens asked for (the legacy server also stops there when the engine counts them).
        let stopLine = ax.log.split(separator: "\n").last { $0.contains(stopped) } ?? ""
        let marker = generation == .serve ? "stopped after " : "generated "
        let generated = stopLine.components(separatedBy: marker).last.flatMap { Int($0.prefix { $0.isNumber }) }
        #expect((generated ?? 200) < 150, "\(stopLine)")
        let after = try await ax.post("/v1/chat/completions", AXSimDeployment.chat([("user", "Hi")], maxTokens: 4))
        #expect(after.status == 200, "the next request is served: \(after.body)")

        // More than the context holds: a clear error in each API's shape, and the model keeps serving.
        let long = String(repeating: "Tell me more about the history of every city in Europe. ", count: 40)
        let tooLong = try await ax.post("/v1/chat/completions", AXSimDeployment.chat([("user", long)]))
        #expect(tooLong.status == 400, "\(tooLong.body)")
        let error = AXSimDeployment.json(tooLong.body)["error"] as? [String: Any]
        #expect(error?["code"] as? String == "context_length_exceeded", "\(tooLong.body)")
        let ollama = try await ax.post(
            "/api/chat",
            #"{"model": "ax", "stream": false, "messages": [{"role": "user", "content": "\#(long)"}]}"#)
        #expect(ollama.status == 400 && AXSimDeployment.json(ollama.body)["error"] is String, "\(ollama.body)")

        // The vendor server killed: its worker exits and is restarted with a new server; meanwhile requests
        // fail in their API's shape, then are served again.
        let first = try #require(ax.vendorPID(), "the vendor server runs under the worker")
        let worker = try #require(ax.device.workerPid("ax"))
        kill(first, SIGKILL)
        #expect(try await ax.workerReplaced(worker))
        let during = try await ax.post("/v1/chat/completions", AXSimDeployment.chat([("user", "Hi")], maxTokens: 2))
        #expect(during.status == 200 || AXSimDeployment.json(during.body)["error"] is [String: Any], "\(during.body)")
        #expect(try await ax.answersAgain())
        #expect(ax.vendorPID().map { $0 != first } == true)
        #expect(try await apply.terminate() == 0)
        #expect(ax.vendorPID() == nil)
        #expect(kill(first, 0) != 0, "the killed server is gone")
    }

    /// A vendor server that stops answering but stays alive (SIGSTOP) is found hung, killed and replaced with
    /// its worker: idle, by the health probe; in the middle of a streamed answer, by the silence, and that
    /// client gets an error.
    @Test(arguments: AXSimDeployment.Generation.allCases)
    func aHungServerIsKilledAndReplaced(generation: AXSimDeployment.Generation) async throws {
        let ax = try AXSimDeployment(
            generation, port: generation == .serve ? 18336 : 18337, tokenDelayMs: 20, ignoreEOS: true, hangTimeout: "3s")
        defer { ax.device.remove() }
        guard let apply = try await ax.apply() else { return }
        defer { if apply.process.isRunning { kill(apply.process.processIdentifier, SIGKILL) } }
        let probe = generation == .serve ? "/health" : "/api/generate_provider"
        let poll = generation == .serve ? "/v1/chat/completions" : "/api/generate_provider"

        // Idle: nothing asks the server anything but the health probe.
        let idle = try #require(ax.vendorPID(), "the vendor server runs under the worker")
        let firstWorker = try #require(ax.device.workerPid("ax"))
        kill(idle, SIGSTOP)
        defer { kill(idle, SIGKILL) }
        #expect(try await ax.workerReplaced(firstWorker), "\(ax.log.suffix(2000))")
        #expect(try await eventually("the hung server to be killed") { AXSimDeployment.exited(idle) })
        #expect(
            ax.log.contains("the AXERA server left \(probe) unanswered for 3s; the vendor processes were killed"),
            "\(ax.log.suffix(2000))")
        #expect(try await ax.answersAgain())

        // Busy: the server goes silent in the middle of a streamed answer.
        let busy = try #require(ax.vendorPID())
        #expect(busy != idle)
        let secondWorker = try #require(ax.device.workerPid("ax"))
        let stream = try Curl.stream(port: ax.port, model: "ax", prompt: "Count.", maxTokens: 400, in: ax.device.directory)
        #expect(try await eventually("streamed text") { stream.text.components(separatedBy: "\"content\":").count > 3 })
        kill(busy, SIGSTOP)
        defer { kill(busy, SIGKILL) }
        #expect(try await eventually("the client's stream to end") { stream.finished }, "\(stream.text.suffix(500))")
        #expect(stream.text.contains("error"), "the client is told: \(stream.text.suffix(500))")
        #expect(try await ax.workerReplaced(secondWorker), "\(ax.log.suffix(2000))")
        #expect(try await eventually("the hung server to be killed") { AXSimDeployment.exited(busy) })
        #expect(
            ax.log.contains("the AXERA server left \(poll) unanswered for 3s; the vendor processes were killed"),
            "\(ax.log.suffix(2000))")
        #expect(try await ax.answersAgain())
        #expect(try await apply.terminate() == 0)
    }

    /// A model directory the server cannot start from is refused by apply, which changes nothing.
    @Test(arguments: AXSimDeployment.Generation.allCases)
    func aBadModelDirectoryIsRefusedBeforeAnythingChanges(generation: AXSimDeployment.Generation) async throws {
        let ax = try AXSimDeployment(generation, port: generation == .serve ? 18334 : 18335)
        defer { ax.device.remove() }
        let broken: String
        switch generation {
        case .serve:
            let config = ax.model.appendingPathComponent("config.json")
            var json = AXSimDeployment.json(try String(contentsOf: config, encoding: .utf8))
            json["axmodel_num"] = nil
            try JSONSerialization.data(withJSONObject: json).write(to: config)
            broken = "has no 'axmodel_num'"
        case .legacy:
            try FileManager.default.removeItem(at: ax.model.appendingPathComponent("smollm2_p128_l1_together.axmodel"))
            broken = "smollm2_p128_l1_together.axmodel, named in the server's arguments, does not exist"
        }
        let apply = try RunnerProcess.run(
            ["apply", ax.manifestURL.path, "--state-dir", ax.device.state.path], environment: ax.environment)
        #expect(apply.status != 0)
        #expect(apply.stderr.contains(broken), "\(apply.stderr)")
        #expect(!FileManager.default.fileExists(atPath: ax.device.state.appendingPathComponent("applied.json").path))
        #expect(ax.device.workerPid("ax") == nil)
    }
}
