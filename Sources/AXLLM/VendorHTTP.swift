internal import AsyncHTTPClient
internal import Engine
internal import Foundation
internal import NIOCore
internal import NIOHTTP1
internal import Synchronization

/// Plain JSON requests to a vendor server on the loopback interface. A server that leaves a call unanswered,
/// or a streamed answer silent, for `patience` throws `Silent`: the engine takes that as a hung server.
struct VendorHTTP: Sendable {
    let base: String
    /// What the server is, for messages ("the AXERA server").
    let name: String
    let patience: Duration

    init(base: String, name: String, patience: Duration = .seconds(60)) {
        self.base = base
        self.name = name
        self.patience = patience
    }

    /// A client without a read timeout of its own (the shared one gives up after 90 s of silence): how long a
    /// vendor server may be silent is `patience`, which the manifest sets.
    private static let client = HTTPClient(
        eventLoopGroup: HTTPClient.defaultEventLoopGroup,
        configuration: HTTPClient.Configuration(timeout: .init(connect: .seconds(10), read: nil)))

    struct Answer: Sendable {
        var status: Int
        var body: Data
        var json: [String: Any]? { try? JSONSerialization.jsonObject(with: body) as? [String: Any] }
        var text: String { String(decoding: body, as: UTF8.self) }
    }

    /// The server did not answer (or went silent in a streamed answer) for this long.
    struct Silent: Error, CustomStringConvertible {
        var server: String
        var path: String
        var patience: Duration
        var description: String {
            let ms = Int(patience.milliseconds.rounded())
            return "\(server) left \(path) unanswered for " + (ms % 1000 == 0 ? "\(ms / 1000)s" : "\(ms)ms")
        }
    }

    nonisolated(nonsending) func get(_ path: String, timeout: Duration? = nil) async throws -> Answer {
        try await send(HTTPClientRequest(url: base + path), path: path, timeout: timeout ?? patience)
    }

    nonisolated(nonsending) func post(_ path: String, _ object: [String: Any], timeout: Duration? = nil) async throws
        -> Answer
    {
        var request = HTTPClientRequest(url: base + path)
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: object)))
        return try await send(request, path: path, timeout: timeout ?? patience)
    }

    nonisolated(nonsending) private func send(_ request: HTTPClientRequest, path: String, timeout: Duration) async throws
        -> Answer
    {
        var request = request
        // A connection per request. Kept-alive connections to these small servers stall each exchange for the
        // 40 ms of a delayed ACK (the server writes its header and body apart, with Nagle on); a new connection
        // on the loopback interface costs a tenth of a millisecond, and the legacy server is polled for text.
        request.headers.replaceOrAdd(name: "connection", value: "close")
        do {
            let response = try await Self.client.execute(request, timeout: .milliseconds(Int64(timeout.milliseconds)))
            let body = try await response.body.collect(upTo: 16 << 20)
            return Answer(status: Int(response.status.code), body: Data(body.readableBytesView))
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout {
            throw Silent(server: name, path: path, patience: timeout)
        }
    }

    /// A streamed POST: each server-sent event's data goes to `event` as it arrives; `event` returns false to
    /// stop reading. Stopping early, or the caller's task being cancelled, cancels the HTTP request, which
    /// closes the connection: the vendor server takes that as the client leaving and stops generating. (The
    /// response is read by a task of its own because dropping a response body part-way leaves the connection
    /// open; only a cancelled read closes it.) A status other than 200 comes back as the answer; no byte for
    /// `patience` (the head, a prefill, between tokens) throws `Silent`.
    nonisolated(nonsending) func stream(_ path: String, _ object: [String: Any], event: (String) async throws -> Bool)
        async throws -> Answer?
    {
        var request = HTTPClientRequest(url: base + path)
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: object)))
        let (chunks, sink) = AsyncThrowingStream.makeStream(of: ByteBuffer.self)
        let arrivals = Arrivals()
        let reader = Task { [request] in
            do {
                let response = try await Self.client.execute(request, timeout: .hours(24))
                arrivals.arrived()
                guard response.status == .ok else {
                    let body = try await response.body.collect(upTo: 1 << 20)
                    throw Refused(answer: Answer(status: Int(response.status.code), body: Data(body.readableBytesView)))
                }
                for try await buffer in response.body {
                    arrivals.arrived()
                    sink.yield(buffer)
                }
                sink.finish()
            } catch {
                sink.finish(throwing: error)
            }
        }
        // Looked at four times per `patience`, so silence is seen within a quarter of it.
        let watchdog = Task { [name, patience] in
            while !Task.isCancelled {
                if ContinuousClock.now - arrivals.last >= patience {
                    sink.finish(throwing: Silent(server: name, path: path, patience: patience))
                    reader.cancel()
                    return
                }
                try? await Task.sleep(for: patience / 4)
            }
        }
        defer {
            watchdog.cancel()
            reader.cancel()
        }
        var pending: [UInt8] = []
        do {
            for try await buffer in chunks {
                pending.append(contentsOf: buffer.readableBytesView)
                // Events end with a blank line; a `data:` line carries the payload.
                while let end = Self.eventEnd(in: pending) {
                    let block = String(decoding: pending[..<end.start], as: UTF8.self)
                    pending.removeFirst(end.next)
                    for line in block.split(separator: "\n") where line.hasPrefix("data:") {
                        let data = line.dropFirst(5).trimmingCharacters(in: .whitespaces)
                        if try await !event(data) { return nil }
                    }
                }
            }
        } catch let refused as Refused {
            return refused.answer
        }
        try Task.checkCancellation()
        return nil
    }

    private struct Refused: Error {
        var answer: Answer
    }

    /// When bytes last arrived in a streamed answer (at first, when the request was made).
    private final class Arrivals: Sendable {
        private let instant = Mutex(ContinuousClock.now)
        var last: ContinuousClock.Instant { instant.withLock { $0 } }
        func arrived() { instant.withLock { $0 = .now } }
    }

    /// Where the first `\n\n` (or `\r\n\r\n`) is, and where the next event starts.
    private static func eventEnd(in bytes: [UInt8]) -> (start: Int, next: Int)? {
        var index = 0
        while index + 1 < bytes.count {
            if bytes[index] == 10 && bytes[index + 1] == 10 { return (index, index + 2) }
            if index + 3 < bytes.count, bytes[index] == 13, bytes[index + 1] == 10, bytes[index + 2] == 13,
                bytes[index + 3] == 10
            {
                return (index, index + 4)
            }
            index += 1
        }
        return nil
    }
}
