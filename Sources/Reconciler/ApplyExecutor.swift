internal import AXLLM
internal import Engine
internal import Foundation
public import Logging
public import Manifest
internal import Worker

/// Carries out a plan. Everything that could refuse is checked before anything changes, so a failed apply
/// leaves the device as it was.
public struct ApplyExecutor: Sendable {
    public var state: StateDirectory
    public var supervisor: WorkerSupervisor
    public var logger: Logger
    /// Pins or restores the device's clocks as the manifest says; nil leaves them alone.
    public var clocks: ClockPinning?
    /// Builds the command line of a worker for a model (the scheduler starts workers with it too).
    public let launch: @Sendable (ResolvedModel) -> WorkerSupervisor.Launch
    /// Fetches Hugging Face files into the hub cache before any worker is touched.
    public var downloader: HubDownloader
    /// Told of each download's progress, with the model's name (e.g. to draw a bar on a terminal).
    public var downloadProgress: @Sendable (String, HubProgress) -> Void = { _, _ in }
    /// Downloads in progress, for the admin API's status.
    public var downloads = DownloadBoard()
    /// How long a worker left by an earlier run has to exit after SIGTERM before it is killed.
    public var leftoverGrace: Duration = .seconds(10)
    /// Which models are in memory: preloads them at apply, loads the others on demand, unloads idle ones.
    public let scheduler: ModelScheduler

    /// - Parameter loadTimeout: how long a request waits for its model to load, or for room to load it in
    ///   (default: the supervisor's readiness timeout).
    public init(
        state: StateDirectory, supervisor: WorkerSupervisor, logger: Logger, downloader: HubDownloader? = nil,
        loadTimeout: Duration? = nil, launch: @escaping @Sendable (ResolvedModel) -> WorkerSupervisor.Launch
    ) {
        self.state = state
        self.supervisor = supervisor
        self.logger = logger
        self.launch = launch
        let downloader =
            downloader
            ?? HubDownloader(
                cache: HubCacheLayout(hub: state.hubCache()), verified: VerifiedBlobs(directory: state.verifiedBlobs),
                logger: logger)
        self.downloader = downloader
        scheduler = ModelScheduler(
            supervisor: supervisor, hub: downloader.cache, logger: logger,
            loadTimeout: loadTimeout ?? supervisor.readinessTimeout,
            launch: launch)
    }

    /// Reasons this build cannot apply the manifest at all; empty when it can.
    public static func unsupported(_ desired: ResolvedManifest, plan: Plan) -> [String] {
        var reasons = plan.problems
        // Located as the worker will locate it (same executable, environment and working directory), and
        // opened here once for every llama.cpp model, so a missing library fails the apply instead of the worker.
        let llamaProblem =
            desired.models.contains { $0.engine == .llamacpp }
            ? LlamaLibraryLocator.problem(with: LlamaLibraryLocator.locate(manifestLibrary: desired.runtimes.llamaLibrary))
            : nil
        for model in desired.models {
            switch (model.engine, model.source) {
            case (.llamacpp, .local), (.llamacpp, .huggingface):
                if let llamaProblem { reasons.append("model \(model.name): llama.cpp library: \(llamaProblem)") }
            case (.rkllm, .local), (.rkllm, .huggingface):
                // The library is checked here, from its bytes, so a wrong or missing runtime fails the apply
                // before anything changes; only workers ever load it.
                do {
                    _ = try RKLLMLibraryFile.inspect(
                        path: desired.runtimes.rkllmLibrary ?? RKLLMEngine.Configuration.defaultLibraryPath,
                        requested: RKLLMRuntimeABI(desired.runtimes.rkllmABI))
                } catch {
                    reasons.append("model \(model.name): \(error.message)")
                }
            case (.axllm, .local(let directory)):
                if let problem = Self.axllmProblem(model, directory: directory) {
                    reasons.append("model \(model.name): \(problem)")
                }
            default: reasons.append("model \(model.name): engine \(model.engine.rawValue) is not implemented yet")
            }
        }
        return reasons
    }

