import Foundation
import TestSupport
import Testing

/// `runner serve` with two models in two worker processes (llama.cpp and RKLLMSim): a worker killed in the
/// middle of a stream fails that stream alone and comes back; a worker that hangs is restarted; SIGTERM
/// lets a running stream finish before the runner exits.
@Suite(.serialized)
struct ServeSupervisionTests {
    let port = 18090

    func manifest(_ device: ServedDevice) throws -> URL {
        let url = device.directory.appendingPathComponent("device.yaml")
        try """
        apiVersion: rockchipllama/v1
        kind: Device
        metadata: {name: two-models}
        runtimes:
          rkllm: {library: \(ServedDevice.simulator)}
        models:
          - name: cpu
            source: {path: \(ServedDevice.model)}
            context: 512
            llamacpp: {threads: 1, parallel: 2}
          - name: npu
            engine: rkllm
            source: {path: \(ServedDevice.model)}
            context: 512
            npu: {cpus: [1]}
        endpoints:
          - {name: local, listen: "127.0.0.1:\(port)"}
        """.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    /// Greedy decoding runs this to any max_tokens up to ~400 (a prompt that asks for counting stops after ~15 tokens).
    let longAnswer = "Write a long story about a dragon who learns to bake bread."

    @Test func aKilledWorkerFailsOnlyItsOwnStreamAndComesBackAndAHungOneIsRestarted() async throws {
        let device = try ServedDevice()
        defer { device.remove() }
        let serve = try RunnerProcess.start(
            ["serve", try manifest(device).path, "--state-dir", device.state.path, "--health-interval", "0.5"],
            environment: ServedDevice.environment)
        defer { if serve.process.isRunning { kill(serve.process.processIdentifier, SIGKILL) } }
        try await eventually("both models to answer") {
            try Curl.chat(port: port, model: "cpu").status == 200 && Curl.chat(port: port, model: "npu").status == 200
        }
        let cpu = try #require(device.workerPid("cpu"))
        let npu = try #require(device.workerPid("npu"))

        // npu.cpus pins the rkllm worker's threads.
        let status = try String(contentsOfFile: "/proc/\(npu)/status", encoding: .utf8)
        #expect(status.contains("Cpus_allowed_list:\t1\n"))

        // Two streams at once; the cpu worker dies under its own.
        let doomed = try Curl.stream(port: port, model: "cpu", prompt: longAnswer, maxTokens: 400, in: device.directory)
        let other = try Curl.stream(
            port: port, model: "npu", prompt: "Say hello in five words.", maxTokens: 24, in: device.directory)
        try await eventually("the first tokens of the cpu stream") { doomed.text.contains("\"content\"") }
        kill(cpu, SIGKILL)
        try await eventually("both streams to end") { doomed.finished && other.finished }
        #expect(doomed.text.contains(#""error":"#), "the client is told, in OpenAI's shape: \(doomed.text.suffix(300))")
        #expect(doomed.text.hasSuffix("data: [DONE]\n\n"))
        #expect(!other.text.contains(#""error""#))
        #expect(other.text.contains(#""finish_reason":"#) && other.text.hasSuffix("data: [DONE]\n\n"))

        try await eventually("a new cpu worker") {
            guard let pid = device.workerPid("cpu"), pid != cpu else { return false }
            return try Curl.chat(port: port, model: "cpu").status == 200
        }
        #expect(device.workerPid("npu") == npu, "the other worker was not touched")
        #expect(device.worker("cpu")?.json["restarts"] as? Int == 1)

        // A worker that stops answering (SIGSTOP: alive, silent) is killed and replaced.
        kill(npu, SIGSTOP)
        try await eventually("the hung npu worker to be replaced", timeout: .seconds(45)) {
            guard let pid = device.workerPid("npu"), pid != npu else { return false }
            return try Curl.chat(port: port, model: "npu").status == 200
        }
        #expect(kill(npu, 0) != 0, "the hung process is gone")

        #expect(try await serve.terminate() == 0)
        let output = serve.output()
        #expect(output.stdout.contains("applied 'two-models': 2 models loaded; serving local on 127.0.0.1:\(port)"))
        #expect(output.stderr.contains("worker was killed by signal 9"))
        #expect(output.stderr.contains("worker stopped answering its health check and was killed"))
    }

    @Test func sigtermLetsARunningStreamFinishThenStopsEverything() async throws {
        let device = try ServedDevice()
        defer { device.remove() }
        // A drain long enough for the whole answer on a busy machine: this test is about draining, not cutting.
        let serve = try RunnerProcess.start(
            ["serve", try manifest(device).path, "--state-dir", device.state.path, "--drain-timeout", "60"],
            environment: ServedDevice.environment)
        defer { if serve.process.isRunning { kill(serve.process.processIdentifier, SIGKILL) } }
        try await eventually("the cpu model to answer") { try Curl.chat(port: port, model: "cpu").status == 200 }
        let workers = [device.workerPid("cpu"), device.workerPid("npu")].compactMap { $0 }
        #expect(workers.count == 2)

        // Long enough that a test slowed down by a busy machine still sees the first tokens well before the end.
        let stream = try Curl.stream(port: port, model: "cpu", prompt: longAnswer, maxTokens: 240, in: device.directory)
        try await eventually("the first tokens") { stream.text.contains("\"content\"") }
        let chunksBefore = stream.text.components(separatedBy: "\"content\"").count
        kill(serve.process.processIdentifier, SIGTERM)
        // New connections are refused while the stream drains.
        try await eventually("the listener to close", timeout: .seconds(5)) {
            try Curl.request("http://127.0.0.1:\(port)/healthz").status == 0
        }
        try await eventually("the stream to end") { stream.finished }
        #expect(!stream.text.contains(#""error""#), "drained, not cut: \(stream.text.suffix(300))")
        #expect(stream.text.contains(#""finish_reason":""#) && stream.text.hasSuffix("data: [DONE]\n\n"))
        #expect(stream.text.components(separatedBy: "\"content\"").count > chunksBefore + 5, "tokens kept coming after SIGTERM")
        try await eventually("serve to exit", timeout: .seconds(30)) { !serve.process.isRunning }
        #expect(serve.process.terminationStatus == 0)
        for pid in workers { #expect(kill(pid, 0) != 0, "worker \(pid) stopped") }
    }
}
