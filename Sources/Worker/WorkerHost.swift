internal import Engine
internal import Foundation
public import Logging
public import Manifest
public import ServiceLifecycle
internal import UnixSignals

/// One worker's life, for a model whose files are local: pins its CPUs, loads the engine, builds its
/// prompt-cache presets (one that fails is retried while the model serves without it), serves the internal
/// API on its socket until SIGTERM or SIGINT (or until a watcher it is given ends), then shuts the engine
/// down and removes the socket.
public struct WorkerHost: Sendable {
    public var model: ResolvedModel
    public var runtimes: ResolvedRuntimes
    public var cacheDirectory: String
    public var socketPath: String
    public var logger: Logger

    public init(model: ResolvedModel, runtimes: ResolvedRuntimes, cacheDirectory: String, socketPath: String, logger: Logger) {
        self.model = model
        self.runtimes = runtimes
        self.cacheDirectory = cacheDirectory
        self.socketPath = socketPath
        self.logger = logger
    }

    /// Serves until a signal, a watcher in `watchers` ending, or cancellation. Throws `EngineError` when the
    /// engine cannot be loaded.
    public func run(until watchers: [any Service] = []) async throws {
        if let cpus = model.npu?.cpus, !cpus.isEmpty {
            // Before the engine starts its threads, which inherit the mask.
            if let problem = CPUAffinity.pinProcess(to: cpus) { logger.warning("CPU affinity not set: \(problem)") }
        }
        let engine = try await EngineFactory.make(model, runtimes: runtimes, cacheDirectory: cacheDirectory, logger: logger)
        let warmup = PresetWarmup(
            engine: engine,
            presets: model.promptCaches.map { preset in .init(name: preset.name, text: { try preset.text() }) },
            directory: cacheDirectory, logger: logger)
        await warmup.buildAll()
        let retries = Task { await warmup.retryFailed() }
        defer { retries.cancel() }
        try FileManager.default.createDirectory(
            atPath: (socketPath as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        // A socket file left by a worker that died cannot be bound again.
        try? FileManager.default.removeItem(atPath: socketPath)
        let app = WorkerServer.application(
            engine: engine, modelName: model.name, cacheDirectory: cacheDirectory, warmup: warmup, socketPath: socketPath,
            logger: logger)
        let services: [ServiceGroupConfiguration.ServiceConfiguration] =
            [.init(service: app)]
            + watchers.map { .init(service: $0, successTerminationBehavior: .gracefullyShutdownGroup) }
        let group = ServiceGroup(
            configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch {
            await stop(engine, retries)
            throw error
        }
        await stop(engine, retries)
    }

    private func stop(_ engine: any Engine, _ retries: Task<Void, Never>) async {
        retries.cancel()
        await engine.shutdown()
        try? FileManager.default.removeItem(atPath: socketPath)
    }
}
