internal import Foundation
internal import Logging
internal import Worker

extension WorkerSupervisor {
    /// Asks every worker that is up (started, healthy once, not being stopped) for its health, all at once.
    /// One that misses `health.failures` checks in a row is killed; its exit then restarts it with the usual
    /// backoff. A worker that has stayed healthy past `backoff.resetAfter` leaves its crash loop.
    public func checkHealth() async {
        let candidates = workers.compactMap { model, worker -> (String, Process)? in
            guard !worker.stopping, worker.healthySince != nil, worker.process.isRunning else { return nil }
            return (model, worker.process)
        }
        let timeout = health.timeout
        let answers = await withTaskGroup(of: (String, Process, Bool).self) { group in
            for (model, process) in candidates {
                let client = client(for: model)
                group.addTask { (model, process, await Self.answers(client, within: timeout)) }
            }
            var answers: [(String, Process, Bool)] = []
            for await answer in group { answers.append(answer) }
            return answers
        }
        for (model, process, answered) in answers { record(model, process: process, answered: answered) }
    }

    private func record(_ model: String, process: Process, answered: Bool) {
        // The worker may have been restarted or stopped while the check was out.
        guard let worker = workers[model], worker.process === process, !worker.stopping else { return }
        if answered {
            workers[model]?.missedHealthChecks = 0
            if worker.crashLoop != nil, let since = worker.healthySince, ContinuousClock.now - since > backoff.resetAfter {
                workers[model]?.crashLoop = nil
                workers[model]?.recentRestarts = []
                logger.info("worker left its crash loop", metadata: ["model": "\(model)"])
                writeRecord(model) { $0.crashLoop = nil }
            }
            return
        }
        let missed = worker.missedHealthChecks + 1
        workers[model]?.missedHealthChecks = missed
        logger.warning(
            "worker did not answer its health check", metadata: ["model": "\(model)", "missed": "\(missed)/\(health.failures)"])
        guard missed >= health.failures, !worker.killedAsUnresponsive else { return }
        workers[model]?.killedAsUnresponsive = true
        // SIGKILL: a hung runtime may not handle SIGTERM, and a stopped process only goes with SIGKILL.
        kill(process.processIdentifier, SIGKILL)
    }

    static func answers(_ client: WorkerClient, within timeout: Duration) async -> Bool {
        await withTaskGroup(of: Bool.self) { group in
            group.addTask { (try? await client.health()) != nil }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
    }
}
