import Engine
import Foundation
import TestSupport
import Testing
import Worker

/// `runner apply` for real: a supervisor process, a worker process on the real model, and signals.
@Suite(.serialized)
struct ApplyCommandTests {
    struct Device {
        let directory: URL
        let manifest: URL
        var state: URL { directory.appendingPathComponent("state") }
        var record: URL { state.appendingPathComponent("workers/smollm2.json") }
        var socket: String { state.appendingPathComponent("workers/smollm2.sock").path }
    }

    func makeDevice() throws -> Device {
        let directory = try RunnerProcess.temporaryDirectory()
        let model =
            ProcessInfo.processInfo.environment["RUNNER_TEST_MODEL"]
            ?? RunnerProcess.repository.appendingPathComponent(".deps/models/SmolLM2-135M-Instruct.Q4_1.gguf").path
        let manifest = directory.appendingPathComponent("device.yaml")
        try """
        apiVersion: rockchipllama/v1
        kind: Device
        metadata: {name: test-device}
        models:
          - name: smollm2
            source: {path: \(model)}
            context: 512
            llamacpp: {threads: 2, parallel: 2}
            promptCaches: [{name: brief, system: You answer in one short sentence.}]
        endpoints:
          - {name: local, listen: "127.0.0.1:18080"}
        """.write(to: manifest, atomically: true, encoding: .utf8)
        return Device(directory: directory, manifest: manifest)
    }

    /// The child's environment: the library location the Makefile exports, and nothing else of ours.
    var environment: [String: String] {
        var environment = ["PATH": "/usr/bin:/bin", "HOME": NSTemporaryDirectory()]
        environment["RUNNER_LLAMA_LIBRARY"] = LlamaLibraryLocator.locate(
            manifestLibrary: nil, workingDirectory: RunnerProcess.repository.path)
        return environment
    }

    func record(_ device: Device) -> (pid: Int32, started: String)? {
        guard let data = try? Data(contentsOf: device.record),
            let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any], let pid = json["pid"] as? Int
        else { return nil }
        return (Int32(pid), json["startedAt"] as? String ?? "")
    }

    @Test func applySupervisesAWorkerRestartsItAfterSIGKILLAndStopsItOnSIGTERM() async throws {
        let device = try makeDevice()
        defer { try? FileManager.default.removeItem(at: device.directory) }
        let apply = try RunnerProcess.start(
            ["apply", device.manifest.path, "--state-dir", device.state.path], environment: environment)
        defer { if apply.process.isRunning { kill(apply.process.processIdentifier, SIGKILL) } }
        let client = WorkerClient(socketPath: device.socket)

        try await eventually("the worker to answer") { (try? await client.health()) != nil }
        let first = try #require(record(device))
        #expect(kill(first.pid, 0) == 0)

        // Real text through the worker the supervisor started, with the preset it built.
        var text = ""
        var usage: Usage?
        let request = GenerationRequest(
            input: .messages([.system("You answer in one short sentence."), .user("What is the capital of France?")]),
            sampling: Sampling(temperature: 0), maxTokens: 24)
        for try await event in try await client.generate(request) {
            if case .text(let delta, _) = event { text += delta }
            if case .done(let completion) = event { usage = completion.usage }
        }
        #expect(text.contains("Paris"))
        #expect((usage?.cachedPromptTokens ?? 0) > 0, "the system prompt comes from the preset")

        // SIGKILL the worker: the supervisor notices and starts a new one.
        kill(first.pid, SIGKILL)
        try await eventually("a replacement worker") {
            guard let now = record(device), now.pid != first.pid else { return false }
            return (try? await client.health()) != nil
        }
        let second = try #require(record(device))
        #expect(second.pid != first.pid && kill(second.pid, 0) == 0)

        // SIGTERM the supervisor: it stops the worker and exits cleanly.
        kill(apply.process.processIdentifier, SIGTERM)
        try await eventually("apply to exit", timeout: .seconds(30)) { !apply.process.isRunning }
        #expect(apply.process.terminationStatus == 0)
        #expect(kill(second.pid, 0) != 0, "worker stopped")
        #expect(!FileManager.default.fileExists(atPath: device.record.path))
        let output = apply.output()
        #expect(output.stdout.contains("applied 'test-device': 1 model loaded; serving local on 127.0.0.1:18080"))
        #expect(output.stderr.contains("worker was killed by signal 9"))

        // What was applied is recorded; planning the same manifest again changes nothing but the worker.
        let plan = try RunnerProcess.run(
            ["plan", device.manifest.path, "--state-dir", device.state.path], environment: environment)
        #expect(plan.stdout.contains("+ worker smollm2"))
        #expect(plan.stdout.contains("= cache smollm2/brief"), "the preset the worker built is seen as built")
        #expect(plan.stdout.contains("= endpoint local"))
    }

    @Test func aSecondApplyOnTheSameStateIsRefused() async throws {
        let device = try makeDevice()
        defer { try? FileManager.default.removeItem(at: device.directory) }
        let apply = try RunnerProcess.start(
            ["apply", device.manifest.path, "--state-dir", device.state.path], environment: environment)
        defer { if apply.process.isRunning { kill(apply.process.processIdentifier, SIGKILL) } }
        let client = WorkerClient(socketPath: device.socket)
        try await eventually("the worker to answer") { (try? await client.health()) != nil }
        let second = try RunnerProcess.run(
            ["apply", device.manifest.path, "--state-dir", device.state.path], environment: environment)
        #expect(second.status == 1)
        #expect(second.stderr.contains("another runner apply (pid \(apply.process.processIdentifier)) manages"))
        kill(apply.process.processIdentifier, SIGTERM)
        try await eventually("apply to exit", timeout: .seconds(30)) { !apply.process.isRunning }
    }
}
