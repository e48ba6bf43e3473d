import Engine
import Foundation
import Logging
import ServiceLifecycle
import TestSupport
import Testing

@testable import Worker

/// The internal API end to end: a real engine on the real model, served on a real Unix socket, driven by
/// the client the gateway and supervisor use.
@Suite(.serialized)
struct WorkerAPITests {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    /// Serves a fresh engine for the duration of `body`.
    func withWorker(parallel: Int = 2, _ body: (WorkerClient, any Engine) async throws -> Void) async throws {
        let environment = ProcessInfo.processInfo.environment
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("worker-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let engine = try await LlamaEngine.load(
            LlamaEngine.Configuration(
                libraryPath: LlamaLibraryLocator.locate(manifestLibrary: nil, workingDirectory: Self.packageRoot),
                modelPath: environment["RUNNER_TEST_MODEL"] ?? Self.packageRoot + "/.deps/models/SmolLM2-135M-Instruct.Q4_1.gguf",
                modelName: "smollm2", context: 512, parallel: parallel))
        let socket = directory.appendingPathComponent("w.sock").path
        let app = WorkerServer.application(
            engine: engine, modelName: "smollm2", cacheDirectory: directory.path, socketPath: socket,
            logger: Logger(label: "test"))
        let server = Task { try await app.run() }
        defer { server.cancel() }
        let client = WorkerClient(socketPath: socket)
        guard try await eventually("the worker to answer its health check", { (try? await client.health()) != nil }) else {
            return
        }
        try await body(client, engine)
        await engine.shutdown()
    }

    static let question = GenerationRequest(
        input: .messages([.user("What is the capital of France?")]), sampling: Sampling(temperature: 0), maxTokens: 24)

    func collect(_ stream: AsyncThrowingStream<GenerationEvent, any Error>) async throws -> (String, Completion?) {
        var text = ""
        var done: Completion?
        for try await event in stream {
            if case .text(let delta, _) = event { text += delta }
            if case .done(let completion) = event { done = completion }
        }
        return (text, done)
    }

    @Test func generationThroughTheSocketMatchesTheEngine() async throws {
        try await withWorker { client, engine in
            let (remote, remoteDone) = try await collect(try await client.generate(Self.question))
            let (local, _) = try await collect(try await engine.generate(Self.question))
            #expect(!remote.isEmpty)
            #expect(remote == local)
            #expect(remoteDone?.reason == .length || remoteDone?.reason == .stop)
            #expect(remoteDone?.usage.completionTokens ?? 0 > 0)
            #expect(try await client.health().model == "smollm2")
            #expect(try await client.tokenize("Hello world").count >= 2)
            let embeddings = try await client.embed(["a cat", "a dog"])
            #expect(embeddings.vectors.count == 2 && embeddings.vectors[0].count > 0)
        }
    }

    @Test func connectionsAreKeptBetweenGenerationsAndDroppedWithAnAbandonedOne() async throws {
        try await withWorker { client, _ in
            func idle() async throws -> Int {
                // The connection goes back on its event loop right after the answer's end.
                try await eventually("the connection to go back to the idle list") {
                    WorkerStreams.shared.idleConnections(to: client.socketPath) > 0
                }
                return WorkerStreams.shared.idleConnections(to: client.socketPath)
            }
            _ = try await collect(try await client.generate(Self.question))
            #expect(try await idle() == 1)
            _ = try await collect(try await client.generate(Self.question))
            #expect(try await idle() == 1, "the kept connection was used again, not a second one opened")
            // A consumer that stops early closes its connection: it must not go back to the idle list.
            let long = GenerationRequest(
                input: .messages([.user("Write a long story about a dragon who learns to bake bread.")]),
                sampling: Sampling(temperature: 0), maxTokens: 400)
            var events = try await client.generate(long).makeAsyncIterator()
            _ = try await events.next()
            events = AsyncThrowingStream<GenerationEvent, any Error> { nil }.makeAsyncIterator()
            _ = try await events.next()
            // The worker lets go of the slot long before 400 tokens only because the connection was closed.
            // Whatever its event loop still had queued for that connection has run once the loops are drained.
            try await eventually("the worker to free the abandoned slot") {
                try await client.fetchStatus().slots.allSatisfy { $0.state == .idle }
            }
            try await drainEventLoops()
            #expect(WorkerStreams.shared.idleConnections(to: client.socketPath) == 0)
            let (text, done) = try await collect(try await client.generate(Self.question))
            #expect(!text.isEmpty && done != nil, "a new connection serves the next generation")
        }
    }

    @Test func errorsBeforeStreamingArriveAsEngineErrors() async throws {
        try await withWorker { client, _ in
            let long = GenerationRequest(input: .prompt(String(repeating: "hello world ", count: 600)), maxTokens: 4)
            await #expect(throws: EngineError.self) { _ = try await client.generate(long) }
            do {
                _ = try await client.generate(long)
            } catch let error as EngineError {
                #expect(error.code == .promptTooLong)
            }
            // The worker is unharmed.
            let (text, _) = try await collect(try await client.generate(Self.question))
            #expect(!text.isEmpty)
        }
    }

    @Test func aClientThatGoesAwayFreesItsSlot() async throws {
        try await withWorker(parallel: 1) { client, _ in
            let endless = GenerationRequest(
                input: .messages([.user("Write a long story about a dragon who learns to bake bread.")]),
                sampling: Sampling(temperature: 0), maxTokens: 400)
            var received = 0
            for try await event in try await client.generate(endless) {
                if case .text = event { received += 1 }
                if received == 3 { break }
            }
            #expect(received == 3)
            // With one slot, the next request can only run once the abandoned one let go of it.
            let started = ContinuousClock.now
            let (text, done) = try await collect(try await client.generate(Self.question))
            #expect(!text.isEmpty && done?.reason != .error)
            #expect(ContinuousClock.now - started < .seconds(20))
            let status = try await client.fetchStatus()
            #expect(status.slots.allSatisfy { $0.state == .idle })
        }
    }
}
