import Foundation
import TestSupport
import Testing

/// `runner apply` away from the repository and with things missing: the library found from the executable,
/// a bad library refused up front, a model whose worker keeps failing served as unavailable (with the
/// reason in `runner status`), and an apply in progress shown as such.
@Suite(.serialized)
struct ApplyAnywhereTests {
    let port = 18195

    /// PATH and HOME only: no RUNNER_LLAMA_LIBRARY, so the runner has to find the library itself.
    let bareEnvironment = ["PATH": "/usr/bin:/bin", "HOME": NSTemporaryDirectory()]

    func writeManifest(in directory: URL, model: String, runtimes: String = "") throws -> URL {
        let manifest = directory.appendingPathComponent("device.yaml")
        try """
        apiVersion: rockchipllama/v1
        kind: Device
        metadata: {name: anywhere}
        \(runtimes)
        models:
          - name: smollm2
            source: {path: \(model)}
            context: 512
            llamacpp: {threads: 2, parallel: 1}
        endpoints:
          - {name: local, listen: "127.0.0.1:\(port)", apis: [openai, ollama]}
        """.write(to: manifest, atomically: true, encoding: .utf8)
        return manifest
    }

    @Test func applyFromAnotherDirectoryFindsTheLibraryFromTheExecutable() async throws {
        let device = try ServedDevice()
        defer { device.remove() }
        let manifest = try writeManifest(in: device.directory, model: ServedDevice.model)
        let apply = try RunnerProcess.start(
            ["apply", manifest.path, "--state-dir", device.state.path], environment: bareEnvironment, in: device.directory)
        defer { if apply.process.isRunning { kill(apply.process.processIdentifier, SIGKILL) } }

        try await eventually("/readyz to answer 200") {
            guard apply.process.isRunning else { return true }
            return (try? Curl.request("http://127.0.0.1:\(port)/readyz"))?.status == 200
        }
        let answer = try Curl.chat(port: port, model: "smollm2", prompt: "What is the capital of France?", maxTokens: 16)
        #expect(answer.status == 200, "\(answer.body)")
        #expect(answer.body.contains("Paris"))
        #expect(try await apply.terminate() == 0)
        #expect(!apply.output().stderr.contains("exited with status"), "\(apply.output().stderr)")
    }

