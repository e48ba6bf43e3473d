import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization
import Testing

@testable import Worker

/// Kept worker connections that die under a request: the caller gets its answer over a new connection.
struct WorkerStreamsRetryTests {
    /// A worker stand-in: answers the first request on each connection and keeps the connection, then drops
    /// it unanswered when a second request arrives, as a worker that restarted between two requests looks to
    /// a kept connection.
    final class OneAnswerPerConnection: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        static let body = "{\"type\":\"done\"}\n"
        private var requests = 0

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard case .end = unwrapInboundIn(data) else { return }
            requests += 1
            guard requests == 1 else {
                context.close(promise: nil)
                return
            }
            var headers = HTTPHeaders()
            headers.add(name: "content-length", value: String(Self.body.utf8.count))
            context.write(
                wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: Self.body)))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
    }

    /// Serves `OneAnswerPerConnection` on a fresh socket while `body` runs; `accepted` counts connections.
    final class Count: Sendable {
        let value = Atomic<Int>(0)
        func load() -> Int { value.load(ordering: .relaxed) }
    }

    /// Two requests by `ask` to the stand-in: both answered, over two connections (the kept one failed the
    /// second time).
    func expectOneReplacement(_ ask: (_ path: String) async throws -> String?) async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("streams-\(UUID().uuidString.prefix(8)).sock")
            .path
        let accepted = Count()
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                accepted.value.add(1, ordering: .relaxed)
                return channel.pipeline.configureHTTPServerPipeline().flatMapThrowing {
                    try channel.pipeline.syncOperations.addHandler(OneAnswerPerConnection())
                }
            }
            .bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true).get()
        let first = try await ask(path)
        #expect(first == OneAnswerPerConnection.body)
        #expect(WorkerStreams.shared.idleConnections(to: path) == 1)
        // The kept connection takes the next request and closes without a word.
        let second = try await ask(path)
        #expect(second == OneAnswerPerConnection.body)
        #expect(accepted.load() == 2, "one new connection, after the kept one failed")
        try await server.close()
        try? FileManager.default.removeItem(atPath: path)
    }

    @Test func aKeptConnectionThatDiesUnderARequestIsReplacedOnce() async throws {
        try await expectOneReplacement { path in
            let answer = try await WorkerStreams.shared.post(
                socketPath: path, path: "/v1/generate", body: ByteBuffer(string: "{}"))
            var text = ""
            for try await part in answer.body { text += String(buffer: part) }
            return text
        }
    }

    /// Keeps a pushed answer's body, on its loop.
    final class Recorded: AnswerSink, Sendable {
        let text = Mutex("")
        let (ended, signal) = AsyncStream<Bool>.makeStream()

        func head(_ response: HTTPResponseHead) {}
        func body(_ buffer: ByteBuffer) { text.withLock { $0 += String(buffer: buffer) } }
        func end() { signal.yield(true) }
        func fail(_ error: any Error) { signal.yield(false) }
    }

    @Test func aPushOnAKeptConnectionThatDiesIsReplacedOnceToo() async throws {
        // Both pushes from one loop, so that the second finds the first one's kept connection.
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        try await expectOneReplacement { path in
            let recorded = Recorded()
            _ = try await loop.submit {
                WorkerStreams.shared.push(socketPath: path, path: "/v1/generate", body: ByteBuffer(string: "{}"), to: recorded)
            }.get()
            var iterator = recorded.ended.makeAsyncIterator()
            return await iterator.next() == true ? recorded.text.withLock { $0 } : nil
        }
    }
}
