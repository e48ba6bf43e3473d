internal import Foundation
internal import Logging

/// What the supervisor writes down about its workers: restart counts and crash loops, and how each process
/// ended, in the worker's record (for `runner status`) and its log.
extension WorkerSupervisor {
    /// Counts the restart and picks its delay: exponential backoff (starting over after a worker stayed up),
    /// or the long crash-loop pause, which is logged and written to the worker's record for `runner status`.
    func scheduleRestart(_ model: String, _ worker: Supervised) -> Duration {
        let now = ContinuousClock.now
        var consecutive = worker.consecutiveRestarts
        var recent = backoff.recent(worker.recentRestarts, now: now)
        if let since = worker.healthySince, now - since > backoff.resetAfter {
            consecutive = 0
            recent = []
        }
        recent.append(now)
        workers[model]?.restarts = worker.restarts + 1
        workers[model]?.consecutiveRestarts = consecutive + 1
        workers[model]?.recentRestarts = recent
        guard backoff.isCrashLoop(recent) else {
            let delay = backoff.delay(afterRestarts: consecutive)
            logger.info("restarting worker", metadata: ["model": "\(model)", "after": "\(delay)"])
            return delay
        }
        let pause = backoff.crashLoopPause
        let crashLoop = WorkerRecord.CrashLoop(
            since: worker.crashLoop?.since ?? Date(), restarts: recent.count,
            windowSeconds: Int(backoff.crashLoopWindow.components.seconds),
            nextAttempt: Date().addingTimeInterval(TimeInterval(pause.components.seconds)))
        workers[model]?.crashLoop = crashLoop
        logger.error(
            "worker is crash-looping: \(recent.count) restarts within \(backoff.crashLoopWindow); next attempt in \(pause)",
            metadata: ["model": "\(model)"])
        writeRecord(model) {
            $0.crashLoop = crashLoop
            $0.restarts = worker.restarts + 1
        }
        return pause
    }

    /// Rewrites fields of a worker's record in place (best effort: the record is for people and status).
    func writeRecord(_ model: String, _ change: (inout WorkerRecord) -> Void) {
        guard let data = try? Data(contentsOf: state.workerRecord(model)),
            var record = try? JSONDecoder.state.decode(WorkerRecord.self, from: data)
        else { return }
        change(&record)
        try? AtomicFile.write(json: record, to: state.workerRecord(model))
    }

    /// The last lines its current process wrote to the worker's log (its stdout and stderr), without the
    /// empty one after the last newline.
    func logTail(_ model: String, lines: Int = WorkerRecord.Exit.logLines) -> [String] {
        let url = state.workers.appendingPathComponent("\(model).log")
        guard let handle = try? FileHandle(forReadingFrom: url) else { return [] }
        defer { try? handle.close() }
        try? handle.seek(toOffset: logStarts[model] ?? 0)
        let text = String(decoding: (try? handle.readToEnd()) ?? Data(), as: UTF8.self)
        var all = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if all.last == "" { all.removeLast() }
        return Array(all.suffix(lines))
    }
}
