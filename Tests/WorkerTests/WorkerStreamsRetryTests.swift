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

    @Test func aKeptConnectionThatDiesUnderARequestIsReplacedOnce() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("streams-\(UUID().uuidString.prefix(8)).sock")
            .path
        let accepted = Atomic<Int>(0)
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                accepted.add(1, ordering: .relaxed)
                return channel.pipeline.configureHTTPServerPipeline().flatMapThrowing {
                    try channel.pipeline.syncOperations.addHandler(OneAnswerPerConnection())
                }
            }
            .bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true).get()

        func ask() async throws -> String {
            let answer = try await WorkerStreams.shared.post(
                socketPath: path, path: "/v1/generate", body: ByteBuffer(string: "{}"))
            var text = ""
            for try await part in answer.body { text += String(buffer: part) }
            return text
        }
        #expect(try await ask() == OneAnswerPerConnection.body)
        #expect(WorkerStreams.shared.idleConnections(to: path) == 1)
        // The kept connection takes the next request and closes without a word.
        #expect(try await ask() == OneAnswerPerConnection.body)
        #expect(accepted.load(ordering: .relaxed) == 2, "one new connection, after the kept one failed")
        try await server.close()
        try? FileManager.default.removeItem(atPath: path)
    }
}
