public import Engine
public import Foundation
public import Manifest
internal import Worker

/// The admin API's view of the device: the applied manifest, its workers, endpoints and caches. The runner
/// hands it to the gateway's admin routes.
public struct DeviceAdmin: Sendable {
    /// The manifest running now (`runner serve` changes it while the endpoints stay up).
    public let current: @Sendable () async -> ResolvedManifest
    public let supervisor: WorkerSupervisor
    /// Which models are in memory; nil where every model's worker always runs.
    public let scheduler: ModelScheduler?
    /// Downloads in progress (`runner serve` fetching an added or damaged model).
    public let downloads: DownloadBoard?

    public init(manifest: ResolvedManifest, supervisor: WorkerSupervisor, scheduler: ModelScheduler? = nil) {
        self.init(current: { manifest }, supervisor: supervisor, scheduler: scheduler)
    }

    public init(
        current: @escaping @Sendable () async -> ResolvedManifest, supervisor: WorkerSupervisor,
        scheduler: ModelScheduler? = nil, downloads: DownloadBoard? = nil
    ) {
        self.current = current
        self.supervisor = supervisor
        self.scheduler = scheduler
        self.downloads = downloads
    }

    struct Status: Encodable {
        struct Model: Encodable {
            var name: String
            var aliases: [String]
            var engine: String
            var context: Int
            var worker: WorkerState
            /// In memory or not, and why (see `ResidencyRecord`).
            var residency: ResidencyRecord.Model?
            var promptCaches: [String]
            /// Presets the worker could not build (it serves without them and tries again).
            var promptCacheFailures: [PromptCacheFailure]
        }

        var manifest: String
        var soc: String
        var clocks: String
        var models: [Model]
        var endpoints: [ResolvedEndpoint]
        var downloads: [DownloadBoard.Entry]
        /// The memory budget the scheduler works with, in bytes.
        var memoryBudget: Int64?
    }

    public func status() async -> Data {
        let manifest = await current()
        let residency = scheduler?.snapshot()
        var models: [Status.Model] = []
        for model in manifest.models {
            let worker = await supervisor.state(of: model.name)
            let caches =
                worker.running
                ? PromptCacheReport(await supervisor.client(for: model.name).status()) : PromptCacheReport(ready: [])
            models.append(
                Status.Model(
                    name: model.name, aliases: model.aliases, engine: model.engine.rawValue, context: model.context,
                    worker: worker, residency: residency?.models.first { $0.name == model.name }, promptCaches: caches.ready,
                    promptCacheFailures: caches.failed))
        }
        let status = Status(
            manifest: manifest.name, soc: manifest.soc.rawValue, clocks: manifest.clocks.rawValue, models: models,
            endpoints: manifest.endpoints, downloads: downloads?.inProgress ?? [], memoryBudget: residency?.budget)
        return (try? JSONEncoder.state.encode(status)) ?? Data()
    }

    public func promptCaches() async -> [String: PromptCacheReport] {
        let manifest = await current()
        var caches: [String: PromptCacheReport] = [:]
        for model in manifest.models { caches[model.name] = PromptCacheReport(await supervisor.client(for: model.name).status()) }
        return caches
    }

    /// Builds on the model's worker, loading the model first when it is not in memory.
    public func buildPromptCache(model: String, name: String, system: String) async throws -> PromptCacheInfo {
        let lease = try await scheduler?.acquire(model, keepAlive: nil)
        defer { lease?.release() }
        return try await supervisor.client(for: model).buildPromptCache(name: name, system: system)
    }
}

/// A worker as the supervisor sees it.
public struct WorkerState: Codable, Sendable, Equatable {
    public var running: Bool
    public var pid: Int32?
    public var restarts: Int
    /// Set while the worker is crash-looping.
    public var crashLoop: WorkerRecord.CrashLoop? = nil
}
