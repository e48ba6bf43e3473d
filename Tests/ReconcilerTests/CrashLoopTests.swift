import Foundation
import Logging
import Manifest
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
        let supervisor = WorkerSupervisor(
            state: state, logger: Logger(label: "crash-loop-test"), readinessTimeout: .seconds(10),
            backoff: RestartBackoff(
                first: .milliseconds(50), longest: .milliseconds(50), crashLoopRestarts: 3, crashLoopWindow: .seconds(60),
                crashLoopPause: .seconds(60)))
        try await supervisor.start(
            .init(
                model: "flaky", executable: StandInWorker.python, arguments: [script, state.workerSocket("flaky").path],
                restart: .always))

        let deadline = ContinuousClock.now + .seconds(30)
        while await supervisor.state(of: "flaky").crashLoop == nil, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        let looping = await supervisor.state(of: "flaky")
        #expect(looping.restarts == 3)
        let crashLoop = try #require(looping.crashLoop)
        #expect(crashLoop.restarts == 3 && crashLoop.windowSeconds == 60)
        #expect(crashLoop.nextAttempt.timeIntervalSinceNow > 50)

        // Recorded for `runner status`, and no further attempt while paused.
        let record = try #require(StateObserver(state: state, hub: HubCacheLayout(hub: root)).workerRecords()["flaky"])
        #expect(record.crashLoop?.restarts == 3 && record.restarts == 3)
        // (The record keeps whole seconds.)
        #expect(abs((record.crashLoop?.nextAttempt ?? .distantPast).timeIntervalSince(crashLoop.nextAttempt)) < 1)
        try await Task.sleep(for: .seconds(1))
        #expect(await supervisor.state(of: "flaky").restarts == 3)
        #expect(await supervisor.state(of: "flaky").running == false)
        await supervisor.stopAll()
    }
}
