public import Engine
internal import Foundation
internal import Logging
internal import NIOCore

/// AXERA's vendor LLM server as an engine: the worker starts the server (and the legacy server's tokenizer
/// service) as its own child processes, waits until it answers, and turns each canonical request into the
/// server's protocol. The server runs one generation at a time, so requests take turns: one runs, up to
/// `queueLimit` wait, more are refused as busy. A request whose consumer goes away stops its generation.
public actor AXLLMEngine: Engine {
    let configuration: Configuration
    let http: VendorHTTP
    private let processes: VendorProcesses
    private let server: ChildProcess
    private let members: [ChildProcess]
    let tokenizerHTTP: VendorHTTP?
    private let loadMs: Double
    private var running = false
    /// Requests waiting for their turn, in order, by id.
    private var waiting: [(id: UInt64, turn: CheckedContinuation<Void, any Error>)] = []
    private var nextWaiter: UInt64 = 0
    private var stopping = false
    /// The server was found hung and killed: its exit is no news.
    private var failed = false
    /// Legacy: what the server's session holds now (nil: unknown, reset before the next request).
    var session: LegacyConversation?

    public static func load(_ configuration: Configuration) async throws -> AXLLMEngine {
        let started = ContinuousClock.now
        if let problem = AXLLMModelDirectory.problem(
            binary: configuration.binary, directory: configuration.modelDirectory, server: configuration.server,
            arguments: configuration.arguments)
        {
            throw EngineError(.modelLoadFailed, problem)
        }
        let processes: VendorProcesses
        do {
            processes = try VendorProcesses()
        } catch {
            throw EngineError(.modelLoadFailed, error.description)
        }
        var members: [ChildProcess] = []
        do {
            var tokenizerHTTP: VendorHTTP?
            var command = [configuration.binary]
            var environment: [String: String] = [:]
            let port: Int
            switch configuration.server {
            case .serve:
                port = try freeLoopbackPort()
                command += ["serve", configuration.modelDirectory, "--port", String(port)]
                if let devices = configuration.devices {
                    environment["AXLLM_DEVICES"] = devices.map(String.init).joined(separator: ",")
                }
            case .legacy:
                port = configuration.port ?? 8000
                if let tokenizer = configuration.tokenizer {
                    let tokenizerPort = try freeLoopbackPort()
                    members.append(
                        try processes.spawn(tokenizer + ["--port", String(tokenizerPort)], in: configuration.modelDirectory))
                    let url = "http://127.0.0.1:\(tokenizerPort)"
                    let service = VendorHTTP(base: url, name: "the tokenizer service", patience: configuration.hangTimeout)
                    tokenizerHTTP = service
                    try await waitUntilReady(members[0], what: "tokenizer service", configuration) {
                        (try? await service.get("/bos_id", timeout: .seconds(2)))?.status == 200
                    }
                    command += ["--url_tokenizer_model", url]
                }
                command += configuration.arguments
                if let devices = configuration.devices {
                    command += ["--devices", devices.map(String.init).joined(separator: ",")]
                }
            }
            let server = try processes.spawn(command, in: configuration.modelDirectory, environment: environment)
            members.append(server)
            let http = VendorHTTP(
                base: "http://127.0.0.1:\(port)", name: "the AXERA server", patience: configuration.hangTimeout)
            let probe = configuration.server == .serve ? "/health" : "/api/generate_provider"
            try await waitUntilReady(server, what: "AXERA server", configuration) {
                (try? await http.get(probe, timeout: .seconds(2)))?.status == 200
            }
            let engine = AXLLMEngine(
                configuration, http: http, processes: processes, server: server, members: members,
                tokenizer: tokenizerHTTP, loadMs: (ContinuousClock.now - started).milliseconds)
            await engine.watchServer()
            await engine.watchHealth()
            return engine
        } catch {
            await processes.stop(members, main: members.last, grace: .seconds(2))
            if let error = error as? EngineError { throw error }
            throw EngineError(.modelLoadFailed, "\(error)")
        }
    }

    private init(
        _ configuration: Configuration, http: VendorHTTP, processes: VendorProcesses, server: ChildProcess,
        members: [ChildProcess], tokenizer: VendorHTTP?, loadMs: Double
    ) {
        self.configuration = configuration
        self.http = http
        self.processes = processes
        self.server = server
        self.members = members
        self.tokenizerHTTP = tokenizer
        self.loadMs = loadMs
    }

    /// Polls `ready` until it holds; fails when `process` exits first or the start timeout passes.
    private static func waitUntilReady(
        _ process: ChildProcess, what: String, _ configuration: Configuration, ready: @escaping @Sendable () async -> Bool
    ) async throws {
        let deadline = ContinuousClock.now + configuration.startTimeout
        while ContinuousClock.now < deadline {
            if await ready() { return }
            if let status = process.exited {
                throw EngineError(
                    .modelLoadFailed,
                    "the \(what) (\(process.command.joined(separator: " "))) \(ChildProcess.describe(status)) before it answered")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw EngineError(.modelLoadFailed, "the \(what) did not answer within \(configuration.startTimeout)")
    }

    /// A server that exits on its own takes the model with it: the worker is told, and exits to be restarted.
    private func watchServer() {
        Task { [server, configuration] in
            let status = await server.exitStatus()
            guard !self.stopping, !self.failed else { return }
            let message = "the AXERA server (pid \(server.pid)) \(ChildProcess.describe(status))"
            configuration.logger.critical("\(message)")
            configuration.onFailure(message)
        }
    }

    /// While no request runs, the server is asked for its health (taking the turn, so no request's exchange
    /// is interleaved with the probe's): a server that stops answering is hung even when nobody asks it for
    /// anything. During a request, the request's own calls and streamed bytes show it.
    private func watchHealth() {
        let interval = min(configuration.hangTimeout, .seconds(10))
        Task { [weak self] in
            while true {
                try? await Task.sleep(for: interval)
                guard let self, await self.probeHealth() else { return }
            }
        }
    }

    /// One probe when the server is idle; false once there is nothing more to watch.
    private func probeHealth() async -> Bool {
        guard !stopping, !failed else { return false }
        guard !running else { return true }
        running = true
        defer { endTurn() }
        let path = configuration.server == .serve ? "/health" : "/api/generate_provider"
        do {
            let answer = try await http.get(path)
            if answer.status != 200 {
                configuration.logger.warning(
                    "the AXERA server answered \(path) with \(answer.status): \(answer.text.prefix(200))")
            }
        } catch let silent as VendorHTTP.Silent {
            hung(silent.description)
            return false
        } catch {
            // Not listening: the server is exiting, which its exit watcher reports.
            configuration.logger.warning("the AXERA server did not take \(path): \(error)")
        }
        return true
    }

    /// A hung server (or tokenizer service) cannot be recovered in process: the vendor processes are killed and
    /// the worker is told, so it exits to be restarted with a fresh server. `what` says what it did.
    func hung(_ what: String) {
        guard !failed, !stopping else { return }
        failed = true
        processes.killAll()
        let message = "\(what); the vendor processes were killed"
        configuration.logger.critical("\(message)")
        configuration.onFailure(message)
    }

    static let hungError = EngineError(.unavailable, "the AXERA server stopped answering; the worker restarts it")

    // MARK: Requests

    public func generate(_ request: GenerationRequest) async throws -> AsyncThrowingStream<GenerationEvent, any Error> {
        guard !stopping else { throw EngineError(.unavailable, "the engine is shutting down") }
        guard !failed else { throw Self.hungError }
        let job = try prepare(request)
        guard !running || waiting.count < configuration.queueLimit else {
            throw EngineError(.busy, "\(waiting.count) requests are already waiting for the AXERA server")
        }
        let submitted = ContinuousClock.now
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: GenerationEvent.self)
        let task = Task {
            do {
                try await self.takeTurn()
            } catch {
                continuation.yield(.done(Completion(reason: .cancelled)))
                continuation.finish()
                return
            }
            let completion = await self.run(job, submitted: submitted, into: continuation)
            self.endTurn()
            continuation.yield(.done(completion))
            continuation.finish()
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }

    private func takeTurn() async throws {
        guard running else {
            running = true
            return
        }
        nextWaiter += 1
        let id = nextWaiter
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { waiting.append((id, $0)) }
        } onCancel: {
            Task { await self.leaveQueue(id) }
        }
    }

    /// A waiting request whose consumer left gives up its place.
    private func leaveQueue(_ id: UInt64) {
        guard let index = waiting.firstIndex(where: { $0.id == id }) else { return }
        waiting.remove(at: index).turn.resume(throwing: CancellationError())
    }

    private func endTurn() {
        if waiting.isEmpty {
            running = false
        } else {
            waiting.removeFirst().turn.resume()
        }
    }

    /// One request on the server, its events sent as they come; the completion says how it ended.
    private func run(
        _ job: Job, submitted: ContinuousClock.Instant,
        into continuation: AsyncThrowingStream<GenerationEvent, any Error>.Continuation
    ) async -> Completion {
        var output = TextOutput(
            stop: job.request.stop, thinking: job.thinking, tools: !job.request.tools.isEmpty,
            singleCall: !job.request.parallelToolCalls)
        var meter = Meter(queued: submitted, started: .now)
        // The server was found hung while this request waited its turn.
        guard !failed else { return Completion(reason: .error, timings: meter.timings, error: Self.hungError) }
        let limit = job.request.maxTokens ?? configuration.maxTokens
        let outcome: Outcome
        do {
            let body: (String) async -> Bool = { piece in
                meter.piece()
                let (events, stopped) = output.append(piece)
                for event in events { continuation.yield(event) }
                return !stopped && (limit.map { meter.pieces < $0 } ?? true)
            }
            switch configuration.server {
            case .serve: outcome = try await runServe(job, piece: body, call: { continuation.yield(.toolCall($0)) })
            case .legacy: outcome = try await runLegacy(job, piece: body)
            }
        } catch let silent as VendorHTTP.Silent {
            hung(silent.description)
            return Completion(reason: .error, timings: meter.timings, error: Self.hungError)
        } catch is CancellationError {
            configuration.logger.info("request cancelled: its consumer went away")
            return Completion(reason: .cancelled, timings: meter.timings)
        } catch let error as EngineError {
            return Completion(reason: .error, timings: meter.timings, error: error)
        } catch {
            return Completion(
                reason: .error, timings: meter.timings, error: EngineError(.decodeFailed, "the AXERA server failed: \(error)"))
        }
        for event in output.finish() { continuation.yield(event) }
        let usage = Usage(promptTokens: outcome.promptTokens, completionTokens: outcome.completionTokens ?? meter.pieces)
        let reason: Completion.Reason = outcome.length || (limit.map { meter.pieces >= $0 } ?? false) ? .length : .stop
        return Completion(reason: reason, usage: usage, timings: meter.timings)
    }

    public func embed(_ inputs: [String]) async throws -> Embeddings {
        throw EngineError(.unsupported, "the axllm engine serves chat models; embeddings are not supported")
    }

    public func tokenize(_ text: String) async throws -> [Int] {
        guard let tokenizerHTTP else { throw EngineError(.unsupported, "this AXERA server has no tokenizer service") }
        return try await Self.tokens(text, tokenizerHTTP)
    }

    static func tokens(_ text: String, _ tokenizer: VendorHTTP) async throws -> [Int] {
        let answer = try await tokenizer.post("/encode", ["text": text])
        guard let ids = answer.json?["token_ids"] as? [Int] else {
            throw EngineError(.decodeFailed, "the tokenizer service answered \(answer.status): \(answer.text.prefix(200))")
        }
        return ids
    }

    public func status() async -> EngineStatus {
        EngineStatus(
            engine: "axllm", model: configuration.modelName,
            runtimeVersion: configuration.server == .serve ? "axllm serve" : "legacy main_api", loadMs: loadMs,
            contextPerSlot: configuration.context,
            slots: [.init(id: 0, state: running ? .generating : .idle, cachedTokens: 0)], queued: waiting.count,
            promptCaches: [])
    }

    public func buildPromptCache(name: String, system: String, directory: String) async throws -> PromptCacheInfo {
        throw EngineError(.unsupported, "the axllm engine has no prompt caches")
    }

    public func shutdown() async {
        stopping = true
        for waiter in waiting { waiter.turn.resume(throwing: CancellationError()) }
        waiting.removeAll()
        await processes.stop(members, main: server, grace: .seconds(5))
    }
}

/// Measured times of one request.
struct Meter {
    let queued: ContinuousClock.Instant
    let started: ContinuousClock.Instant
    var first: ContinuousClock.Instant?
    var last: ContinuousClock.Instant?
    var pieces = 0

    init(queued: ContinuousClock.Instant, started: ContinuousClock.Instant) {
        self.queued = queued
        self.started = started
    }

    mutating func piece() {
        let now = ContinuousClock.now
        if first == nil { first = now }
        last = now
        pieces += 1
    }

    var timings: Timings {
        Timings(
            queueMs: (started - queued).milliseconds, prefillMs: ((first ?? .now) - started).milliseconds,
            prefillTokens: 0, decodeMs: first.map { ((last ?? $0) - $0).milliseconds } ?? 0,
            decodeTokens: max(0, pieces - 1))
    }
}