    @Test func aLibraryThatCannotBeOpenedIsRefusedBeforeAnythingChanges() throws {
        let device = try ServedDevice()
        defer { device.remove() }
        let library = device.directory.appendingPathComponent("libllama.so")
        try "not a library".write(to: library, atomically: true, encoding: .utf8)
        let manifest = try writeManifest(
            in: device.directory, model: ServedDevice.model, runtimes: "runtimes: {llamacpp: {library: \(library.path)}}")

        let result = try RunnerProcess.run(
            ["apply", manifest.path, "--state-dir", device.state.path], environment: bareEnvironment, in: device.directory)
        #expect(result.status == 1)
        #expect(
            result.stderr.contains("error: model smollm2: llama.cpp library: cannot open \(library.path): "), "\(result.stderr)")
        #expect(result.stderr.contains("nothing was changed"))
        #expect(!FileManager.default.fileExists(atPath: device.state.appendingPathComponent("applied.json").path))
        #expect(device.worker("smollm2") == nil, "no worker was started")
    }

    @Test func aWorkerThatKeepsFailingLeavesTheEndpointUpAndItsReasonInStatus() async throws {
        let device = try ServedDevice()
        defer { device.remove() }
        let broken = device.directory.appendingPathComponent("broken.gguf")
        try "this is not a GGUF file".write(to: broken, atomically: true, encoding: .utf8)
        let manifest = try writeManifest(in: device.directory, model: broken.path)
        let apply = try RunnerProcess.start(
            ["apply", manifest.path, "--state-dir", device.state.path], environment: bareEnvironment, in: device.directory)
        defer { if apply.process.isRunning { kill(apply.process.processIdentifier, SIGKILL) } }

        let base = "http://127.0.0.1:\(port)"
        try await eventually("/healthz to answer") {
            guard apply.process.isRunning else { return true }
            return (try? Curl.request("\(base)/healthz"))?.status == 200
        }
        #expect(apply.process.isRunning, "apply keeps running: \(apply.output().stderr)")
        #expect(apply.output().stderr.contains("error: model smollm2 is not running (restarting it with backoff)"))
        #expect(try Curl.request("\(base)/readyz").status == 503)

        let (openAI, openAIHeaders) = try Curl.requestWithHeaders(
            "\(base)/v1/chat/completions", body: Curl.chatBody("smollm2", "Hi", maxTokens: 4))
        #expect(openAI.status == 503)
        #expect(openAIHeaders["retry-after"] != nil)
        let openAIError = try JSONSerialization.jsonObject(with: Data(openAI.body.utf8)) as? [String: Any]
        #expect((openAIError?["error"] as? [String: Any])?["message"] is String, "\(openAI.body)")

        let ollamaBody = #"{"model": "smollm2", "messages": [{"role": "user", "content": "Hi"}], "stream": false}"#
        let (ollama, ollamaHeaders) = try Curl.requestWithHeaders("\(base)/api/chat", body: ollamaBody)
        #expect(ollama.status == 503)
        #expect(ollamaHeaders["retry-after"] != nil)
        let ollamaError = try JSONSerialization.jsonObject(with: Data(ollama.body.utf8)) as? [String: Any]
        #expect(ollamaError?["error"] is String, "\(ollama.body)")

        // The supervisor logged the end of the worker's output, and status shows it with the model.
        #expect(apply.output().stderr.contains("worker exited with status 1; the end of its log:"))
        var status = RunnerProcess.Output(status: -1, stdout: "", stderr: "")
        try await eventually("status to show the worker's last exit") {
            status = try RunnerProcess.run(["status", "--state-dir", device.state.path], environment: bareEnvironment)
            return status.stdout.contains("last exit: exited with status 1")
        }
        // Between restarts the worker is not running; during one (backoff on a loaded machine) it runs but does
        // not answer. Either way it is not serving.
        let line = status.stdout.split(separator: "\n").first { $0.contains("model smollm2 [llamacpp]:") } ?? ""
        #expect(line.contains(": not running") || line.contains(", not answering"), "\(status.stdout)")
        #expect(status.stdout.contains("      | "), "the log's last lines: \(status.stdout)")
        #expect(status.stdout.contains(broken.path), "the log names the file it could not load: \(status.stdout)")
        let json = try RunnerProcess.run(["status", "--json", "--state-dir", device.state.path], environment: bareEnvironment)
        let parsed = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        let worker = ((parsed?["models"] as? [[String: Any]])?.first?["worker"]) as? [String: Any]
        let lastExit = worker?["lastExit"] as? [String: Any]
        #expect(lastExit?["reason"] as? String == "exited with status 1", "\(json.stdout)")
        // Only the last process's own output: one failure, not every attempt's.
        let log = (lastExit?["log"] as? [String]) ?? []
        #expect(log.count <= 20 && log.filter { $0.contains("could not load the model") }.count == 1, "\(log)")
        #expect(try await apply.terminate() == 0)
    }

    @Test func statusShowsAnApplyInProgress() async throws {
        let device = try ServedDevice()
        defer { device.remove() }
        // A model "file" that is a FIFO: the worker's open blocks until a writer comes, so the apply stays
        // in its start-up for as long as the test needs it to.
        let fifo = device.directory.appendingPathComponent("slow.gguf")
        #expect(mkfifo(fifo.path, 0o644) == 0)
        let manifest = try writeManifest(in: device.directory, model: fifo.path)
        let apply = try RunnerProcess.start(
            ["apply", manifest.path, "--state-dir", device.state.path, "--readiness-timeout", "120"],
            environment: bareEnvironment, in: device.directory)
        defer { if apply.process.isRunning { kill(apply.process.processIdentifier, SIGKILL) } }

        let pid = apply.process.processIdentifier
        var status = RunnerProcess.Output(status: -1, stdout: "", stderr: "")
        try await eventually("status to show the apply in progress") {
            status = try RunnerProcess.run(["status", "--state-dir", device.state.path], environment: bareEnvironment)
            return status.stdout.contains("applying 'anywhere' since ") || !apply.process.isRunning
        }
        #expect(status.stdout.contains("(pid \(pid))"), "\(status.stdout)")
        let json = try RunnerProcess.run(["status", "--json", "--state-dir", device.state.path], environment: bareEnvironment)
        let applying = (try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])?["applying"]
        #expect((applying as? [String: Any])?["pid"] as? Int == Int(pid), "\(json.stdout)")

        // Killed before it finished: its record is stale, and status says nothing was applied.
        kill(pid, SIGKILL)
        try await eventually("apply to die") { !apply.process.isRunning }
        let after = try RunnerProcess.run(["status", "--state-dir", device.state.path], environment: bareEnvironment)
        #expect(after.stdout.contains("nothing applied yet"), "\(after.stdout)")
        // Its worker is still blocked on the FIFO; a writer lets it go (it exits once its parent is gone).
        if let worker = device.workerPid("smollm2") {
            let writer = open(fifo.path, O_WRONLY | O_NONBLOCK)
            if writer >= 0 { close(writer) }
            // No command line once it has exited (gone, or a zombie waiting for whoever adopted it).
            try await eventually("the orphaned worker to exit") {
                ((try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(worker)/cmdline"))) ?? Data()).isEmpty
            }
        }
    }
}
