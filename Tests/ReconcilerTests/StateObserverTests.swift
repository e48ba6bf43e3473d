import Foundation
import Manifest
import Testing

@testable import Reconciler

/// The observer against a real state directory and Hugging Face cache layout in a temporary folder.
struct StateObserverTests {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("observer-\(UUID().uuidString)")

    func write(_ text: String, to relative: String) throws {
        let url = root.appendingPathComponent(relative)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try text.write(to: url, atomically: true, encoding: .utf8)
    }

    @Test func readsAppliedManifestWorkersCachesAndHubFiles() throws {
        defer { try? FileManager.default.removeItem(at: root) }
        let desired = try resolve(baseManifest)
        let state = StateDirectory(root: root.appendingPathComponent("state"))
        let observer = StateObserver(state: state, hub: HubCacheLayout(hub: root.appendingPathComponent("hub")))

        let commit = String(repeating: "a1", count: 20)
        try write(commit + "\n", to: "hub/models--org--qwen/refs/main")
        try write(
            "weights",
            to: "hub/models--org--qwen/snapshots/\(commit)/Qwen_Qwen3-0.6B-w8a8-opt0-hybrid0-npu3-ctx16384-rk3588.rkllm")
        try write("kv", to: "state/caches/smollm2-135m-instruct/support.state")
        try write("{}", to: "state/caches/smollm2-135m-instruct/support.json")
        try FileManager.default.createDirectory(at: state.workers, withIntermediateDirectories: true)
        // A stand-in worker: a live process whose command line names the worker and its model.
        let stand = Process()
        stand.executableURL = URL(fileURLWithPath: "/bin/sh")
        // A shell that outlives the slowest run, stopped by terminate() within a second (a long `sleep` child
        // would outlive it), and writing nowhere: a process holding the test runner's output open keeps
        // `swift test` waiting after the tests are done.
        stand.arguments = ["-c", "while :; do sleep 1; done", "worker", "qwen3-0.6b"]
        stand.standardOutput = FileHandle.nullDevice
        stand.standardError = FileHandle.nullDevice
        try stand.run()
        defer { stand.terminate() }
        let alive = WorkerRecord(
            model: "qwen3-0.6b", pid: stand.processIdentifier, socket: "/s", startedAt: Date(timeIntervalSince1970: 100))
        // PID 2^22+1 is above Linux's pid_max, so no process can have it.
        let dead = WorkerRecord(
            model: "smollm2-135m-instruct", pid: 4_194_305, socket: "/s", startedAt: Date(timeIntervalSince1970: 100))
        // A live process that is not a worker (a recycled pid): this test process.
        let impostor = WorkerRecord(model: "gemma3-1b", pid: getpid(), socket: "/s", startedAt: Date(timeIntervalSince1970: 100))
        for record in [alive, dead, impostor] { try JSONEncoder.state.encode(record).write(to: state.workerRecord(record.model)) }
        try JSONEncoder.state.encode(desired).write(to: state.appliedManifest)

        let observed = try observer.observe(desired: desired)
        #expect(observed.applied == desired)
        #expect(Array(observed.runningWorkers.keys) == ["qwen3-0.6b"])
        #expect(observed.promptCaches == ["smollm2-135m-instruct/support"])
        #expect(
            observed.modelFiles["qwen3-0.6b"]?.hasSuffix(
                "snapshots/\(commit)/Qwen_Qwen3-0.6B-w8a8-opt0-hybrid0-npu3-ctx16384-rk3588.rkllm") == true)
        #expect(observed.modelFiles["smollm2-135m-instruct"] == nil)
    }

    @Test func aCorruptAppliedManifestIsReportedNotIgnored() throws {
        defer { try? FileManager.default.removeItem(at: root) }
        let state = StateDirectory(root: root)
        try write("{not json", to: "applied.json")
        let observer = StateObserver(state: state, hub: HubCacheLayout(hub: root.appendingPathComponent("hub")))
        #expect(throws: ReconcilerError.self) { try observer.observe(desired: try resolve(baseManifest)) }
    }

    @Test func stateDirectoryFollowsFlagThenEnvironment() {
        #expect(StateDirectory.resolve(explicit: "/x", environment: ["RUNNER_STATE_DIR": "/y"]).root.path == "/x")
        #expect(StateDirectory.resolve(explicit: nil, environment: ["RUNNER_STATE_DIR": "/y"]).root.path == "/y")
        let state = StateDirectory(root: URL(fileURLWithPath: "/s"))
        #expect(state.hubCache(environment: ["HF_HOME": "/hf"]).path == "/hf/hub")
        #expect(state.hubCache(environment: [:]).path == "/s/hub")
    }
}
