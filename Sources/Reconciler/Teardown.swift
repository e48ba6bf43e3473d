internal import Foundation
public import Logging
public import Manifest

/// Undoes an apply: `runner delete`. Stops the supervisor that manages the state directory (it stops its
/// workers), stops any worker left behind, restores the clocks, and forgets what was applied. Downloaded
/// model files stay unless `purge`, because fetching gigabytes again is the expensive part.
public struct Teardown: Sendable {
    public var state: StateDirectory
    public var clocks: ClockPinning?
    public var logger: Logger

    public init(state: StateDirectory, clocks: ClockPinning?, logger: Logger) {
        self.state = state
        self.clocks = clocks
        self.logger = logger
    }

    /// Takes the state lock, asking a running `runner apply`/`serve` to stop (SIGTERM) when it holds it.
    public func takeOver(timeout: Duration = .seconds(60)) async throws -> StateLock {
        let deadline = ContinuousClock.now + timeout
        var signalled: Int32?
        while true {
            do {
                return try StateLock(state: state)
            } catch let error as ReconcilerError where error.code == .locked {
                guard let holder = StateLock.holder(of: state), ContinuousClock.now < deadline else { throw error }
                if signalled != holder {
                    logger.info("stopping the runner that manages this state", metadata: ["pid": "\(holder)"])
                    kill(holder, SIGTERM)
                    signalled = holder
                }
                try await Task.sleep(for: .milliseconds(200))
            }
        }
    }

    /// With the lock held: stops leftover workers, restores clocks, removes the applied state (and with
    /// `purge` the models' downloaded files). Returns one line per thing done.
    public func run(applied: ResolvedManifest, observed: ObservedState, purge: Bool) async throws -> [String] {
        var done: [String] = []
        for (model, record) in observed.runningWorkers {
            kill(record.pid, SIGTERM)
            let deadline = ContinuousClock.now + .seconds(10)
            while kill(record.pid, 0) == 0, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
            if kill(record.pid, 0) == 0 { kill(record.pid, SIGKILL) }
            done.append("stopped worker \(model) (pid \(record.pid))")
        }
        if let clocks {
            let result = try clocks.restore()
            let restored = result.outcomes.filter { $0.status == .restored }.count
            if restored > 0 { done.append("restored \(restored) clock setting\(restored == 1 ? "" : "s")") }
            for failure in result.failures { done.append("clock \(failure.knob) NOT restored: \(failure.detail)") }
        }
        let fileManager = FileManager.default
        for model in applied.models {
            try? fileManager.removeItem(at: state.workerRecord(model.name))
            try? fileManager.removeItem(at: state.workerSocket(model.name))
            if fileManager.fileExists(atPath: state.promptCaches.appendingPathComponent(model.name).path) {
                try fileManager.removeItem(at: state.promptCaches.appendingPathComponent(model.name))
                done.append("removed prompt caches of \(model.name)")
            }
        }
        if purge {
            let hub = HubCacheLayout(hub: state.hubCache())
            let repositories = Set(
                applied.models.flatMap { model in
                    ModelFiles.sources(of: model).compactMap { source -> String? in
                        if case .huggingface(let repo, _, _, _) = source { return repo }
                        return nil
                    }
                })
            for repo in repositories.sorted() where fileManager.fileExists(atPath: hub.repository(repo).path) {
                try fileManager.removeItem(at: hub.repository(repo))
                done.append("removed downloaded files of \(repo)")
            }
        }
        try? fileManager.removeItem(at: state.appliedSource)
        try fileManager.removeItem(at: state.appliedManifest)
        done.append("forgot manifest '\(applied.name)'")
        return done
    }
}
