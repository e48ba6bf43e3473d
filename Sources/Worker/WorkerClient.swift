internal import AsyncHTTPClient
public import Engine
internal import Foundation
internal import NIOCore
internal import NIOFoundationEssentialsCompat
internal import NIOHTTP1

/// Talks to one worker over its Unix socket. Cancelling the task that iterates a generation closes the
/// connection, which the worker notices within one token and frees the slot.
public struct WorkerClient: Sendable {
    public let socketPath: String

    public init(socketPath: String) { self.socketPath = socketPath }

    public func health() async throws -> HealthResponse { try await get(InternalAPI.health) }

    public func fetchStatus() async throws -> EngineStatus { try await get(InternalAPI.status) }

    public func tokenize(_ text: String) async throws -> [Int] {
        let response: TokenizeResponse = try await post(InternalAPI.tokenize, TokenizeRequest(text: text))
        return response.tokens
    }

    public func embed(_ inputs: [String]) async throws -> Embeddings {
        try await post(InternalAPI.embed, EmbedRequest(inputs: inputs))
    }

    /// The worker's presets: ready ones, and those that failed to build with why.
    public func promptCaches() async throws -> PromptCacheReport { try await get(InternalAPI.caches) }

    public func buildPromptCache(name: String, system: String) async throws -> PromptCacheInfo {
        try await post(InternalAPI.caches, BuildCacheRequest(name: name, system: system), timeout: .seconds(600))
    }

    /// Starts a generation. Errors the worker reports before streaming (a prompt too long, an unknown preset)
    /// are thrown here as `EngineError`; a worker that cannot be reached throws `EngineError(.unavailable)`.
    public func generate(_ request: GenerationRequest) async throws -> AsyncThrowingStream<GenerationEvent, any Error> {
        let answer: WorkerStreams.Answer
        do {
            let body = ByteBuffer(bytes: try JSONEncoder().encode(request))
            answer = try await WorkerStreams.shared.post(socketPath: socketPath, path: InternalAPI.generate, body: body)
        } catch {
            if Task.isCancelled { throw CancellationError() }
            throw EngineError(.unavailable, "worker at \(socketPath) is not reachable: \(error)")
        }
        guard answer.status == .ok else {
            var body = ByteBuffer()
            for try await part in answer.body where body.readableBytes < 1 << 20 { body.writeImmutableBuffer(part) }
            throw Self.error(status: answer.status.code, body: body)
        }
        // Events are read and decoded in the consumer's own task: no reader task, no extra hop per token.
        let reader = EventReader(body: answer.body.makeAsyncIterator())
        return AsyncThrowingStream { try await reader.next() }
    }

    // MARK: Plumbing

    private func get<T: Decodable>(_ path: String) async throws -> T {
        let response = try await send(path, body: nil, timeout: .seconds(30))
        return try await Self.decode(response)
    }

    private func post<T: Decodable>(_ path: String, _ body: some Encodable, timeout: TimeAmount = .seconds(120)) async throws -> T
    {
        let response = try await send(path, body: try JSONEncoder().encode(body), timeout: timeout)
        return try await Self.decode(response)
    }

    private func send(_ path: String, body: Data?, timeout: TimeAmount) async throws -> HTTPClientResponse {
        guard let url = URL(httpURLWithSocketPath: socketPath, uri: path) else {
            throw EngineError(.unavailable, "bad worker socket path \(socketPath)")
        }
        var request = HTTPClientRequest(url: url.absoluteString)
        if let body {
            request.method = .POST
            request.headers.add(name: "content-type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        do {
            return try await HTTPClient.shared.execute(request, timeout: timeout)
        } catch {
            if Task.isCancelled { throw CancellationError() }
            throw EngineError(.unavailable, "worker at \(socketPath) is not reachable: \(error)")
        }
    }

    private static func decode<T: Decodable>(_ response: HTTPClientResponse) async throws -> T {
        guard response.status == .ok else { throw try await error(from: response) }
        let body = try await response.body.collect(upTo: InternalAPI.maxBodyBytes)
        return try JSONDecoder().decode(T.self, from: Data(buffer: body))
    }

    private static func error(from response: HTTPClientResponse) async throws -> EngineError {
        error(status: response.status.code, body: try await response.body.collect(upTo: 1 << 20))
    }

    static func error(status: UInt, body: ByteBuffer) -> EngineError {
        if let error = try? JSONDecoder().decode(ErrorBody.self, from: Data(buffer: body)).error { return error }
        return EngineError(.unavailable, "worker answered \(status): \(String(buffer: body))")
    }
}

/// A worker is an engine seen from another process: the gateway routes to it like to any engine.
extension WorkerClient: Engine {
    /// The worker's status; when it cannot be reached, an empty status naming the problem as its engine.
    public func status() async -> EngineStatus {
        (try? await fetchStatus())
            ?? EngineStatus(
                engine: "unreachable", model: "", runtimeVersion: "", loadMs: 0, contextPerSlot: 0, slots: [], queued: 0,
                promptCaches: [])
    }

