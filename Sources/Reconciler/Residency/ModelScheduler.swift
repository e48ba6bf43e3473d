internal import Foundation
public import Logging
public import Manifest
internal import Synchronization
public import Worker

/// Decides which models are in memory: loads a model when a request names it (or at apply, `preload`),
/// stops it after `idleTimeout` or the request's `keep_alive`, and stops the least recently used idle
/// models when one that must load does not fit the memory budget. Busy and pinned models are never stopped
/// to make room; two rkllm models in one NPU domain are never resident together. Requests that must wait
/// (for a load, or for a model to go idle) wait up to `loadTimeout`.
///
/// Decisions are made under one lock (`ResidencyBook.decide`), so a request for a resident model is served
/// without a task switch; loads and stops run in tasks of their own and report back.
public final class ModelScheduler: ModelResidency, Sendable {
    public let supervisor: WorkerSupervisor
    let launch: @Sendable (ResolvedModel) -> WorkerSupervisor.Launch
    let logger: Logger
    let loadTimeout: Duration
    public let metrics: ResidencyMetrics
    let record: ResidencyRecorder
    let hub: HubCacheLayout
    let book: Mutex<ResidencyBook>

    public init(
        supervisor: WorkerSupervisor, hub: HubCacheLayout, logger: Logger, loadTimeout: Duration,
        metrics: ResidencyMetrics = ResidencyMetrics(), launch: @escaping @Sendable (ResolvedModel) -> WorkerSupervisor.Launch
    ) {
        self.supervisor = supervisor
        self.hub = hub
        self.logger = logger
        self.loadTimeout = loadTimeout
        self.metrics = metrics
        self.launch = launch
        record = ResidencyRecorder(file: supervisor.state.residency)
        book = Mutex(ResidencyBook(budget: 0))
        record.source { [weak self] in self?.snapshot() }
        Task { [supervisor] in await supervisor.whenGone { [weak self] model, how in self?.workerGone(model, how) } }
    }

    /// The books as `runner status` shows them.
    public func snapshot() -> ResidencyRecord {
        book.withLock { book in
            ResidencyRecord(
                budget: book.budget, held: book.held,
                models: book.entries.values.sorted { $0.model.name < $1.model.name }.map { entry in
                    var error: String? = nil
                    if case .failed(let message) = entry.phase { error = message }
                    return ResidencyRecord.Model(
                        name: entry.model.name, state: entry.phase.name, since: entry.since, lastUsed: entry.lastUsed,
                        expiresAt: entry.expiresOn, bytes: entry.footprint, measured: entry.measured != nil,
                        pinned: entry.pinned, inUse: entry.holds,
                        waiting: book.waiters.filter { $0.model == entry.model.name }.count, error: error ?? entry.lastError)
                })
        }
    }

    // MARK: The manifest

    /// Takes the manifest's models and budget. New models start not loaded; a model whose definition
    /// changed keeps its phase (the deployment restarts resident ones); dropped models are forgotten (their
    /// workers are the deployment's to stop) and their waiters refused.
    public func declare(_ models: [ResolvedModel], memory: ResolvedMemory) {
        let machine = try? MemInfo.read()
        // Read outside the lock: each is a look at the model's file.
        let estimates = Dictionary(uniqueKeysWithValues: models.map { ($0.name, estimate($0)) })
        let decisions = book.withLock { book in
            let held = book.held
            let kept = book.entries.filter { name, _ in models.contains { $0.name == name } }
            book.entries = kept
            for model in models { book.declare(model, estimate: estimates[model.name] ?? 0) }
            book.budget =
                machine.map { MemoryBudget.bytes(memory, machine: $0, held: held) } ?? memory.budget ?? Int64.max
            return book.decide(now: .now)
        }
        perform(decisions)
    }

    func estimate(_ model: ResolvedModel) -> Int64 {
        ModelFootprint.estimate(
            model, file: ModelFiles.localPath(for: model.source, hub: hub),
            vision: ModelFiles.visionFilePath(of: model, hub: hub)) ?? 0
    }

    /// Loads a model now, without a request, when it fits beside what is resident without stopping
    /// anything: apply's `preload`, and a resident model coming back after its definition changed. Returns
    /// false, loading nothing, when it does not fit; throws when its worker does not come up. With
    /// `superviseOnFailure` the worker then stays supervised (restarted with backoff).
    @discardableResult
    public func preload(_ name: String, superviseOnFailure: Bool = false) async throws -> Bool {
        let admitted = book.withLock { book -> ResolvedModel? in
            guard let entry = book.entries[name], !entry.phase.holdsMemory, book.room(for: name) == .fits else { return nil }
            book.startLoading(name)
            return entry.model
        }
        guard let model = admitted else {
            let resident = book.withLock { $0.entries[name]?.phase.holdsMemory ?? false }
            if !resident {
                logger.warning(
                    "not preloaded: it does not fit beside the models already loaded; it loads on its first request",
                    metadata: ["model": "\(name)"])
            }
            return resident
        }
        try await runLoad(model, reason: "preload", superviseOnFailure: superviseOnFailure)
        return true
    }

    /// Stops a model's worker now, whatever holds it (a manifest change replacing or dropping it), and waits.
    public func stop(_ name: String) async {
        let holds = book.withLock { book -> Bool in
            guard let phase = book.entries[name]?.phase, phase.holdsMemory else { return false }
            book.entries[name]?.phase = .stopping(.manifest)
            return true
        }
        if holds {
            await runStop(name, .manifest)
        } else {
            await supervisor.stop(name)
        }
    }

    /// Adds or updates one model (its definition changed); its phase stays.
    public func declare(_ model: ResolvedModel) {
        let estimate = estimate(model)
        book.withLock { $0.declare(model, estimate: estimate) }
        record.changed()
    }

