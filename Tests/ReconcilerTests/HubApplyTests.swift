import Foundation
import Logging
import Manifest
import Testing

@testable import Reconciler

/// Hugging Face sources through plan and apply: shown as downloads, fetched before any worker is touched, and
/// handed to workers as local snapshot paths.
struct HubApplyTests {
    let sandbox = HubSandbox()
    let model = HubSandbox.model
    let adapter = HubSandbox.adapter

    /// RKLLMSim's 1.3 build: LoRA adapters are an rkllm feature, and apply checks the runtime it would load.
    static let simulator = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent(".deps/rkllmsim/1.3/librkllmrt.so").path

    func manifest(file: String? = nil) throws -> ResolvedManifest {
        try resolve(
            """
            apiVersion: rockchipllama/v1
            kind: Device
            metadata: {name: board}
            runtimes: {rkllm: {library: \(Self.simulator)}}
            models:
              - name: tiny
                engine: rkllm
                source: {huggingface: {repo: \(model.repo), file: \(file ?? model.file), sha256: \(model.sha256)}}
                lora: [{name: style, source: {huggingface: {repo: \(adapter.repo), file: \(adapter.file)}}}]
            endpoints: []
            """)
    }

    func executor(_ base: String, launched: Recorded<String>) -> ApplyExecutor {
        let state = StateDirectory(root: sandbox.root.appendingPathComponent("state"))
        let logger = Logger(label: "apply-test")
        return ApplyExecutor(
            state: state, supervisor: WorkerSupervisor(state: state, logger: logger), logger: logger,
            downloader: sandbox.downloader(base)
        ) { model in
            launched.append(model.name)
            return WorkerSupervisor.Launch(model: model.name, executable: "/bin/false", arguments: [], restart: .never)
        }
    }

    @Test func planShowsDownloadsAndApplyFetchesThemForTheWorker() async throws {
        defer { sandbox.remove() }
        let desired = try manifest()
        let state = StateDirectory(root: sandbox.root.appendingPathComponent("state"))
        let observer = StateObserver(state: state, hub: sandbox.cache)
        let before = Planner.plan(desired: desired, observed: try observer.observe(desired: desired))
        let files = before.actions.filter { $0.resource == .model }
        #expect(files.map { "\($0.change.rawValue) \($0.name)" } == ["+ tiny", "+ tiny/style"])
        #expect(
            files.map(\.detail) == [
                "download \(model.repo)/\(model.file) at main", "download LoRA \(adapter.repo)/\(adapter.file) at main",
            ])
        #expect(ApplyExecutor.unsupported(desired, plan: before).isEmpty)

        let hub = FakeHub(files: [model, adapter])
        let launched = Recorded<String>()
        try await hub.serve { base in try await executor(base, launched: launched).downloadModelFiles(desired) }

        let after = Planner.plan(desired: desired, observed: try observer.observe(desired: desired))
        #expect(after.actions.filter { $0.resource == .model }.map(\.change) == [.keep, .keep])
        let local = try ModelFiles.withLocalFiles(try #require(desired.models.first), hub: sandbox.cache)
        let snapshot = sandbox.repository(model).appendingPathComponent("snapshots/\(model.commit)")
        #expect(local.source == .local(path: snapshot.appendingPathComponent(model.file).path))
        #expect(local.lora.first?.source == .local(path: snapshot.appendingPathComponent(adapter.file).path))
    }

    @Test func aFailedDownloadStopsNothingAndStartsNothing() async throws {
        defer { sandbox.remove() }
        let desired = try manifest(file: "gone.gguf")
        // A worker left by an earlier apply: it must survive a failed one.
        let previous = Process()
        previous.executableURL = URL(fileURLWithPath: "/bin/sh")
        // A shell that outlives the slowest run, stopped by terminate() within a second (a long `sleep` child
        // would outlive it), and writing nowhere: a process holding the test runner's output open keeps
        // `swift test` waiting after the tests are done.
        previous.arguments = ["-c", "while :; do sleep 1; done", "worker", "tiny"]
        previous.standardOutput = FileHandle.nullDevice
        previous.standardError = FileHandle.nullDevice
        try previous.run()
        defer { previous.terminate() }
        let observed = ObservedState(
            runningWorkers: [
                "tiny": WorkerRecord(model: "tiny", pid: previous.processIdentifier, socket: "/s", startedAt: Date())
            ])
        let hub = FakeHub(files: [model, adapter])
        let launched = Recorded<String>()
        try await hub.serve { base in
            let executor = executor(base, launched: launched)
            let error = await #expect(throws: HubError.self) { try await executor.apply(desired, observed: observed) }
            #expect(error?.message == "model tiny: no file gone.gguf in repo \(model.repo) at revision main")
            #expect(!FileManager.default.fileExists(atPath: executor.state.appliedManifest.path))
        }
        #expect(previous.isRunning)
        #expect(launched.all.isEmpty)
    }
}
