public import Engine
public import Foundation
public import Manifest

/// What `runner status` reports: the applied manifest as it stands on the device now. `Codable` is the
/// `--json` form; field names are part of the command's interface.
public struct DeviceStatus: Codable, Sendable {
    public struct Model: Codable, Sendable {
        public var name: String
        public var aliases: [String]
        public var engine: String
        /// `path`, or `huggingface repo/file@revision`.
        public var source: String
        public var sha256: String?
        /// The file a worker opens; nil when it is missing (deleted, or not downloaded yet).
        public var file: String?
        public var worker: Worker
        /// Whether the model is in memory and why (the scheduler's `residency.json`), its memory and last use.
        public var residency: ResidencyRecord.Model?
        public var promptCaches: [PromptCache]
    }

    public struct Worker: Codable, Sendable {
        public var running: Bool
        public var pid: Int32?
        public var startedAt: Date?
        /// The worker's own report when it answered; nil when it is down or did not answer in time.
        public var engine: EngineStatus?
        /// Restarts by its supervisor, and the crash loop it is in (from the worker's record).
        public var restarts: Int?
        public var crashLoop: WorkerRecord.CrashLoop?
        /// How its previous process ended, with the end of its log.
        public var lastExit: WorkerRecord.Exit?
    }

    public struct PromptCache: Codable, Sendable {
        public var name: String
        public var built: Bool
    }

    public struct Endpoint: Codable, Sendable {
        public var name: String
        public var listen: String
        public var apis: [String]
        public var models: [String]
        /// Every model it serves has a worker that answered.
        public var ready: Bool
    }

    /// The manifest's origin: a file, or a git commit (and a newer commit that was rejected, if any).
    public struct Source: Codable, Sendable {
        public struct Rejected: Codable, Sendable {
            public var commit: String?
            public var diagnostics: [String]?
        }

        public var kind: String?
        public var url: String?
        public var path: String?
        public var commit: String?
        public var appliedAt: String?
        public var rejected: Rejected?
    }

    public struct Clocks: Codable, Sendable {
        public var policy: String
        public var soc: SoCResolution
        /// True while the runner holds clocks pinned (it has a record of the values to restore).
        public var pinned: Bool
        /// Pinned values that no longer hold.
        public var drift: [ClockDrift]
    }

    public var manifest: String
    public var stateDirectory: String
    /// An apply in progress (downloading files, starting workers), when there is one.
    public var applying: ApplyingRecord?
    /// When the manifest was last applied (the time of `applied.json`).
    public var appliedAt: Date?
    /// Where the manifest came from (`applied-source.json`, written by `runner serve`).
    public var source: Source?
    public var models: [Model]
    public var endpoints: [Endpoint]
    public var clocks: Clocks?
    /// The memory budget the scheduler loads models within, in bytes.
    public var memoryBudget: Int64?
}

extension DeviceStatus {
    /// Gathers the status. `engineStatus` asks a running worker for its own report (nil when it does not
    /// answer); it is a parameter so the status can be built without sockets in tests.
    public static func gather(
        applied: ResolvedManifest, observed: ObservedState, state: StateDirectory, clocks: ClockPinning?,
        engineStatus: (WorkerRecord) async -> EngineStatus?
    ) async -> DeviceStatus {
        var models: [Model] = []
        let residency = ResidencyRecord.read(from: state)
        let records = StateObserver(state: state, hub: HubCacheLayout(hub: state.hubCache())).workerRecords()
        for model in applied.models {
            let record = observed.runningWorkers[model.name]
            let engine: EngineStatus? = if let record { await engineStatus(record) } else { nil }
            models.append(
                Model(
                    name: model.name, aliases: model.aliases, engine: model.engine.rawValue, source: describe(model.source),
                    sha256: sha256(model.source), file: observed.modelFiles[model.name],
                    worker: Worker(
                        running: record != nil, pid: record?.pid, startedAt: record?.startedAt, engine: engine,
                        restarts: records[model.name]?.restarts, crashLoop: records[model.name]?.crashLoop,
                        lastExit: records[model.name]?.lastExit),
                    residency: residency?.models.first { $0.name == model.name },
                    promptCaches: model.promptCaches.map {
                        PromptCache(name: $0.name, built: observed.promptCaches.contains("\(model.name)/\($0.name)"))
                    }))
        }
        // A model out of memory by design (loaded on demand, stopped for idling, evicted) is served too.
        let outOfMemory: Set<String> = ["not-loaded", "stopped-idle", "evicted", "unloaded"]
        let answering = Set(
            models.filter { $0.worker.engine != nil || outOfMemory.contains($0.residency?.state ?? "") }.map(\.name))
        let endpoints = applied.endpoints.map { endpoint in
            Endpoint(
                name: endpoint.name, listen: endpoint.listen.text, apis: endpoint.apis.map(\.rawValue), models: endpoint.models,
                ready: endpoint.models.allSatisfy(answering.contains))
        }
        let clockStatus = clocks.map { clocks in
            Clocks(
                policy: applied.clocks.rawValue, soc: clocks.resolve(applied.soc),
                pinned: FileManager.default.fileExists(atPath: clocks.record.path),
                drift: (try? clocks.observeDrift()) ?? [])
        }
        let attributes = try? FileManager.default.attributesOfItem(atPath: state.appliedManifest.path)
        let source = (try? Data(contentsOf: state.appliedSource)).flatMap { try? JSONDecoder().decode(Source.self, from: $0) }
        return DeviceStatus(
            manifest: applied.name, stateDirectory: state.root.path, applying: ApplyingRecord.inProgress(in: state),
            appliedAt: attributes?[.modificationDate] as? Date,
            source: source, models: models, endpoints: endpoints, clocks: clockStatus, memoryBudget: residency?.budget)
    }

    static func describe(_ source: ResolvedSource) -> String {
        switch source {
        case .local(let path): path
        case .huggingface(let repo, let file, let revision, _): "huggingface \(repo)/\(file)@\(revision)"
        case .upstream(let url, let model): "upstream \(url) \(model)"
        }
    }

    static func sha256(_ source: ResolvedSource) -> String? {
        if case .huggingface(_, _, _, let sha256) = source { return sha256 }
        return nil
    }
}

extension StateDirectory {
    /// Where `runner serve` records the source of the applied manifest (file or git commit).
    public var appliedSource: URL { root.appendingPathComponent("applied-source.json") }
}
