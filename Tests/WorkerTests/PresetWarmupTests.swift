import Engine
import Foundation
import Logging
import ServiceLifecycle
import TestSupport
import Testing

@testable import Worker

/// The worker's preset warm-up with a real engine on the real model behind a real socket: a preset that
/// cannot be built leaves the model serving, is reported with its reason, and is built by a later attempt
/// once the cause has gone.
@Suite(.serialized)
struct PresetWarmupTests {
    @Test func backoffDoublesUpToItsCap() {
        let backoff = PresetWarmup.Backoff(first: .seconds(30), cap: .seconds(200))
        #expect(
            (1...5).map { backoff.delay(afterFailures: $0) } == [
                .seconds(30), .seconds(60), .seconds(120), .seconds(200), .seconds(200),
            ])
    }

    @Test func aPresetThatCannotBeBuiltIsReportedAndRetriedWhileTheModelServes() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("warmup-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        // A file where the cache directory should be: every build fails until it is removed.
        let caches = directory.appendingPathComponent("caches").path
        try Data("in the way".utf8).write(to: URL(fileURLWithPath: caches))
        let engine = try await LlamaEngine.load(
            LlamaEngine.Configuration(
                libraryPath: LlamaLibraryLocator.locate(manifestLibrary: nil, workingDirectory: WorkerAPITests.packageRoot),
                modelPath: ProcessInfo.processInfo.environment["RUNNER_TEST_MODEL"]
                    ?? WorkerAPITests.packageRoot + "/.deps/models/SmolLM2-135M-Instruct.Q4_1.gguf",
                modelName: "smollm2", context: 512, parallel: 1))
        let system = "You are a support agent for a bakery. Answer in one sentence."
        let warmup = PresetWarmup(
            engine: engine, presets: [.init(name: "support", text: { system })], directory: caches,
            backoff: .init(first: .milliseconds(300), cap: .seconds(1)), logger: Logger(label: "test"))
        await warmup.buildAll()

        let socket = directory.appendingPathComponent("w.sock").path
        let app = WorkerServer.application(
            engine: engine, modelName: "smollm2", cacheDirectory: caches, warmup: warmup, socketPath: socket,
            logger: Logger(label: "test"))
        let server = Task { try await app.run() }
        defer { server.cancel() }
        let client = WorkerClient(socketPath: socket)
        try await eventually("the worker to answer its health check") { (try? await client.health()) != nil }

        // Reported: the status and the caches route name the preset, why it failed, and when it is tried again.
        let report = try await client.promptCaches()
        #expect(report.ready.isEmpty)
        let failure = try #require(report.failed.first)
        #expect(failure.name == "support" && failure.attempts == 1)
        #expect(failure.error.contains("cannot create \(caches)"), "\(failure.error)")
        // A retry is scheduled (it may already be due on a loaded machine), no later than the first backoff.
        #expect((0...0.3).contains(failure.retryInSeconds ?? -1), "\(String(describing: failure.retryInSeconds))")
        let listed = try await client.fetchStatus().promptCacheFailures
        #expect(listed?.map(\.name) == ["support"] && listed?.first?.error == failure.error)

        // Serving: a request that does not name the preset is answered; one that names it is told why not.
        let question = GenerationRequest(
            input: .messages([.system(system), .user("Do you sell bread?")]), sampling: .greedy, maxTokens: 8)
        var text = ""
        for try await event in try await client.generate(question) { if case .text(let delta, _) = event { text += delta } }
        #expect(!text.isEmpty)
        var named = question
        named.promptCache = "support"
        do {
            _ = try await client.generate(named)
            Issue.record("a request naming a preset that is not built was served")
        } catch let error as EngineError {
            #expect(error.code == .unknownPromptCache)
            #expect(error.message.contains("prompt cache 'support' of model smollm2 is not built"), "\(error.message)")
            #expect(error.message.contains("cannot create"))
        }

        // A cause that persists is tried again and counted.
        let retries = Task { await warmup.retryFailed() }
        defer { retries.cancel() }
        try await eventually("a second failed attempt") { (await warmup.failure(named: "support")?.attempts ?? 0) >= 2 }

        // Once the cause is gone, a retry builds it and the preset is used.
        try FileManager.default.removeItem(atPath: caches)
        try await eventually("the retry to build the preset") { try await client.promptCaches().ready == ["support"] }
        #expect(try await client.promptCaches().failed.isEmpty)
        #expect(try await client.fetchStatus().promptCacheFailures == [])
        var usage: Usage?
        for try await event in try await client.generate(named) {
            if case .done(let completion) = event { usage = completion.usage }
        }
        #expect((usage?.cachedPromptTokens ?? 0) > 0, "the request used the preset built by the retry")
        await retries.value
        await engine.shutdown()
    }
}
