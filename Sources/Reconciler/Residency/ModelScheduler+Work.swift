internal import Foundation
internal import Logging
internal import Manifest
internal import Synchronization
internal import Worker

/// Carrying out the books' decisions: leases handed over, workers started and stopped, idle deadlines watched.
extension ModelScheduler {
    // MARK: Carrying out decisions

    func schedule() {
        perform(book.withLock { $0.decide(now: .now) })
    }

    func perform(_ decisions: ResidencyBook.Decisions) {
        record.changed()
        guard !decisions.isEmpty else { return }
        let now = ContinuousClock.now
        for waiter in decisions.grants {
            waiter.timeout?.cancel()
            waiter.continuation.resume(returning: lease(waiter.model, waited: now - waiter.enqueued))
        }
        for (waiter, refusal) in decisions.refusals {
            waiter.timeout?.cancel()
            waiter.continuation.resume(throwing: refusal)
        }
        for name in decisions.loads {
            guard let model = book.withLock({ $0.entries[name]?.model }) else { continue }
            Task { try? await self.runLoad(model, reason: "request", superviseOnFailure: false) }
        }
        for (name, reason) in decisions.stops {
            Task { await self.runStop(name, reason) }
        }
        for name in decisions.timers {
            Task { await self.watchExpiry(name) }
        }
    }

    /// Starts the worker (its phase is already `loading`), measures it, and hands it to its waiters.
    func runLoad(_ model: ResolvedModel, reason: String, superviseOnFailure: Bool) async throws {
        let started = ContinuousClock.now
        record.changed()
        logger.info("loading model", metadata: ["model": "\(model.name)", "reason": "\(reason)"])
        do {
            try await supervisor.start(launch(model), superviseOnFailure: superviseOnFailure)
        } catch {
            let message = "\(error)"
            // A supervised worker keeps its place (and memory) while the supervisor brings it up.
            let decisions = book.withLock { book -> ResidencyBook.Decisions in
                guard book.entries[model.name]?.phase == .loading else { return .init() }
                book.entries[model.name]?.lastError = message
                book.entries[model.name]?.phase = superviseOnFailure ? .resident : .failed(message)
                book.entries[model.name]?.since = Date()
                var decisions = ResidencyBook.Decisions()
                book.refuseWaiters(
                    for: model.name,
                    ResidencyRefusal(.loadFailed, "model '\(model.name)' failed to load: \(message)", retryAfter: 5),
                    into: &decisions)
                decisions += book.decide(now: .now)
                return decisions
            }
            metrics.loadFailed(model: model.name)
            perform(decisions)
            throw error
        }
        let took = ContinuousClock.now - started
        let measured = await measure(model)
        let decisions = book.withLock { book -> ResidencyBook.Decisions in
            guard book.entries[model.name]?.phase == .loading else { return .init() }
            book.entries[model.name]?.phase = .resident
            book.entries[model.name]?.since = Date()
            book.entries[model.name]?.lastError = nil
            if let measured { book.entries[model.name]?.measured = measured }
            var decisions = book.decide(now: .now)
            // Loaded for nobody (preload, or every waiter gave up): it idles from now.
            if book.entries[model.name]?.holds == 0 { book.idle(model.name, now: .now, into: &decisions) }
            return decisions
        }
        metrics.loaded(model: model.name, reason: reason, took: took, bytes: measured)
        logger.info(
            "model loaded",
            metadata: [
                "model": "\(model.name)", "seconds": "\(took)",
                "bytes": "\(measured.map { ByteSize(bytes: $0).readable } ?? "?")",
            ])
        perform(decisions)
    }

    /// The worker's resident memory; for rkllm at least the estimate, since NPU buffers are not in it.
    func measure(_ model: ResolvedModel) async -> Int64? {
        guard let pid = await supervisor.state(of: model.name).pid, let rss = MemInfo.residentBytes(of: pid) else {
            return nil
        }
        if model.engine == .rkllm { return max(rss, book.withLock { $0.entries[model.name]?.estimate ?? 0 }) }
        return rss
    }

    func runStop(_ name: String, _ reason: ResidencyBook.StopReason) async {
        record.changed()
        logger.info("unloading model", metadata: ["model": "\(name)", "reason": "\(reason.rawValue)"])
        await supervisor.stop(name)
        let decisions = book.withLock { book -> ResidencyBook.Decisions in
            guard case .stopping = book.entries[name]?.phase else { return book.decide(now: .now) }
            book.entries[name]?.phase = .stopped(reason)
            book.entries[name]?.since = Date()
            book.entries[name]?.expiresAt = nil
            book.entries[name]?.expiresOn = nil
            return book.decide(now: .now)
        }
        metrics.unloaded(model: name, reason: reason.rawValue)
        perform(decisions)
    }

    /// A loaded model's worker exited and its restart policy does not bring it back: it is out of memory, and
    /// the next request loads it again.
    func workerGone(_ name: String, _ how: String) {
        let decisions = book.withLock { book -> ResidencyBook.Decisions in
            guard book.entries[name]?.phase == .resident else { return .init() }
            book.entries[name]?.phase = .failed("its worker \(how)")
            book.entries[name]?.since = Date()
            book.entries[name]?.expiresAt = nil
            book.entries[name]?.expiresOn = nil
            return book.decide(now: .now)
        }
        metrics.unloaded(model: name, reason: "exited")
        perform(decisions)
    }

    /// Sleeps until the model's idle deadline, following it as later requests move it; stops the model
    /// when it passes with nothing holding it.
    func watchExpiry(_ name: String) async {
        while true {
            let next = book.withLock { book -> ContinuousClock.Instant? in
                guard let deadline = book.entries[name]?.expiresAt, book.entries[name]?.phase == .resident else {
                    book.entries[name]?.timerRunning = false
                    return nil
                }
                guard deadline <= .now else { return deadline }
                book.entries[name]?.timerRunning = false
                guard book.entries[name]?.holds == 0, !book.isWaitedFor(name) else { return nil }
                book.entries[name]?.phase = .stopping(.idle)
                return nil
            }
            guard let next else { break }
            try? await Task.sleep(until: next)
        }
        if case .stopping(.idle) = book.withLock({ $0.entries[name]?.phase }) { await runStop(name, .idle) }
    }
}
