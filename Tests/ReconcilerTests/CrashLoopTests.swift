import Foundation
import Logging
import Manifest
import TestSupport
import Testing

@testable import Reconciler

/// The supervisor with a stand-in worker (a Python script that answers one health check on the worker
/// socket, then exits): restarts come fast, then a crash loop is declared, recorded and paused.
struct CrashLoopTests {
    @Test func aWorkerThatKeepsCrashingIsPausedAndReported() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("crash-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let state = StateDirectory(root: root)
        let script = try StandInWorker.install(StandInWorker.flaky, named: "worker.py", in: root)
        // Restarts 50 ms apart, so without the pause the next attempt would come at once; the pause is short
        // enough to wait for, and the attempt after it shows it was kept.
        let pause = Duration.seconds(3)
        let supervisor = WorkerSupervisor(
            // Generous: a Python start on a machine busy with the other suites can take seconds.
            state: state, logger: Logger(label: "crash-loop-test"), readinessTimeout: .seconds(30),
            backoff: RestartBackoff(
                first: .milliseconds(50), longest: .milliseconds(50), crashLoopRestarts: 3, crashLoopWindow: .seconds(60),
                crashLoopPause: pause))
        try await supervisor.start(
            .init(
                model: "flaky", executable: StandInWorker.python, arguments: [script, state.workerSocket("flaky").path],
                restart: .always))

        try await eventually("the crash loop is declared") { await supervisor.state(of: "flaky").crashLoop != nil }
        let looping = await supervisor.state(of: "flaky")
        #expect(looping.restarts == 3)
        #expect(looping.running == false)
        let crashLoop = try #require(looping.crashLoop)
        #expect(crashLoop.restarts == 3 && crashLoop.windowSeconds == 60)
        // Paused: the next attempt is at most the pause away. (Whether it still lies ahead depends on how late
        // this test saw the declaration on a loaded machine; that the pause is kept is checked below, against
        // the attempt time the supervisor announced.)
        #expect(crashLoop.nextAttempt.timeIntervalSinceNow <= 3.5)

        // Recorded for `runner status`, with how the last process ended and the end of its output.
        let record = try #require(StateObserver(state: state, hub: HubCacheLayout(hub: root)).workerRecords()["flaky"])
        #expect(record.crashLoop?.restarts == 3 && record.restarts == 3)
        // (The record keeps whole seconds.)
        #expect(abs((record.crashLoop?.nextAttempt ?? .distantPast).timeIntervalSince(crashLoop.nextAttempt)) < 1)
        #expect(record.lastExit?.reason == "exited with status 1")
        #expect(record.lastExit?.log.last == "flaky: exiting", "\(record.lastExit?.log ?? [])")

        // The next process comes only when the pause is over: not before the attempt time the supervisor
        // announced (measured against that, not against when this test happened to see the declaration).
        try await eventually("the attempt after the pause", timeout: pause + .seconds(20)) {
            let now = await supervisor.state(of: "flaky")
            return now.running || now.restarts > 3
        }
        #expect(Date() >= crashLoop.nextAttempt.addingTimeInterval(-0.1), "restarted before the pause was over")
        await supervisor.stopAll()
    }

}
