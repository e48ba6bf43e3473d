public import Engine
internal import Foundation
public import Hummingbird
public import Manifest
internal import NIOCore
internal import NIOFoundationEssentialsCompat
internal import Synchronization
public import Worker

/// Everything the routes of one endpoint share: its models, limits and metrics.
public struct Gateway: Sendable {
    public struct Limits: Sendable {
        public var maxBodyBytes: Int
        /// Requests admitted per model (running and queued) before answering 429.
        public var maxInFlightPerModel: Int
        /// Image URLs this endpoint fetches; nil: none.
        public var remoteImages: ResolvedRemoteImages?

        public init(maxBodyBytes: Int = 32 << 20, maxInFlightPerModel: Int = 64, remoteImages: ResolvedRemoteImages? = nil) {
            self.maxBodyBytes = maxBodyBytes
            self.maxInFlightPerModel = maxInFlightPerModel
            self.remoteImages = remoteImages
        }
    }

    public let registry: ModelRegistry
    public let limits: Limits
    public let metrics: GatewayMetrics
    let admission: Admission
    /// The server's version, reported by Ollama's /api/version and OpenAI's `system_fingerprint`.
    public let version: String
    /// Loads models on demand and unloads idle ones (`runner apply`); nil when every model is always loaded.
    public let residency: (any ModelResidency)?

    public init(
        registry: ModelRegistry, limits: Limits = Limits(), metrics: GatewayMetrics = GatewayMetrics(), version: String,
        residency: (any ModelResidency)? = nil
    ) {
        self.registry = registry
        self.limits = limits
        self.metrics = metrics
        self.admission = Admission(limit: limits.maxInFlightPerModel)
        self.version = version
        self.residency = residency
    }

    /// The model a request names, or the API's 404.
    public func model(_ name: String?, _ style: APIError.Style) throws -> ServedModel {
        guard let name, !name.isEmpty else { throw APIError.badRequest("model is required", style, param: "model") }
        guard let model = registry.resolve(name) else { throw APIError.modelNotFound(name, style) }
        return model
    }

    /// Runs `work` (reading a whole, non-streamed answer) while watching the client's connection, so that a
    /// client that leaves before the answer is complete cancels it and the generation with it: such an answer
    /// writes nothing until the end, so no failed write would tell. (A streamed answer notices on its next
    /// write.) The connection's input is not read for this, `ClientDisconnectWatch` reports its end, so the
    /// connection stays open for the client's next request.
    public func untilClientLeaves<Value: Sendable>(
        _ context: GatewayContext, _ work: @escaping @Sendable () async throws -> Value
    ) async throws -> Value {
        let (gone, signal) = AsyncStream<Void>.makeStream()
        let channel = context.channel
        let watch = try? await channel.eventLoop.submit { () -> (NIOLoopBound<ClientDisconnectWatch>, Int)? in
            guard let watcher = try? channel.pipeline.syncOperations.handler(type: ClientDisconnectWatch.self),
                let id = watcher.watch({ signal.finish() })
            else { return nil }
            return (NIOLoopBound(watcher, eventLoop: channel.eventLoop), id)
        }.get()
        defer { if let (watcher, id) = watch { channel.eventLoop.execute { watcher.value.unwatch(id) } } }
        return try await withThrowingTaskGroup(of: Value?.self) { group in
            group.addTask { try await work() }
            group.addTask {
                for await _ in gone {}
                return nil
            }
            defer { group.cancelAll() }
            if let value = try await group.next() ?? nil { return value }
            throw CancellationError()
        }
    }

    /// Runs bulk work off the event loop that carries the endpoint's connections (see `GatewayServer`): turning
    /// embeddings (thousands of floats per input) into JSON there would hold up every stream's next token.
    public static func offTheEventLoop<Value: Sendable>(_ work: () async throws -> Value) async throws -> Value {
        try await withTaskExecutorPreference(globalConcurrentExecutor) { try await work() }
    }

