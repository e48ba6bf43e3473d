internal import Foundation
public import Logging
public import Manifest
internal import Worker

/// The manifest `runner serve` runs, changed in place: a new manifest stops, starts and restarts only the
/// workers it has to; files and clocks that drift are put back (see `LiveDeployment+Drift.swift`).
///
/// Not reentrant by design: one reconcile loop calls it, one change at a time.
public actor LiveDeployment {
    /// What one apply did.
    public struct Outcome: Sendable {
        public var changes: DeploymentChanges
        /// Workers that did not come up with their new definition, with why; each kept its previous one
        /// (a changed model) or is not running (an added one).
        public var failures: [String: String]
        /// The manifest now running: the desired one, except for the failures.
        public var running: ResolvedManifest
    }

    public nonisolated let state: StateDirectory
    public nonisolated let supervisor: WorkerSupervisor
    /// Which models are in memory; the gateway's endpoints ask it for each request.
    public nonisolated let scheduler: ModelScheduler
    let logger: Logger
    /// Downloads, refusals and the worker command line.
    var executor: ApplyExecutor
    /// Pins or restores clocks as the manifest says, and corrects drift; nil leaves clocks alone.
    let clocks: ClockPinning?
    /// Told of every manifest that starts running (also before workers of removed models stop), so the
    /// gateway's endpoints and model registries follow.
    let serve: @Sendable (ResolvedManifest) async -> Void
    public private(set) var running: ResolvedManifest?
    /// Identity of each running model's file when its worker started, by model name.
    var files: [String: FileIdentity] = [:]
    /// Models whose missing local file was already reported.
    var reportedMissing: Set<String> = []

    /// - Parameter executable: the `runner` binary that hosts workers (`runner worker --definition`).
    public init(
        state: StateDirectory, supervisor: WorkerSupervisor, executable: String, clocks: ClockPinning?, logger: Logger,
        downloads: DownloadBoard = DownloadBoard(), loadTimeout: Duration? = nil,
        serve: @escaping @Sendable (ResolvedManifest) async -> Void
    ) {
        var executor = ApplyExecutor(state: state, supervisor: supervisor, logger: logger, loadTimeout: loadTimeout) { model in
            WorkerSupervisor.Launch(
                model: model.name, executable: executable,
                arguments: [
                    "worker", "--model", model.name, "--definition", state.workerDefinition(model.name).path, "--state-dir",
                    state.root.path,
                ],
                restart: model.lifecycle.restart)
        }
        executor.downloads = downloads
        self.init(executor: executor, clocks: clocks, serve: serve)
    }

    /// With the executor's state, supervisor, logger, downloader and worker command line.
    init(executor: ApplyExecutor, clocks: ClockPinning?, serve: @escaping @Sendable (ResolvedManifest) async -> Void) {
        self.executor = executor
        state = executor.state
        supervisor = executor.supervisor
        scheduler = executor.scheduler
        logger = executor.logger
        self.clocks = clocks
        self.serve = serve
    }

    var hub: HubCacheLayout { executor.downloader.cache }

    /// Makes `desired` run. Throws, changing nothing, when a model that has to start cannot be (an engine this
    /// build lacks, a missing local file, a failed download); a worker that fails to come up is reported in
    /// the outcome and the rest goes ahead.
    public func apply(_ desired: ResolvedManifest) async throws -> Outcome {
        if running == nil { try ApplyingRecord(manifest: desired.name).write(to: state) }
        defer { ApplyingRecord.clear(in: state) }
        let changes = DeploymentChanges.between(running: running, desired: desired)
        let starting = Set(changes.addedModels + changes.restartedModels.map(\.name))
        var subset = desired
        subset.models = desired.models.filter { starting.contains($0.name) }
        let observed = try StateObserver(state: state, hub: hub).observe(desired: subset)
        let refusals = ApplyExecutor.unsupported(subset, plan: Planner.plan(desired: subset, observed: observed))
        guard refusals.isEmpty else { throw ReconcilerError(.unsupported, refusals.joined(separator: "; ")) }
        try await executor.downloadModelFiles(subset)

        if running == nil { await executor.stopLeftovers(observed) }
        if changes.clocksChanged { reconcileClocks(desired) }
        if !changes.removedModels.isEmpty, let running {
            // Out of the registries first, so no request is routed to a worker that is going away.
            await serve(running.removing(changes.removedModels))
        }
        for name in changes.removedModels { await remove(name) }
        PromptCacheCleanup.removeDropped(applied: running ?? observed.applied, desired: desired, in: state)
        // The budget and the models as desired; a changed model is restarted below.
        scheduler.declare(desired.models, memory: desired.memory)

        var effective = desired
        var failures: [String: String] = [:]
        for model in desired.models where starting.contains(model.name) {
            let previous = running?.model(exactly: model.name)
            do {
                try await start(model, runtimes: desired.runtimes, replacing: previous != nil)
            } catch {
                failures[model.name] = "\(error)"
                logger.error("worker did not start", metadata: ["model": "\(model.name)", "error": "\(error)"])
                effective.models.removeAll { $0.name == model.name }
                if let previous, let runtimes = running?.runtimes, await restore(previous, runtimes: runtimes) {
                    effective.models.append(previous)
                }
            }
        }
        if !failures.isEmpty { effective = effective.removingDanglingReferences() }
        scheduler.declare(effective.models, memory: effective.memory)
        running = effective
        try AtomicFile.write(json: effective, to: state.appliedManifest)
        await serve(effective)
        return Outcome(changes: changes, failures: failures, running: effective)
    }

    /// Writes the definition, stops the old worker if there is one, and loads the model again when it was
    /// loaded or is to be preloaded; a changed model that was not in memory stays out until a request names
    /// it. Remembers its file.
    func start(_ model: ResolvedModel, runtimes: ResolvedRuntimes, replacing: Bool) async throws {
        try WorkerDefinition(model: model, runtimes: runtimes).write(to: state.workerDefinition(model.name))
        let wasLoaded = replacing && scheduler.isLoaded(model.name)
        if replacing { await scheduler.stop(model.name) }
        scheduler.declare(model)
        if model.lifecycle.preload || wasLoaded { try await scheduler.preload(model.name) }
        files[model.name] = ModelFiles.localPath(for: model.source, hub: hub).flatMap(FileIdentity.init(path:))
        reportedMissing.remove(model.name)
    }

    /// Puts a model's previous definition back after its new one failed; whether it runs again.
    private func restore(_ previous: ResolvedModel, runtimes: ResolvedRuntimes) async -> Bool {
        do {
            try await start(previous, runtimes: runtimes, replacing: false)
            logger.warning("worker runs its previous definition", metadata: ["model": "\(previous.name)"])
            return true
        } catch {
            logger.error(
                "previous definition did not start either", metadata: ["model": "\(previous.name)", "error": "\(error)"])
            return false
        }
    }

    private func remove(_ model: String) async {
        await scheduler.stop(model)
        files[model] = nil
        reportedMissing.remove(model)
        try? FileManager.default.removeItem(at: state.workerDefinition(model))
        try? FileManager.default.removeItem(at: state.promptCaches.appendingPathComponent(model))
        logger.info("worker removed", metadata: ["model": "\(model)"])
    }

    /// Pins (or restores) clocks; a knob that fails is logged and the rest goes ahead.
    func reconcileClocks(_ desired: ResolvedManifest) {
        guard let clocks else { return }
        do {
            try clocks.reconcile(soc: desired.soc, policy: desired.clocks).log(to: logger)
        } catch {
            logger.error("clocks: \(error)")
        }
    }
}

extension ResolvedManifest {
    /// Without these models, and without them in any endpoint's list.
    func removing(_ names: [String]) -> ResolvedManifest {
        var manifest = self
        manifest.models.removeAll { names.contains($0.name) }
        return manifest.removingDanglingReferences()
    }

    /// Endpoints list only models that are there.
    func removingDanglingReferences() -> ResolvedManifest {
        var manifest = self
        for index in manifest.endpoints.indices {
            manifest.endpoints[index].models.removeAll { name in !manifest.models.contains { $0.name == name } }
        }
        return manifest
    }
}
