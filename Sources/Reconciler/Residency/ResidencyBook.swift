internal import Foundation
internal import Manifest
internal import Worker

/// The scheduler's books: each declared model's phase, holds and memory, the requests waiting for a model,
/// and what follows from them (`decide`). Kept under the scheduler's lock; nothing here waits or does I/O.
struct ResidencyBook {
    enum Phase: Equatable {
        /// Declared and never loaded (`preload: false`), or dropped back to this by a manifest change.
        case notLoaded
        case loading
        case resident
        case stopping(StopReason)
        case stopped(StopReason)
        case failed(String)

        /// Whether its worker process holds (or is about to hold, or still holds) memory.
        var holdsMemory: Bool {
            switch self {
            case .loading, .resident, .stopping: true
            case .notLoaded, .stopped, .failed: false
            }
        }

        /// The name `runner status`, the admin API and the state file use.
        var name: String {
            switch self {
            case .notLoaded: "not-loaded"
            case .loading: "loading"
            case .resident: "resident"
            case .stopping: "stopping"
            case .stopped(.idle): "stopped-idle"
            case .stopped(.evicted): "evicted"
            case .stopped: "unloaded"
            case .failed: "failed"
            }
        }
    }

    enum StopReason: String, Sendable {
        case idle
        case evicted
        case keepAlive = "keep_alive"
        case unload
        case manifest
    }

    struct Entry {
        var model: ResolvedModel
        var phase = Phase.notLoaded
        var since = Date()
        /// Before the first load: from the file (`ModelFootprint`); 0 when unknown.
        var estimate: Int64
        /// The worker's resident memory, once it has run.
        var measured: Int64?
        /// Requests holding it now.
        var holds = 0
        var lastUsed: Date?
        /// For least-recently-used order; nil (never used) sorts first.
        var lastUsedAt: ContinuousClock.Instant?
        /// When it is stopped for idling; nil while in use or when kept.
        var expiresAt: ContinuousClock.Instant?
        var expiresOn: Date?
        /// The `keep_alive` of the latest request, applied when its last hold is given back.
        var keepAlive: KeepAlive?
        /// Whether a timer task is watching `expiresAt`.
        var timerRunning = false
        var lastError: String?

        /// Measured when known: that is what it took last time.
        var footprint: Int64 { measured ?? estimate }
        var pinned: Bool { model.lifecycle.pinned }
        var evictable: Bool { phase == .resident && holds == 0 && !pinned }
    }

    struct Waiter {
        let id: Int
        let model: String
        let enqueued: ContinuousClock.Instant
        let continuation: CheckedContinuation<ModelLease, any Error>
        var timeout: Task<Void, Never>?
    }

    /// What `decide` asks the scheduler to do once the lock is released.
    struct Decisions {
        var grants: [Waiter] = []
        var refusals: [(Waiter, ResidencyRefusal)] = []
        var loads: [String] = []
        var stops: [(String, StopReason)] = []
        var timers: [String] = []

        var isEmpty: Bool { grants.isEmpty && refusals.isEmpty && loads.isEmpty && stops.isEmpty && timers.isEmpty }

        static func += (lhs: inout Decisions, rhs: Decisions) {
            lhs.grants += rhs.grants
            lhs.refusals += rhs.refusals
            lhs.loads += rhs.loads
            lhs.stops += rhs.stops
            lhs.timers += rhs.timers
        }
    }

    var budget: Int64
    var entries: [String: Entry] = [:]
    /// In arrival order.
    var waiters: [Waiter] = []
    var nextWaiterID = 0

    var held: Int64 { entries.values.filter(\.phase.holdsMemory).reduce(0) { $0 + $1.footprint } }

    /// Hands a resident model to its waiters, starts the loads that fit (stopping the least recently used
    /// idle models to make room), refuses what can never fit. Called after every change.
    mutating func decide(now: ContinuousClock.Instant) -> Decisions {
        var decisions = Decisions()
        var stillWaiting: [Waiter] = []
        for waiter in waiters {
            guard let entry = entries[waiter.model] else {
                decisions.refusals.append((waiter, ResidencyRefusal(.unknown, "model '\(waiter.model)' is not served any more")))
                continue
            }
            guard entry.phase == .resident else {
                stillWaiting.append(waiter)
                continue
            }
            hold(waiter.model)
            decisions.grants.append(waiter)
        }
        waiters = stillWaiting
        var wanted: [String] = []
        for waiter in waiters where !wanted.contains(waiter.model) { wanted.append(waiter.model) }
        for name in wanted {
            guard let entry = entries[name] else { continue }
            switch entry.phase {
            case .notLoaded, .stopped, .failed: break
            case .loading, .resident, .stopping: continue
            }
            if entry.footprint > budget {
                let refusal = ResidencyRefusal(
                    .tooLarge,
                    "model '\(name)' needs about \(ByteSize(bytes: entry.footprint).readable), more than the memory budget of \(ByteSize(bytes: budget).readable)"
                )
                refuseWaiters(for: name, refusal, into: &decisions)
                continue
            }
            switch room(for: name) {
            case .fits:
                startLoading(name)
                decisions.loads.append(name)
            case .afterStops:
                continue
            case .evicting(let victims):
                for victim in victims {
                    entries[victim]?.phase = .stopping(.evicted)
                    decisions.stops.append((victim, .evicted))
                }
            case .blocked:
                continue
            }
        }
        return decisions
    }