    /// Reads and decodes a JSON body within the endpoint's size limit, with errors in the API's shape.
    public func decode<T: Decodable>(_ type: T.Type, from request: Request, _ style: APIError.Style) async throws -> T {
        if let length = request.headers[.contentLength].flatMap(Int.init), length > limits.maxBodyBytes {
            throw tooLarge(style)
        }
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: limits.maxBodyBytes)
        } catch {
            throw tooLarge(style)
        }
        do {
            return try JSONDecoder().decode(T.self, from: Data(buffer: body))
        } catch let error as DecodingError {
            throw APIError.badRequest("invalid request body: \(Self.describe(error))", style)
        }
    }

    func tooLarge(_ style: APIError.Style) -> APIError {
        APIError(style, .contentTooLarge, "request body is larger than \(limits.maxBodyBytes) bytes", code: "request_too_large")
    }

    static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
        }
        switch error {
        case .keyNotFound(let key, let context):
            return "missing '\(([path(context)] + [key.stringValue]).filter { !$0.isEmpty }.joined(separator: "."))'"
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            return "'\(path(context))' has the wrong type (\(context.debugDescription))"
        case .dataCorrupted(let context):
            return path(context).isEmpty ? "not JSON" : "'\(path(context))': \(context.debugDescription)"
        @unknown default: return "\(error)"
        }
    }

    /// Starts a generation on `model` with admission control and metrics: 429 when the model's queue is
    /// full, engine refusals in the API's shape. The events record tokens and timings as they are read and
    /// release the admission when iteration ends, however it ends.
    public func generate(
        _ request: GenerationRequest, on model: ServedModel, api: String, _ style: APIError.Style, keepAlive: KeepAlive? = nil
    ) async throws -> MeteredEvents {
        let ticket = try admit(model, api: api, style)
        do {
            if let lease = try await hold(model, keepAlive: keepAlive) { ticket.hold(lease) }
            return MeteredEvents(upstream: try await model.engine.generate(request), ticket: ticket)
        } catch {
            ticket.release()
            throw refusal(error, model: model, api: api, style)
        }
    }

    /// Holds `model` in memory for one request, loading it first when it is not (nil without a scheduler).
    /// Waiting for a load is what a request for a cold model costs; its answer reports it as load time.
    public func hold(_ model: ServedModel, keepAlive: KeepAlive?) async throws -> ModelLease? {
        guard let residency else { return nil }
        return try await residency.acquire(model.name, keepAlive: keepAlive)
    }

    /// Runs `work` (embeddings) with `model` held in memory, with refusals in the API's shape; `work` is
    /// told how long the model took to load.
    public func withModel<Value: Sendable>(
        _ model: ServedModel, keepAlive: KeepAlive? = nil, _ style: APIError.Style,
        _ work: (Duration) async throws -> Value
    ) async throws -> Value {
        // Not counted here: the route counts the request once, however it ends.
        let lease: ModelLease?
        do {
            lease = try await hold(model, keepAlive: keepAlive)
        } catch {
            throw Self.apiError(error, model: model, style)
        }
        defer { lease?.release() }
        return try await work(lease?.waited ?? .zero)
    }

    /// A place in `model`'s queue, or 429 when it is full.
    func admit(_ model: ServedModel, api: String, _ style: APIError.Style) throws(APIError) -> MeteredEvents.Ticket {
        guard let count = admission.enter(model.name) else {
            metrics.request(model: model.name, api: api, status: 429)
            throw APIError(
                style, .tooManyRequests, "model '\(model.name)' has too many requests waiting; retry shortly", code: "queue_full",
                retryAfter: 1)
        }
        metrics.inFlight(model: model.name, count)
        return MeteredEvents.Ticket(model: model.name, api: api, metrics: metrics, admission: admission)
    }

    /// What the client hears when the engine refuses or cannot be reached before the answer starts (counted).
    func refusal(_ error: any Error, model: ServedModel, api: String, _ style: APIError.Style) -> APIError {
        let apiError = Self.apiError(error, model: model, style)
        metrics.request(model: model.name, api: api, status: Int(apiError.status.code))
        return apiError
    }

    static func apiError(_ error: any Error, model: ServedModel, _ style: APIError.Style) -> APIError {
        (error as? APIError)
            ?? (error as? EngineError).map { APIError.engine($0, style) }
            ?? (error as? ResidencyRefusal).map { APIError.residency($0, style) }
            ?? APIError(style, .serviceUnavailable, "model '\(model.name)' is unavailable: \(error)", retryAfter: 1)
    }
}

