public import AsyncHTTPClient
public import Engine
internal import Foundation
internal import NIOCore
internal import NIOFoundationEssentialsCompat
internal import NIOHTTP1

/// Talks to one worker over its Unix socket. Cancelling the task that iterates a generation closes the
/// connection, which the worker notices within one token and frees the slot.
public struct WorkerClient: Sendable {
    public let socketPath: String
    let http: HTTPClient

    public init(socketPath: String, http: HTTPClient = .shared) {
        self.socketPath = socketPath
        self.http = http
    }

    public func health() async throws -> HealthResponse { try await get(InternalAPI.health) }

    public func fetchStatus() async throws -> EngineStatus { try await get(InternalAPI.status) }

    public func tokenize(_ text: String) async throws -> [Int] {
        let response: TokenizeResponse = try await post(InternalAPI.tokenize, TokenizeRequest(text: text))
        return response.tokens
    }

    public func embed(_ inputs: [String]) async throws -> Embeddings {
        try await post(InternalAPI.embed, EmbedRequest(inputs: inputs))
    }

    public func buildPromptCache(name: String, system: String) async throws -> PromptCacheInfo {
        try await post(InternalAPI.caches, BuildCacheRequest(name: name, system: system), timeout: .seconds(600))
    }

    /// Starts a generation. Errors the worker reports before streaming (a prompt too long, an unknown preset)
    /// are thrown here as `EngineError`; a worker that cannot be reached throws `EngineError(.unavailable)`.
    public func generate(_ request: GenerationRequest) async throws -> AsyncThrowingStream<GenerationEvent, any Error> {
        let response = try await send(InternalAPI.generate, body: try JSONEncoder().encode(request), timeout: .seconds(600))
        guard response.status == .ok else { throw try await Self.error(from: response) }
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: GenerationEvent.self)
        let reader = Task {
            do {
                var lines = NDJSONLines()
                let decoder = JSONDecoder()
                for try await buffer in response.body {
                    for line in lines.append(buffer) { continuation.yield(try decoder.decode(GenerationEvent.self, from: line)) }
                }
                continuation.finish()
            } catch {
                continuation.finish(
                    throwing: Task.isCancelled ? CancellationError() : EngineError(.unavailable, "worker stream broke: \(error)"))
            }
        }
        continuation.onTermination = { _ in reader.cancel() }
        return stream
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
            return try await http.execute(request, timeout: timeout)
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
        let body = try await response.body.collect(upTo: 1 << 20)
        if let error = try? JSONDecoder().decode(ErrorBody.self, from: Data(buffer: body)).error { return error }
        return EngineError(.unavailable, "worker answered \(response.status.code): \(String(buffer: body))")
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

/// Splits a byte stream into lines without assuming chunks end at line ends.
struct NDJSONLines {
    private var pending: [UInt8] = []

    mutating func append(_ buffer: ByteBuffer) -> [Data] {
        pending.append(contentsOf: buffer.readableBytesView)
        var lines: [Data] = []
        var start = 0
        while let end = pending[start...].firstIndex(of: UInt8(ascii: "\n")) {
            if end > start { lines.append(Data(pending[start..<end])) }
            start = end + 1
        }
        pending.removeFirst(start)
        return lines
    }
}
