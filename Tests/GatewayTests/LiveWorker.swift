import Engine
import Foundation
import TestSupport
import Testing
import Worker

/// Which engine a live gateway routes to: the model loaded in this process, or a real `runner worker`
/// process behind its Unix socket, the path `runner apply` uses.
enum LiveBackend: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case inProcess, workerProcess

    var testDescription: String { rawValue }

    func engine() async throws -> any Engine {
        switch self {
        case .inProcess: try await LiveGateway.engine.value
        case .workerProcess: try await LiveWorker.client.value
        }
    }
}

/// One `runner worker` on the test model for the whole test run. It exits with this process (the worker
/// watches its parent).
enum LiveWorker {
    /// The test bundle and the `runner` product are built into the same directory.
    static let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        .appendingPathComponent("runner").path

    static let client = Task<WorkerClient, any Error> {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("live-worker-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let manifest = directory.appendingPathComponent("worker.yaml")
        try """
        apiVersion: rockchipllama/v1
        kind: Device
        metadata: {name: live-worker}
        models:
          - name: smollm2-135m-instruct
            source: {path: \(LiveGateway.modelPath)}
            context: 2048
            llamacpp: {threads: 2, parallel: 4}
        """.write(to: manifest, atomically: true, encoding: .utf8)
        let state = directory.appendingPathComponent("state")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = [
            "worker", "--model", "smollm2-135m-instruct", "--manifest", manifest.path, "--state-dir", state.path,
        ]
        var environment = ProcessInfo.processInfo.environment
        environment["RUNNER_LLAMA_LIBRARY"] = LlamaLibraryLocator.locate(
            manifestLibrary: nil, workingDirectory: LiveGateway.packageRoot)
        process.environment = environment
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        let client = WorkerClient(socketPath: state.appendingPathComponent("workers/smollm2-135m-instruct.sock").path)
        try await eventually("runner worker to answer", timeout: .seconds(120)) {
            guard process.isRunning else { return true }
            return (try? await client.health()) != nil
        }
        guard process.isRunning, (try? await client.health()) != nil else {
            throw WorkerFailed(
                description: process.isRunning
                    ? "runner worker did not answer" : "runner worker exited with \(process.terminationStatus)")
        }
        return client
    }

    struct WorkerFailed: Error, CustomStringConvertible {
        var description: String
    }
}
