import Engine
import Foundation
import Logging
import Manifest
import TestSupport
import Testing
import Worker

/// A worker's whole life in this process, as `runner worker` runs it: engine from the manifest, presets
/// built, the internal API on its socket, and a clean stop.
struct WorkerHostTests {
    static let model =
        ProcessInfo.processInfo.environment["RUNNER_TEST_MODEL"]
        ?? WorkerAPITests.packageRoot + "/.deps/models/SmolLM2-135M-Instruct.Q4_1.gguf"

    @Test func hostsAManifestModelBuildsItsPresetAndStopsCleanly() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("host-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let text = """
            apiVersion: rockchipllama/v1
            kind: Device
            metadata: {name: host}
            runtimes: {llamacpp: {library: \(LlamaLibraryLocator.locate(manifestLibrary: nil, workingDirectory: WorkerAPITests.packageRoot))}}
            models:
              - name: smol
                source: {path: \(Self.model)}
                context: 512
                llamacpp: {threads: 1, parallel: 1}
                promptCaches: [{name: brief, system: You answer in one short sentence.}]
            """
        let loaded = ManifestLoader().load(text: text, file: "host.yaml", baseDirectory: directory.path)
        let manifest = try #require(loaded.resolved, "\(loaded.diagnostics)")
        let socket = directory.appendingPathComponent("workers/smol.sock").path
        let host = WorkerHost(
            model: manifest.models[0], runtimes: manifest.runtimes,
            cacheDirectory: directory.appendingPathComponent("caches/smol").path, socketPath: socket,
            logger: Logger(label: "host-test"))
        let running = Task { try await host.run() }
        let client = WorkerClient(socketPath: socket)
        try await eventually("the hosted worker to answer", timeout: .seconds(60)) { (try? await client.health()) != nil }

        let status = await client.status()
        #expect(status.promptCaches == ["brief"], "the preset was built before the worker answered")
        var request = GenerationRequest(input: .messages([.user("Hi")]), sampling: .greedy, maxTokens: 8)
        request.promptCache = "brief"
        var usage: Usage?
        for try await event in try await client.generate(request) {
            if case .done(let completion) = event { usage = completion.usage }
        }
        #expect((usage?.cachedPromptTokens ?? 0) > 0, "the preset's system prompt came from its cache")

        running.cancel()
        _ = await running.result
        #expect(!FileManager.default.fileExists(atPath: socket), "the socket goes with the worker")
    }
}
