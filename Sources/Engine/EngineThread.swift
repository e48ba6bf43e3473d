import Foundation

/// What an `EngineThread` drives: an object that lives on that thread only (it owns C handles that must
/// not be touched from anywhere else) and advances in steps.
protocol SteppedRuntime: AnyObject, SendableMetatype {
    /// True while there is something to do without waiting for a new job (active or queued requests).
    var hasWork: Bool { get }
    /// One unit of work (one `llama_decode` for the llama runtime). Called only when `hasWork`.
    func step()
    /// Last call before the thread ends: finish requests and release the C resources.
    func shutdown()
}

/// A dedicated OS thread that owns a runtime and runs jobs sent from async code between its steps.
/// Blocking C calls (model load, decode) therefore never run on the Swift concurrency pool, and the runtime
/// needs no locks: only this thread ever sees it.
///
/// `@unchecked Sendable`: the mutable state (`jobs`, `stopping`) is only read or written while holding
/// `condition`'s lock; the runtime itself never leaves the thread.
final class EngineThread<Runtime: SteppedRuntime>: @unchecked Sendable {
    typealias Job = @Sendable (Runtime) -> Void

    private let condition = NSCondition()
    private var jobs: [Job] = []
    private var stopping = false
    private var finished: [CheckedContinuation<Void, Never>] = []
    private var ended = false

    private init() {}

    /// Starts the thread and creates the runtime on it. Throws what `make` throws (the thread then ends).
    static func start(name: String, make: @escaping @Sendable () throws -> Runtime) async throws -> EngineThread {
        let engineThread = EngineThread()
        try await withCheckedThrowingContinuation { (started: CheckedContinuation<Void, any Error>) in
            let thread = Thread {
                let runtime: Runtime
                do {
                    runtime = try make()
                } catch {
                    engineThread.markEnded()
                    started.resume(throwing: error)
                    return
                }
                started.resume()
                engineThread.loop(runtime)
            }
            thread.name = name
            thread.stackSize = 8 << 20
            thread.start()
        }
        return engineThread
    }

    /// Queues `job` to run on the thread before its next step. False once the thread is stopping.
    @discardableResult
    func submit(_ job: @escaping Job) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard !stopping else { return false }
        jobs.append(job)
        condition.signal()
        return true
    }

    /// Runs `body` on the thread and returns its result.
    func run<T: Sendable>(_ body: @escaping @Sendable (Runtime) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let accepted = submit { runtime in continuation.resume(with: Result { try body(runtime) }) }
            if !accepted {
                continuation.resume(throwing: EngineError(.unavailable, "the engine is shutting down"))
            }
        }
    }

    /// Asks the thread to end (as `stop`) without waiting for it.
    func requestStop() {
        condition.lock()
        stopping = true
        condition.signal()
        condition.unlock()
    }

    /// Runs the jobs already queued, then `Runtime.shutdown`, then ends the thread. Returns once it has.
    func stop() async {
        await withCheckedContinuation { continuation in
            condition.lock()
            defer { condition.unlock() }
            if ended {
                continuation.resume()
                return
            }
            stopping = true
            finished.append(continuation)
            condition.signal()
        }
    }

    private func loop(_ runtime: Runtime) {
        var batch: [Job] = []
        while true {
            condition.lock()
            while jobs.isEmpty && !stopping && !runtime.hasWork {
                condition.wait()
            }
            if !jobs.isEmpty { swap(&batch, &jobs) }
            let stop = stopping && jobs.isEmpty && batch.isEmpty
            condition.unlock()

            for job in batch { job(runtime) }
            batch.removeAll(keepingCapacity: true)
            if stop { break }
            if runtime.hasWork { runtime.step() }
        }
        runtime.shutdown()
        markEnded()
    }

    private func markEnded() {
        condition.lock()
        ended = true
        stopping = true
        let waiters = finished
        finished = []
        condition.unlock()
        for waiter in waiters { waiter.resume() }
    }
}
