import Foundation
import Logging
import Manifest
import TestSupport
import Testing

@testable import Reconciler

/// `runner apply` after a supervisor that died and left its workers: each leftover is stopped and waited
/// for before its successor starts (a leftover still shutting down would remove the new socket), and one
/// that ignores SIGTERM is killed after the grace period.
struct LeftoverWorkerTests {
    /// Plays a worker left by an earlier run: on SIGTERM it takes `argv[1]` seconds to exit (or never does,
    /// for "ignore"). "worker" and the model name are on its command line, as a real worker's are.
    static let leftover = #"""
        import signal, sys, time
        delay = sys.argv[1]
        def leave(*_):
            time.sleep(float(delay))
            sys.exit(0)
        # The test process may block or ignore SIGTERM, and children inherit that.
        signal.signal(signal.SIGTERM, signal.SIG_IGN if delay == "ignore" else leave)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGTERM])
        while True: time.sleep(0.05)
        """#

    struct Setup {
        let root: URL
        let state: StateDirectory
        let leftover: Process
        let record: WorkerRecord
    }

    func setUp(exitDelay: String) throws -> Setup {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("leftover-\(UUID().uuidString)")
        let script = try StandInWorker.install(Self.leftover, named: "leftover.py", in: root)
        let leftover = Process()
        leftover.executableURL = URL(fileURLWithPath: StandInWorker.python)
        leftover.arguments = [script, exitDelay, "worker", "tiny"]
        try leftover.run()
        let state = StateDirectory(root: root.appendingPathComponent("state"))
        let record = WorkerRecord(
            model: "tiny", pid: leftover.processIdentifier, socket: state.workerSocket("tiny").path, startedAt: Date())
        return Setup(root: root, state: state, leftover: leftover, record: record)
    }

    func manifest() throws -> ResolvedManifest {
        try resolve(
            """
            apiVersion: rockchipllama/v1
            kind: Device
            metadata: {name: board}
            models: [{name: tiny, source: {path: /models/tiny.gguf}}]
            endpoints: []
            """)
    }

    /// Applies with a stand-in successor; returns whether the leftover was still there when the successor
    /// was launched.
    func apply(_ setup: Setup, grace: Duration) async throws -> [Bool] {
        let script = try StandInWorker.install(StandInWorker.healthy, named: "worker.py", in: setup.root)
        let logger = Logger(label: "leftover-test")
        let supervisor = WorkerSupervisor(state: setup.state, logger: logger, readinessTimeout: .seconds(20))
        let leftoverAlive = Recorded<Bool>()
        let record = setup.record
        var executor = ApplyExecutor(state: setup.state, supervisor: supervisor, logger: logger) { model in
            leftoverAlive.append(StateObserver.isWorker(record))
            return WorkerSupervisor.Launch(
                model: model.name, executable: StandInWorker.python, arguments: [script, setup.state.workerSocket("tiny").path],
                restart: .never)
        }
        executor.leftoverGrace = grace
        let failures = try await executor.apply(try manifest(), observed: ObservedState(runningWorkers: ["tiny": record]))
        #expect(failures.isEmpty)
        await supervisor.stopAll()
        return leftoverAlive.all
    }

    @Test func theSuccessorStartsOnlyAfterTheLeftoverHasExited() async throws {
        let setup = try setUp(exitDelay: "1")
        defer {
            if setup.leftover.isRunning { kill(setup.leftover.processIdentifier, SIGKILL) }
            try? FileManager.default.removeItem(at: setup.root)
        }
        try await eventually("the stand-in to look like a worker") { StateObserver.isWorker(setup.record) }
        #expect(try await apply(setup, grace: .seconds(20)) == [false])
        #expect(setup.leftover.terminationReason == .exit, "it left on its own after SIGTERM")
    }

    @Test func aLeftoverThatIgnoresSIGTERMIsKilledAfterTheGracePeriod() async throws {
        let setup = try setUp(exitDelay: "ignore")
        defer {
            if setup.leftover.isRunning { kill(setup.leftover.processIdentifier, SIGKILL) }
            try? FileManager.default.removeItem(at: setup.root)
        }
        try await eventually("the stand-in to look like a worker") { StateObserver.isWorker(setup.record) }
        #expect(try await apply(setup, grace: .milliseconds(500)) == [false])
        #expect(!StateObserver.isWorker(setup.record))
    }

}