    /// The worker builds into its own cache directory; `directory` is the caller's idea of it and is not sent.
    public func buildPromptCache(name: String, system: String, directory: String) async throws -> PromptCacheInfo {
        try await buildPromptCache(name: name, system: system)
    }

    /// The worker's life belongs to its supervisor, not to its clients.
    public func shutdown() async {}
}

/// Decodes a worker's NDJSON events on demand. Only the stream's consumer calls `next`, one call at a time
/// (AsyncThrowingStream's unfolding contract), which is what makes the unchecked `Sendable` sound.
final class EventReader: @unchecked Sendable {
    private var body: AsyncThrowingStream<ByteBuffer, any Error>.AsyncIterator
    private var decoder = WorkerEventDecoder()
    private var ready: [GenerationEvent] = []

    init(body: AsyncThrowingStream<ByteBuffer, any Error>.AsyncIterator) { self.body = body }

    func next() async throws -> GenerationEvent? {
        while ready.isEmpty {
            let buffer: ByteBuffer?
            do {
                buffer = try await body.next()
            } catch {
                throw Task.isCancelled ? CancellationError() : EngineError(.unavailable, "worker stream broke: \(error)")
            }
            guard let buffer else { return nil }
            ready = try decoder.events(in: buffer).reversed()
        }
        let event = ready.removeLast()
        if case .done = event { await readToEnd() }
        return event
    }

    /// `done` is the last event and the worker ends the body right after it. Reading that end hands the
    /// connection back to the pool, where a consumer that stops at `done` would otherwise close it.
    private func readToEnd() async {
        while (try? await body.next()) != nil {}
    }
}

/// A worker's NDJSON body to events, as its bytes arrive.
struct WorkerEventDecoder {
    private var lines = NDJSONLines()
    private let decoder = JSONDecoder()

    mutating func events(in buffer: ByteBuffer) throws(EngineError) -> [GenerationEvent] {
        try lines.append(buffer).map { line throws(EngineError) in
            if let text = EventReader.textEvent(line) { return text }
            do {
                return try decoder.decode(GenerationEvent.self, from: Data(line))
            } catch {
                throw EngineError(.unavailable, "worker stream broke: \(error)")
            }
        }
    }
}

extension EventReader {
    /// A text event read without `Decodable` (see `FlatJSONObject`); nil for any other line.
    static func textEvent(_ line: [UInt8]) -> GenerationEvent? {
        guard let fields = FlatJSONObject.strings(line), fields["type"] == "text", let text = fields["text"] else { return nil }
        guard let name = fields["channel"] else { return .text(text, channel: .content) }
        return GenerationEvent.Channel(rawValue: name).map { .text(text, channel: $0) }
    }
}

/// Splits a byte stream into lines without assuming chunks end at line ends.
struct NDJSONLines {
    private var pending: [UInt8] = []

    mutating func append(_ buffer: ByteBuffer) -> [[UInt8]] {
        buffer.withUnsafeReadableBytes { pending.append(contentsOf: $0) }
        var lines: [[UInt8]] = []
        var start = 0
        while let end = pending[start...].firstIndex(of: UInt8(ascii: "\n")) {
            if end > start { lines.append(Array(pending[start..<end])) }
            start = end + 1
        }
        pending.removeFirst(start)
        return lines
    }
}
