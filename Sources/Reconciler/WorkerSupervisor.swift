internal import Foundation
public import Logging
public import Manifest
public import Worker

/// Starts one worker process per model, waits until it answers, restarts it with backoff when it dies or
/// stops answering its health check (pausing long when it crash-loops), and stops it (SIGTERM, then SIGKILL
/// after a grace period) when told to.
public actor WorkerSupervisor {
    /// How to start one worker.
    public struct Launch: Sendable {
        public var model: String
        public var executable: String
        public var arguments: [String]
        public var restart: RestartPolicy

        public init(model: String, executable: String, arguments: [String], restart: RestartPolicy) {
            self.model = model
            self.executable = executable
            self.arguments = arguments
            self.restart = restart
        }
    }

    struct Supervised {
        var launch: Launch
        var process: Process
        var stopping = false
        /// Restarts since it was started, for status.
        var restarts = 0
        /// Restarts since it last stayed up for `backoff.resetAfter`, for the delay.
        var consecutiveRestarts = 0
        var healthySince: ContinuousClock.Instant?
        /// When it was restarted, within the backoff's crash-loop window.
        var recentRestarts: [ContinuousClock.Instant] = []
        var crashLoop: WorkerRecord.CrashLoop?
        /// How its previous process ended, carried into each new process's record.
        var lastExit: WorkerRecord.Exit?
        /// Health checks missed in a row.
        var missedHealthChecks = 0
        /// Set when the supervisor killed it for not answering, so its exit is reported as such.
        var killedAsUnresponsive = false
    }

    public let state: StateDirectory
    let logger: Logger
    public let readinessTimeout: Duration
    public let backoff: RestartBackoff
    public let health: HealthPolicy
    var workers: [String: Supervised] = [:]
    /// Where each model's current process began writing its log, so its exit reports its own output only.
    var logStarts: [String: UInt64] = [:]
    /// Told when a worker is gone for good: it exited and its restart policy does not bring it back.
    var onGone: (@Sendable (_ model: String, _ how: String) -> Void)?

    public init(
        state: StateDirectory, logger: Logger, readinessTimeout: Duration = .seconds(300), backoff: RestartBackoff = .init(),
        health: HealthPolicy = .init()
    ) {
        self.state = state
        self.logger = logger
        self.readinessTimeout = readinessTimeout
        self.backoff = backoff
        self.health = health
    }

    public func whenGone(_ handler: @escaping @Sendable (_ model: String, _ how: String) -> Void) { onGone = handler }

    public func client(for model: String) -> WorkerClient { WorkerClient(socketPath: state.workerSocket(model).path) }

    public var runningModels: [String] { workers.keys.sorted() }

    public func state(of model: String) -> WorkerState {
        guard let worker = workers[model] else { return WorkerState(running: false, pid: nil, restarts: 0) }
        return WorkerState(
            running: worker.process.isRunning, pid: worker.process.processIdentifier, restarts: worker.restarts,
            crashLoop: worker.crashLoop)
    }

    /// Starts the worker and returns once it answers its health check; throws with the end of its log if it
    /// exits or stays silent first. With `superviseOnFailure`, a worker that fails to come up stays
    /// supervised (restarted with backoff as if it had crashed) and the error only reports it.
    public func start(_ launch: Launch, superviseOnFailure: Bool = false) async throws {
        let process = try spawn(launch, restarts: 0)
        workers[launch.model] = Supervised(launch: launch, process: process)
        do {
            try await waitUntilHealthy(launch.model, process: process)
        } catch {
            if superviseOnFailure, !Task.isCancelled {
                // Its exit (a silent one is killed by the wait) goes through `exited`, which restarts it.
                throw error
            }
            // A worker that never came up is not restarted behind the caller's back (nor left running when
            // the wait was cancelled).
            workers[launch.model] = nil
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            try? FileManager.default.removeItem(at: state.workerRecord(launch.model))
            throw error
        }
        workers[launch.model]?.healthySince = .now
    }

    public func stop(_ model: String, grace: Duration = .seconds(10)) async {
        guard let worker = workers[model] else { return }
        workers[model]?.stopping = true
        let process = worker.process
        if process.isRunning { kill(process.processIdentifier, SIGTERM) }
        let deadline = ContinuousClock.now + grace
        while process.isRunning && ContinuousClock.now < deadline {
            // In a task of its own: stopping also happens in cancelled tasks, where a sleep returns at once.
            await Task { try? await Task.sleep(for: .milliseconds(50)) }.value
        }
        if process.isRunning {
            logger.warning("worker did not stop in time; killing it", metadata: ["model": "\(model)"])
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        workers[model] = nil
        try? FileManager.default.removeItem(at: state.workerRecord(model))
    }

    public func stopAll(grace: Duration = .seconds(10)) async {
        await withTaskGroup(of: Void.self) { group in
            for model in workers.keys { group.addTask { await self.stop(model, grace: grace) } }
        }
    }

    // MARK: Processes

    private func spawn(
        _ launch: Launch, restarts: Int, crashLoop: WorkerRecord.CrashLoop? = nil, lastExit: WorkerRecord.Exit? = nil
    ) throws -> Process {
        try FileManager.default.createDirectory(at: state.workers, withIntermediateDirectories: true)
        let logURL = state.workers.appendingPathComponent("\(launch.model).log")
        if !FileManager.default.fileExists(atPath: logURL.path) {
            _ = FileManager.default.createFile(atPath: logURL.path, contents: nil)
        }
        let log = try FileHandle(forWritingTo: logURL)
        logStarts[launch.model] = log.seekToEndOfFile()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: launch.executable)
        process.arguments = launch.arguments
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        let model = launch.model
        process.terminationHandler = { [weak self] process in
            let status = process.terminationStatus
            let reason = process.terminationReason
            Task { await self?.exited(model, process: process, status: status, signalled: reason == .uncaughtSignal) }
        }
        try process.run()
        try? log.close()
        var record = WorkerRecord(
            model: launch.model, pid: process.processIdentifier, socket: state.workerSocket(launch.model).path, startedAt: Date())
        record.restarts = restarts
        record.crashLoop = crashLoop
        record.lastExit = lastExit
        try AtomicFile.write(json: record, to: state.workerRecord(launch.model))
        logger.info("worker started", metadata: ["model": "\(launch.model)", "pid": "\(process.processIdentifier)"])
        return process
    }

    private func waitUntilHealthy(_ model: String, process: Process) async throws {
        let client = client(for: model)
        let deadline = ContinuousClock.now + readinessTimeout
        while ContinuousClock.now < deadline {
            if !process.isRunning {
                throw ReconcilerError(
                    .workerFailed,
                    "worker \(model) exited with status \(process.terminationStatus) while starting:\n"
                        + logTail(model).joined(separator: "\n"))
            }
            // The socket is looked at directly first and often: a loading model is waited for on this.
            // Each health check is bounded too: the HTTP client keeps retrying a socket nobody listens on
            // until its own timeout (30 s), and a worker that exits meanwhile should be noticed at once.
            if SocketProbe.accepts(client.socketPath), await Self.answers(client, within: .seconds(1)) { return }
            try await Task.sleep(for: .milliseconds(10))
        }
        kill(process.processIdentifier, SIGKILL)
        throw ReconcilerError(
            .workerFailed, "worker \(model) did not answer within \(readinessTimeout):\n" + logTail(model).joined(separator: "\n")
        )
    }

    private func exited(_ model: String, process: Process, status: Int32, signalled: Bool) async {
        // Only the current process of a worker counts; an old one finishing late is history.
        guard let worker = workers[model], worker.process === process, !worker.stopping else { return }
        let how =
            worker.killedAsUnresponsive
            ? "stopped answering its health check and was killed"
            : signalled ? "was killed by signal \(status)" : "exited with status \(status)"
        // The reason is in the worker's own output, so the end of it goes with the report.
        let exit = WorkerRecord.Exit(at: Date(), reason: how, log: logTail(model))
        workers[model]?.lastExit = exit
        logger.error(
            "worker \(how); the end of its log:\n\(exit.log.map { "  | \($0)" }.joined(separator: "\n"))",
            metadata: ["model": "\(model)", "pid": "\(process.processIdentifier)"])
        let failed = signalled || status != 0
        guard worker.launch.restart == .always || (worker.launch.restart == .onFailure && failed) else {
            workers[model] = nil
            // A failure stays on record for `runner status`; a clean exit leaves nothing to report.
            if failed {
                writeRecord(model) { $0.lastExit = exit }
            } else {
                try? FileManager.default.removeItem(at: state.workerRecord(model))
            }
            onGone?(model, how)
            return
        }
        writeRecord(model) { $0.lastExit = exit }
        let delay = scheduleRestart(model, worker)
        try? await Task.sleep(for: delay)
        guard let current = workers[model], current.process === process, !current.stopping else { return }
        do {
            let replacement = try spawn(
                worker.launch, restarts: current.restarts, crashLoop: current.crashLoop, lastExit: current.lastExit)
            workers[model]?.process = replacement
            workers[model]?.healthySince = nil
            workers[model]?.missedHealthChecks = 0
            workers[model]?.killedAsUnresponsive = false
            try await waitUntilHealthy(model, process: replacement)
            if workers[model]?.process === replacement { workers[model]?.healthySince = .now }
            logger.info("worker is back", metadata: ["model": "\(model)", "pid": "\(replacement.processIdentifier)"])
        } catch {
            logger.error("worker restart failed", metadata: ["model": "\(model)", "error": "\(error)"])
        }
    }
}