/// A generation's events as the gateway hands them to a route: metrics are taken in the reader's own task, so
/// no extra task sits between the engine and the client (one fewer hop per token). A reader that stops early
/// drops the upstream iterator, which cancels the generation.
public struct MeteredEvents: AsyncSequence, Sendable {
    public typealias Element = GenerationEvent

    let upstream: AsyncThrowingStream<GenerationEvent, any Error>
    let ticket: Ticket

    public func makeAsyncIterator() -> Iterator { Iterator(inner: upstream.makeAsyncIterator(), ticket: ticket) }

    public struct Iterator: AsyncIteratorProtocol {
        var inner: AsyncThrowingStream<GenerationEvent, any Error>.AsyncIterator
        let ticket: Ticket

        public mutating func next() async throws -> GenerationEvent? {
            do {
                guard let event = try await inner.next() else {
                    ticket.release()
                    return nil
                }
                let reported = ticket.reportingLoad(event)
                ticket.observe(reported)
                return reported
            } catch {
                ticket.failed()
                throw error
            }
        }
    }

    /// One admitted request: its metrics and its place in the model's queue, given back exactly once.
    final class Ticket: Sendable {
        let model: String
        let api: String
        let metrics: GatewayMetrics
        let admission: Admission
        let started = ContinuousClock.now
        private let state = Mutex<(sawText: Bool, released: Bool, lease: ModelLease?)>((false, false, nil))

        init(model: String, api: String, metrics: GatewayMetrics, admission: Admission) {
            self.model = model
            self.api = api
            self.metrics = metrics
            self.admission = admission
        }

        func observe(_ event: GenerationEvent) {
            switch event {
            case .text:
                let first = state.withLock { state in
                    defer { state.sawText = true }
                    return !state.sawText
                }
                if first { metrics.timeToFirstToken(model: model, api: api, ContinuousClock.now - started) }
            case .done(let completion):
                metrics.tokens(
                    model: model, api: api, prompt: completion.usage.promptTokens, completion: completion.usage.completionTokens)
                metrics.images(
                    model: model, api: api, tokens: completion.usage.imageTokens, encoded: completion.timings.encodedImages,
                    encodeMs: completion.timings.encodeMs)
                if completion.timings.decodeMs > 0 {
                    let rate = Double(completion.timings.decodeTokens) * 1000 / completion.timings.decodeMs
                    metrics.decodeRate(model: model, api: api, tokensPerSecond: rate)
                }
                metrics.request(model: model, api: api, status: completion.reason == .error ? 500 : 200)
            case .toolCall, .logprobs: break
            }
        }

        func failed() {
            metrics.request(model: model, api: api, status: 500)
            release()
        }

        /// The model's hold, given back with the admission.
        func hold(_ lease: ModelLease) {
            let released = state.withLock { state in
                if !state.released { state.lease = lease }
                return state.released
            }
            if released { lease.release() }
        }

        /// The final event with the wait for the model's load counted in its load time.
        func reportingLoad(_ event: GenerationEvent) -> GenerationEvent {
            guard case .done(var completion) = event, let waited = state.withLock({ $0.lease?.waited }), waited > .zero
            else { return event }
            let (seconds, attoseconds) = waited.components
            completion.timings.loadMs += Double(seconds) * 1000 + Double(attoseconds) / 1e15
            return .done(completion)
        }

        func release() {
            let (first, lease) = state.withLock { state in
                defer {
                    state.released = true
                    state.lease = nil
                }
                return (!state.released, state.lease)
            }
            lease?.release()
            if first { metrics.inFlight(model: model, admission.leave(model)) }
        }

        // A reader that stops early never reaches the end: the place is given back when the last copy goes.
        deinit { release() }
    }
}

/// The request context of every gateway route. Bodies are read by `Gateway.decode` under the endpoint's own
/// limit, so Hummingbird's default (2 MiB) must not cut them first.
public struct GatewayContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The client's connection, watched while a whole answer is read (`Gateway.untilClientLeaves`).
    let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }

    public var maxUploadSize: Int { 1 << 30 }
}