    enum Room: Equatable {
        case fits
        /// Fits once the models already stopping are gone.
        case afterStops
        case evicting([String])
        /// Not until a model in use goes idle.
        case blocked
    }

    /// Whether `name` fits the budget next to what holds memory, and if not, which idle models (least
    /// recently used first, and any rkllm model in its NPU domain) would have to go.
    func room(for name: String) -> Room {
        guard let entry = entries[name] else { return .blocked }
        let holding = entries.filter { $0.key != name && $0.value.phase.holdsMemory }
        let used = holding.values.reduce(0) { $0 + $1.footprint }
        let stopping = holding.filter { if case .stopping = $0.value.phase { true } else { false } }
        let conflicts = Set(holding.keys.filter { Self.shareNPUDomain(entry.model, holding[$0]!.model) })
        if used + entry.footprint <= budget && conflicts.isEmpty { return .fits }
        let stillThere = conflicts.subtracting(stopping.keys)
        var free = budget - used + stopping.values.reduce(0) { $0 + $1.footprint }
        if free >= entry.footprint && stillThere.isEmpty { return .afterStops }
        var victims: [String] = []
        for conflict in stillThere.sorted() {
            guard holding[conflict]!.evictable, !isWaitedFor(conflict) else { return .blocked }
            victims.append(conflict)
            free += holding[conflict]!.footprint
        }
        let idle = holding.filter { $0.value.evictable && !stillThere.contains($0.key) && !isWaitedFor($0.key) }
            .sorted { lhs, rhs in
                switch (lhs.value.lastUsedAt, rhs.value.lastUsedAt) {
                case (nil, nil): lhs.key < rhs.key
                case (nil, _): true
                case (_, nil): false
                case (let a?, let b?): a < b
                }
            }
        for (victim, candidate) in idle where free < entry.footprint {
            victims.append(victim)
            free += candidate.footprint
        }
        return free >= entry.footprint ? .evicting(victims) : .blocked
    }

    /// Two rkllm models in one IOMMU domain fail to load together, whatever the memory.
    static func shareNPUDomain(_ a: ResolvedModel, _ b: ResolvedModel) -> Bool {
        guard a.engine == .rkllm, b.engine == .rkllm, let first = a.npu, let second = b.npu else { return false }
        return first.domain == second.domain
    }

    func isWaitedFor(_ name: String) -> Bool { waiters.contains { $0.model == name } }

    /// Adds a declared model, or takes its new definition (and estimate) keeping its phase.
    mutating func declare(_ model: ResolvedModel, estimate: Int64) {
        guard var entry = entries[model.name] else {
            entries[model.name] = Entry(model: model, estimate: estimate)
            return
        }
        if entry.model != model { entry.estimate = estimate }
        entry.model = model
        entries[model.name] = entry
    }

    mutating func startLoading(_ name: String) {
        entries[name]?.phase = .loading
        entries[name]?.since = Date()
    }

    mutating func hold(_ name: String) {
        entries[name]?.holds += 1
        entries[name]?.expiresAt = nil
        entries[name]?.expiresOn = nil
    }

    mutating func refuseWaiters(for name: String, _ refusal: ResidencyRefusal, into decisions: inout Decisions) {
        waiters.removeAll { waiter in
            guard waiter.model == name else { return false }
            decisions.refusals.append((waiter, refusal))
            return true
        }
    }

    /// The last hold on `name` was given back at `now`: it stays as the latest request's `keep_alive` says,
    /// else as the manifest's `idleTimeout` says; a pinned model stays.
    mutating func idle(_ name: String, now: ContinuousClock.Instant, into decisions: inout Decisions) {
        guard let entry = entries[name], entry.holds == 0, entry.phase == .resident else { return }
        let rule: KeepAlive =
            entry.pinned
            ? .forever : entry.keepAlive ?? entry.model.lifecycle.idleTimeout.map { .duration($0.duration) } ?? .forever
        switch rule {
        case .forever:
            entries[name]?.expiresAt = nil
            entries[name]?.expiresOn = nil
        case .unloadAfterUse:
            guard !isWaitedFor(name) else { return }
            entries[name]?.phase = .stopping(.keepAlive)
            decisions.stops.append((name, .keepAlive))
        case .duration(let duration):
            entries[name]?.expiresAt = now + duration
            entries[name]?.expiresOn = Date().addingTimeInterval(Double(duration.components.seconds))
            if !entry.timerRunning {
                entries[name]?.timerRunning = true
                decisions.timers.append(name)
            }
        }
    }
}