    /// Downloads the Hugging Face files that are missing, stops workers a previous supervisor left running
    /// (waiting for them to exit), hands the models to the scheduler and starts the workers of those with
    /// `preload` (pinned ones first; each builds its prompt caches before it reports healthy) that fit the
    /// memory budget, then records the manifest as applied. The others load on their first request. A failed
    /// download throws before any worker is stopped. A preloaded worker that does not come up stays
    /// supervised (restarted with backoff) and is returned with why, so the endpoints can still serve the
    /// other models and say this one is unavailable.
    @discardableResult
    public func apply(_ desired: ResolvedManifest, observed: ObservedState) async throws -> [String: String] {
        try ApplyingRecord(manifest: desired.name).write(to: state)
        defer { ApplyingRecord.clear(in: state) }
        try await downloadModelFiles(desired)
        if let clocks { try clocks.reconcile(soc: desired.soc, policy: desired.clocks).log(to: logger) }
        await stopLeftovers(observed)
        PromptCacheCleanup.removeDropped(applied: observed.applied, desired: desired, in: state)
        var failures: [String: String] = [:]
        scheduler.declare(desired.models, memory: desired.memory)
        for model in desired.models.filter(\.lifecycle.pinned) + desired.models.filter({ !$0.lifecycle.pinned })
        where model.lifecycle.preload {
            do {
                try await scheduler.preload(model.name, superviseOnFailure: true)
            } catch {
                // A cancelled apply (SIGTERM while starting) stops what it started; any other failure is
                // reported and the worker stays supervised.
                guard !Task.isCancelled else {
                    await supervisor.stopAll()
                    throw error
                }
                failures[model.name] = "\(error)"
            }
        }
        try AtomicFile.write(json: desired, to: state.appliedManifest)
        return failures
    }

    /// Workers a previous runner left (it was killed before it could stop them) hold sockets and memory.
    /// They are waited for before any successor starts: one still shutting down would remove its
    /// successor's socket. One that outlives `leftoverGrace` after SIGTERM is killed.
    func stopLeftovers(_ observed: ObservedState) async {
        for (model, record) in observed.runningWorkers {
            logger.info("stopping a worker left by an earlier run", metadata: ["model": "\(model)", "pid": "\(record.pid)"])
            kill(record.pid, SIGTERM)
        }
        let deadline = ContinuousClock.now + leftoverGrace
        for record in observed.runningWorkers.values {
            // The record's check (alive, and still that worker) rather than the bare pid: an exited child of
            // this process stays a zombie until it is reaped, and a reused pid is not ours to kill.
            while StateObserver.isWorker(record), ContinuousClock.now < deadline {
                // In a task of its own: an apply may run in a cancelled task, where a sleep returns at once.
                await Task { try? await Task.sleep(for: .milliseconds(50)) }.value
            }
            guard StateObserver.isWorker(record) else { continue }
            logger.warning("a worker left by an earlier run did not stop in time; killing it", metadata: ["pid": "\(record.pid)"])
            kill(record.pid, SIGKILL)
            // Bounded too: a process stuck in the kernel goes only when its call returns.
            let killed = ContinuousClock.now + .seconds(5)
            while StateObserver.isWorker(record), ContinuousClock.now < killed {
                await Task { try? await Task.sleep(for: .milliseconds(20)) }.value
            }
        }
    }

    /// One file at a time: they share the link, and a failure names its model.
    func downloadModelFiles(_ desired: ResolvedManifest) async throws {
        for model in desired.models {
            for file in ModelFiles.hubFiles(of: model) {
                let progress = downloadProgress
                let board = downloads
                // A download that fails (or is cancelled) leaves the board too.
                defer { board.remove(model: model.name, file) }
                do {
                    try await downloader.ensure(file) {
                        board.record(model: model.name, $0)
                        progress(model.name, $0)
                    }
                } catch let error as HubError {
                    throw HubError(error.code, "model \(model.name): \(error.message)")
                }
            }
        }
    }
}

extension ApplyExecutor {
    /// What keeps an axllm model's server from starting, found before anything changes: the binary, and the
    /// model directory as that server generation reads it.
    static func axllmProblem(_ model: ResolvedModel, directory: String) -> String? {
        guard let options = model.axllm else { return "the axllm server is not resolved" }
        return AXLLMModelDirectory.problem(
            binary: options.binary, directory: directory, server: AXLLMEngine.Server(options.server),
            arguments: options.args)
    }
}
