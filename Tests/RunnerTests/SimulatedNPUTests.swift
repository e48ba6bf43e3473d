import Engine
import Foundation
import TestSupport
import Testing
import Worker

/// `runner apply` with an rkllm model on RKLLMSim, the librkllmrt.so simulator: a worker process hosts the
/// rkllm engine, and a library the engine cannot use is refused before anything starts.
@Suite(.serialized)
struct SimulatedNPUTests {
    let directory: URL
    var state: URL { directory.appendingPathComponent("state") }

    init() throws { directory = try RunnerProcess.temporaryDirectory() }

    func manifest(library: String, abi: String) throws -> URL {
        let model =
            ProcessInfo.processInfo.environment["RUNNER_TEST_MODEL"]
            ?? RunnerProcess.repository.appendingPathComponent(".deps/models/SmolLM2-135M-Instruct.Q4_1.gguf").path
        let url = directory.appendingPathComponent("sim-\(abi).yaml")
        try """
        apiVersion: rockchipllama/v1
        kind: Device
        metadata: {name: sim-device}
        runtimes:
          rkllm: {library: \(library), abi: "\(abi)"}
        models:
          - name: npu
            engine: rkllm
            source: {path: \(model)}
            context: 1024
            sampling: {temperature: 0}
            promptCaches: [{name: brief, system: You answer in one short sentence.}]
        endpoints:
          - {name: local, listen: "127.0.0.1:18081"}
        """.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    /// Resolved, as the runner names it (in a git worktree `.deps` may be a symlink into another checkout).
    func simulator(_ abi: String) -> String {
        RunnerProcess.repository.appendingPathComponent(".deps/rkllmsim/\(abi)/librkllmrt.so").resolvingSymlinksInPath().path
    }

    let environment = ["PATH": "/usr/bin:/bin", "HOME": NSTemporaryDirectory()]

    /// Each ABI build of the simulator, and the version it reports.
    static let builds = [("1.2", "1.2.3"), ("1.3", "1.3.0")]

    @Test(arguments: builds) func applyServesAnRKLLMModelFromAWorker(abi: String, version: String) async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = try manifest(library: simulator(abi), abi: "auto")
        let apply = try RunnerProcess.start(["apply", file.path, "--state-dir", state.path], environment: environment)
        defer { if apply.process.isRunning { kill(apply.process.processIdentifier, SIGKILL) } }
        let client = WorkerClient(socketPath: state.appendingPathComponent("workers/npu.sock").path)
        let answered = try await eventually("the worker to answer") {
            guard apply.process.isRunning else { return true }
            return (try? await client.health()) != nil
        }
        guard answered else { return }
        guard apply.process.isRunning else {
            Issue.record("runner apply exited: \(apply.output().stderr)")
            return
        }
        var text = ""
        var usage: Usage?
        let request = GenerationRequest(
            input: .messages([.system("You answer in one short sentence."), .user("What is the capital of France?")]),
            sampling: .greedy, maxTokens: 24)
        for try await event in try await client.generate(request) {
            if case .text(let delta, _) = event { text += delta }
            if case .done(let completion) = event { usage = completion.usage }
        }
        #expect(text.contains("Paris"))
        #expect((usage?.cachedPromptTokens ?? 0) > 0, "the preset the worker built was loaded")
        let status = await client.status()
        #expect(status.engine == "rkllm" && status.runtimeVersion == version)
        #expect(status.promptCaches == ["brief"] && status.promptCacheFailures == [])

        // Through the gateway over HTTP, as a client sees it.
        let answer = try Curl.chat(port: 18081, model: "npu", prompt: "What is the capital of France?", maxTokens: 24)
        #expect(answer.status == 200, "\(answer.body)")
        #expect(answer.body.contains("Paris"), "\(answer.body)")
        // Runtime 1.2 takes sampling only at load: a request asking for other values is refused, not run
        // with the model's; 1.3 runs it. A seed no runtime has is refused on both.
        let warmer = try Curl.request(
            "http://127.0.0.1:18081/v1/chat/completions",
            body: #"{"model": "npu", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4, "temperature": 0.9}"#)
        #expect(warmer.status == (abi == "1.2" ? 400 : 200), "\(warmer.body)")
        let seeded = try Curl.request(
            "http://127.0.0.1:18081/v1/chat/completions",
            body: #"{"model": "npu", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4, "seed": 7}"#)
        #expect(seeded.status == 400 && seeded.body.contains("no seed"), "\(seeded.body)")

        #expect(try await apply.terminate() == 0)
    }

    @Test func aLibraryOfAnotherABIOrNoLibraryIsRefusedBeforeAnythingStarts() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let wrong = try RunnerProcess.run(
            ["apply", try manifest(library: simulator("1.3"), abi: "1.2").path, "--state-dir", state.path],
            environment: environment)
        #expect(wrong.status == 1)
        #expect(
            wrong.stderr.contains(
                "model npu: runtimes.rkllm.abi is \"1.2\" but \(simulator("1.3")) is runtime 1.3.0, which has the 1.3 ABI"))
        #expect(wrong.stderr.contains("nothing was changed"))
        let missing = try RunnerProcess.run(
            ["apply", try manifest(library: "/nonexistent/librkllmrt.so", abi: "auto").path, "--state-dir", state.path],
            environment: environment)
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("the rkllm runtime /nonexistent/librkllmrt.so does not exist"))
        #expect(!FileManager.default.fileExists(atPath: state.appendingPathComponent("applied.json").path))
    }
}
