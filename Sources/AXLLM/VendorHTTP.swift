internal import AsyncHTTPClient
internal import Foundation
internal import NIOCore
internal import NIOHTTP1

/// Plain JSON requests to a vendor server on the loopback interface.
struct VendorHTTP: Sendable {
    let base: String

    struct Answer: Sendable {
        var status: Int
        var body: Data
        var json: [String: Any]? { try? JSONSerialization.jsonObject(with: body) as? [String: Any] }
        var text: String { String(decoding: body, as: UTF8.self) }
    }

    nonisolated(nonsending) func get(_ path: String, timeout: TimeAmount = .seconds(30)) async throws -> Answer {
        try await send(HTTPClientRequest(url: base + path), timeout: timeout)
    }

    nonisolated(nonsending) func post(_ path: String, _ object: [String: Any], timeout: TimeAmount = .seconds(30)) async throws
        -> Answer
    {
        var request = HTTPClientRequest(url: base + path)
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: object)))
        return try await send(request, timeout: timeout)
    }

    nonisolated(nonsending) private func send(_ request: HTTPClientRequest, timeout: TimeAmount) async throws -> Answer {
        var request = request
        // A connection per request. Kept-alive connections to these small servers stall each exchange for the
        // 40 ms of a delayed ACK (the server writes its header and body apart, with Nagle on); a new connection
        // on the loopback interface costs a tenth of a millisecond, and the legacy server is polled for text.
        request.headers.replaceOrAdd(name: "connection", value: "close")
        let response = try await HTTPClient.shared.execute(request, timeout: timeout)
        let body = try await response.body.collect(upTo: 16 << 20)
        return Answer(status: Int(response.status.code), body: Data(body.readableBytesView))
    }

    /// A streamed POST: each server-sent event's data goes to `event` as it arrives; `event` returns false to
    /// stop reading. Stopping early, or the caller's task being cancelled, cancels the HTTP request, which
    /// closes the connection: the vendor server takes that as the client leaving and stops generating. (The
    /// response is read by a task of its own because dropping a response body part-way leaves the connection
    /// open; only a cancelled read closes it.) A status other than 200 comes back as the answer.
    nonisolated(nonsending) func stream(_ path: String, _ object: [String: Any], event: (String) async throws -> Bool)
        async throws -> Answer?
    {
        var request = HTTPClientRequest(url: base + path)
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: object)))
        let (chunks, sink) = AsyncThrowingStream.makeStream(of: ByteBuffer.self)
        let reader = Task { [request] in
            do {
                let response = try await HTTPClient.shared.execute(request, timeout: .hours(1))
                guard response.status == .ok else {
                    let body = try await response.body.collect(upTo: 1 << 20)
                    throw Refused(answer: Answer(status: Int(response.status.code), body: Data(body.readableBytesView)))
                }
                for try await buffer in response.body { sink.yield(buffer) }
                sink.finish()
            } catch {
                sink.finish(throwing: error)
            }
        }
        defer { reader.cancel() }
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
