internal import Engine
public import Foundation
public import Manifest

/// What is on the device now, as far as a plan needs to know.
public struct ObservedState: Sendable, Equatable {
    /// The manifest the last successful apply made real.
    public var applied: ResolvedManifest?
    /// Workers whose process is alive, by model name.
    public var runningWorkers: [String: WorkerRecord]
    /// Model files found on disk, by model name; Hugging Face companions' (LoRA adapters, projectors) by
    /// `ModelFiles.Companion.key`.
    public var modelFiles: [String: String]
    /// Built prompt caches, as `model/preset`.
    public var promptCaches: Set<String>
    /// What clock pinning would change, knob by knob; nil when the device's clocks were not read.
    public var clocks: ClockPlan?
    /// The machine's memory and the models' estimated footprints; nil when memory was not read.
    public var memory: ObservedMemory?

    public init(
        applied: ResolvedManifest? = nil, runningWorkers: [String: WorkerRecord] = [:], modelFiles: [String: String] = [:],
        promptCaches: Set<String> = []
    ) {
        self.applied = applied
        self.runningWorkers = runningWorkers
        self.modelFiles = modelFiles
        self.promptCaches = promptCaches
    }

    public static let empty = ObservedState()
}

/// What a plan weighs the models' memory against.
public struct ObservedMemory: Sendable, Equatable {
    /// This machine's memory; nil when it could not be read.
    public var machine: MemInfo?
    /// Bytes our running workers have resident. `machine.available` does not count them, but they are ours to
    /// hand out again.
    public var held: Int64
    /// Estimated footprints of the desired models, by name; a model missing here has no estimate (yet).
    public var footprints: [String: Int64]

    public init(machine: MemInfo?, held: Int64 = 0, footprints: [String: Int64] = [:]) {
        self.machine = machine
        self.held = held
        self.footprints = footprints
    }
}

/// The record a supervisor keeps for each worker process it started.
public struct WorkerRecord: Codable, Sendable, Equatable {
    public var model: String
    public var pid: Int32
    public var socket: String
    public var startedAt: Date
    /// Restarts since the supervisor first started it (nil in records written before this field).
    public var restarts: Int? = nil
    /// Set while the worker is crash-looping and the supervisor pauses before its next attempt.
    public var crashLoop: CrashLoop? = nil
    /// How its previous process ended; nil until one has.
    public var lastExit: Exit? = nil

    public init(model: String, pid: Int32, socket: String, startedAt: Date) {
        self.model = model
        self.pid = pid
        self.socket = socket
        self.startedAt = startedAt
    }
}

/// Reads the observed state from the state directory and the file system.
public struct StateObserver: Sendable {
    public var state: StateDirectory
    public var hub: HubCacheLayout
    /// Reads the device's clocks for the plan; nil leaves them out.
    public var clocks: ClockPinning?
    /// The machine's meminfo file, for the plan's memory section; nil leaves memory out.
    public var memInfo: URL?

    public init(state: StateDirectory, hub: HubCacheLayout, clocks: ClockPinning? = nil, memInfo: URL? = nil) {
        self.state = state
        self.hub = hub
        self.clocks = clocks
        self.memInfo = memInfo
    }

    public func observe(desired: ResolvedManifest) throws -> ObservedState {
        var observed = ObservedState()
        observed.applied = try readAppliedManifest()
        observed.clocks = try clocks?.plan(soc: desired.soc, policy: desired.clocks)
        let fileManager = FileManager.default
        for model in desired.models {
            switch model.source {
            case .local(let path) where fileManager.fileExists(atPath: path): observed.modelFiles[model.name] = path
            case .huggingface(let repo, let file, let revision, _):
                if let cached = hub.cachedFile(repo: repo, file: file, revision: revision) {
                    observed.modelFiles[model.name] = cached.path
                }
            default: break
            }
            for companion in ModelFiles.companions(of: model) {
                guard case .huggingface = companion.source, let path = ModelFiles.localPath(for: companion.source, hub: hub)
                else { continue }
                observed.modelFiles[companion.key] = path
            }
            for preset in model.promptCaches
            where fileManager.fileExists(atPath: state.promptCache(model: model.name, preset: preset.name).sidecar) {
                observed.promptCaches.insert("\(model.name)/\(preset.name)")
            }
        }
        let records = (try? fileManager.contentsOfDirectory(at: state.workers, includingPropertiesForKeys: nil)) ?? []
        for url in records where url.pathExtension == "json" {
            guard let data = try? Data(contentsOf: url), let record = try? JSONDecoder.state.decode(WorkerRecord.self, from: data)
            else { continue }
            if Self.isWorker(record) { observed.runningWorkers[record.model] = record }
        }
        if let memInfo {
            observed.memory = observeMemory(desired: desired, memInfo: memInfo, running: observed.runningWorkers)
        }
        return observed
    }

    /// The machine's memory, what our running workers hold, and each desired model's estimated footprint
    /// (read from its file's header, for models whose file is on the device).
    public func observeMemory(desired: ResolvedManifest, memInfo: URL) -> ObservedMemory {
        let running = workerRecords().filter { Self.isWorker($0.value) }
        return observeMemory(desired: desired, memInfo: memInfo, running: running)
    }

    private func observeMemory(desired: ResolvedManifest, memInfo: URL, running: [String: WorkerRecord]) -> ObservedMemory {
        var memory = ObservedMemory(machine: try? MemInfo.read(from: memInfo))
        memory.held = running.values.reduce(0) { $0 + (MemInfo.residentBytes(of: $1.pid) ?? 0) }
        for model in desired.models {
            if let bytes = ModelFootprint.estimate(
                model, file: ModelFootprint.file(of: model, hub: hub),
                vision: ModelFiles.visionFilePath(of: model, hub: hub))
            {
                memory.footprints[model.name] = bytes
            }
        }
        return memory
    }

    /// Whether the record's process is alive and still that worker: after a reboot or a crash the pid may
    /// belong to an unrelated process, which must never be counted (or later signalled) as a worker.
    static func isWorker(_ record: WorkerRecord) -> Bool {
        // Signal 0 checks that the process exists without touching it.
        guard kill(record.pid, 0) == 0,
            let commandLine = try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(record.pid)/cmdline"))
        else { return false }
        let arguments = commandLine.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
        return arguments.contains("worker") && arguments.contains(record.model)
    }

    public func readAppliedManifest() throws -> ResolvedManifest? {
        guard let data = try? Data(contentsOf: state.appliedManifest) else { return nil }
        do {
            return try JSONDecoder.state.decode(ResolvedManifest.self, from: data)
        } catch {
            throw ReconcilerError(
                .corruptState, "\(state.appliedManifest.path) cannot be read (\(error)); move it away to start over")
        }
    }
}

extension JSONDecoder {
    static var state: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}

extension JSONEncoder {
    static var state: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return encoder
    }
}