    /// Whether the model's worker holds memory now (loading, resident or stopping).
    public func isLoaded(_ name: String) -> Bool { book.withLock { $0.entries[name]?.phase.holdsMemory ?? false } }

    // MARK: Requests

    public func tryAcquire(_ model: String, keepAlive: KeepAlive?) -> ModelLease? {
        let held = book.withLock { book -> Bool in
            guard book.entries[model]?.phase == .resident else { return false }
            book.hold(model)
            book.entries[model]?.keepAlive = keepAlive
            return true
        }
        return held ? lease(model, waited: .zero) : nil
    }

    public func acquire(_ model: String, keepAlive: KeepAlive?) async throws -> ModelLease {
        if let lease = tryAcquire(model, keepAlive: keepAlive) { return lease }
        let id = book.withLock { book in
            defer { book.nextWaiterID += 1 }
            return book.nextWaiterID
        }
        let started = ContinuousClock.now
        let lease = try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<ModelLease, any Error>) in
                enqueue(id, model: model, keepAlive: keepAlive, continuation: continuation, started: started)
            }
        } onCancel: {
            refuseWaiter(id, CancellationError())
        }
        return lease
    }

    func enqueue(
        _ id: Int, model: String, keepAlive: KeepAlive?, continuation: CheckedContinuation<ModelLease, any Error>,
        started: ContinuousClock.Instant
    ) {
        let refusal = book.withLock { book -> ResidencyRefusal? in
            guard book.entries[model] != nil else { return ResidencyRefusal(.unknown, "model '\(model)' is not served") }
            book.entries[model]?.keepAlive = keepAlive
            var waiter = ResidencyBook.Waiter(id: id, model: model, enqueued: started, continuation: continuation)
            let limit = loadTimeout
            waiter.timeout = Task { [weak self] in
                guard (try? await Task.sleep(until: started + limit)) != nil else { return }
                self?.timedOut(id)
            }
            book.waiters.append(waiter)
            return nil
        }
        if let refusal { return continuation.resume(throwing: refusal) }
        // Cancelled before it was queued, its cancellation handler found nothing to take out.
        if Task.isCancelled { return refuseWaiter(id, CancellationError()) }
        schedule()
    }

    func timedOut(_ id: Int) {
        let loading = book.withLock { book -> Bool in
            guard let waiter = book.waiters.first(where: { $0.id == id }) else { return false }
            return book.entries[waiter.model]?.phase == .loading
        }
        refuseWaiter(
            id,
            loading
                ? ResidencyRefusal(.noRoom, "the model did not finish loading within \(loadTimeout)", retryAfter: 5)
                : ResidencyRefusal(
                    .noRoom,
                    "no room to load the model within \(loadTimeout): the models in memory are in use or pinned", retryAfter: 5))
    }

    func refuseWaiter(_ id: Int, _ error: any Error) {
        let waiter = book.withLock { book -> ResidencyBook.Waiter? in
            guard let index = book.waiters.firstIndex(where: { $0.id == id }) else { return nil }
            return book.waiters.remove(at: index)
        }
        guard let waiter else { return }
        waiter.timeout?.cancel()
        waiter.continuation.resume(throwing: error)
        // The model it wanted may now be an eviction candidate, or no longer worth loading.
        schedule()
    }

    func lease(_ model: String, waited: Duration) -> ModelLease {
        ModelLease(waited: waited) { [weak self] in self?.released(model) }
    }

    func released(_ model: String) {
        let now = ContinuousClock.now
        let decisions = book.withLock { book -> ResidencyBook.Decisions in
            guard book.entries[model] != nil else { return .init() }
            book.entries[model]!.holds -= 1
            book.entries[model]!.lastUsed = Date()
            book.entries[model]!.lastUsedAt = now
            var decisions = ResidencyBook.Decisions()
            book.idle(model, now: now, into: &decisions)
            decisions += book.decide(now: now)
            return decisions
        }
        perform(decisions)
    }

    public func load(_ model: String, keepAlive: KeepAlive?) async throws {
        let lease = try await acquire(model, keepAlive: keepAlive)
        lease.release()
    }

    @discardableResult
    public func unload(_ model: String) async throws -> Unloading {
        let outcome = book.withLock { book -> Result<Unloading, ResidencyRefusal> in
            guard let entry = book.entries[model] else {
                return .failure(ResidencyRefusal(.unknown, "model '\(model)' is not served"))
            }
            if entry.pinned {
                return .failure(
                    ResidencyRefusal(.pinned, "model '\(model)' is pinned by the manifest (lifecycle.pinned); it is not unloaded")
                )
            }
            switch entry.phase {
            case .resident: break
            case .loading: return .success(.afterRequests)
            default: return .success(.notLoaded)
            }
            // In use: it goes when its last request ends.
            book.entries[model]?.keepAlive = .unloadAfterUse
            guard entry.holds == 0, !book.isWaitedFor(model) else { return .success(.afterRequests) }
            book.entries[model]?.phase = .stopping(.unload)
            return .success(.unloaded)
        }
        let unloading = try outcome.get()
        if unloading == .unloaded { await runStop(model, .unload) }
        return unloading
    }

    public func residents() -> [ResidentModel] {
        book.withLock { book in
            book.entries.values.filter { $0.phase == .resident }.sorted { $0.model.name < $1.model.name }.map {
                ResidentModel(name: $0.model.name, bytes: $0.footprint, expiresAt: $0.expiresOn)
            }
        }
    }

    public func isReady(_ model: String) async -> Bool {
        let phase = book.withLock { $0.entries[model]?.phase }
        switch phase {
        case .resident?: return (try? await supervisor.client(for: model).health()) != nil
        case .failed?, nil: return false
        default: return true
        }
    }
}
