internal import NIOCore
internal import NIOHTTP1
internal import NIOPosix
internal import Synchronization

/// Streaming exchanges with workers over plain NIO HTTP/1.1 connections, kept open per event loop and socket.
///
/// Generation is the gateway's hot path, and a general HTTP client costs more there than the answer's first
/// token can afford (URL parsing, tracing, a deadline timer and a task per request). A request made from a task
/// running on an event loop (the gateway serves its connections on their endpoint's loop) uses a connection on
/// that same loop, so the worker's bytes reach the client's connection without waking another thread.
final class WorkerStreams: Sendable {
    static let shared = WorkerStreams()

    fileprivate struct Key: Hashable {
        let loop: ObjectIdentifier
        let socketPath: String
    }

    private let idle = Mutex<[Key: [Connection]]>([:])
    private static let maxIdlePerKey = 8
    private static let loops = Set(MultiThreadedEventLoopGroup.singleton.makeIterator().map { ObjectIdentifier($0) })

    /// One answer: its status and its body as it arrives. Dropping `body` before it ends closes the connection,
    /// which is how the worker learns that the client went away.
    struct Answer: Sendable {
        let status: HTTPResponseStatus
        let body: AsyncThrowingStream<ByteBuffer, any Error>
    }

    /// POSTs `body` to `path`. A connection taken from the idle list that turns out to be closed (a worker that
    /// restarted) is replaced once by a new one.
    func post(socketPath: String, path: String, body: ByteBuffer) async throws -> Answer {
        let current = Self.currentLoop()
        if let reused = takeIdle(socketPath, on: current) {
            do {
                return try await reused.exchange(path: path, body: body, pool: self)
            } catch {
                // Closed under us (the worker restarted): no answer was started, so one retry is safe.
                if Task.isCancelled { throw error }
            }
        }
        let connection = try await Connection.open(
            socketPath: socketPath, on: current ?? MultiThreadedEventLoopGroup.singleton.next())
        // A connection the worker closes while idle (it stopped or restarted) leaves the idle list.
        connection.channel.closeFuture.whenComplete { _ in self.forget(connection) }
        return try await connection.exchange(path: path, body: body, pool: self)
    }

    /// The singleton group's loop this task runs on, if it runs on one.
    private static func currentLoop() -> (any EventLoop)? {
        guard let loop = MultiThreadedEventLoopGroup.currentEventLoop, loops.contains(ObjectIdentifier(loop)) else {
            return nil
        }
        return loop
    }

    /// A caller on a loop takes a connection on that loop only (so it stays on one thread); any other caller
    /// takes one from any loop.
    private func takeIdle(_ socketPath: String, on loop: (any EventLoop)?) -> Connection? {
        idle.withLock { idle in
            let keys =
                loop.map { [Key(loop: ObjectIdentifier($0), socketPath: socketPath)] }
                ?? idle.keys.filter { $0.socketPath == socketPath }
            for key in keys {
                while let connection = idle[key]?.popLast() {
                    if connection.channel.isActive { return connection }
                }
            }
            return nil
        }
    }

    /// Idle connections to one worker, on all loops (for tests).
    func idleConnections(to socketPath: String) -> Int {
        idle.withLock { idle in idle.filter { $0.key.socketPath == socketPath }.values.map(\.count).reduce(0, +) }
    }

    private func forget(_ connection: Connection) {
        idle.withLock { idle in
            idle[connection.key]?.removeAll { $0 === connection }
            if idle[connection.key]?.isEmpty == true { idle[connection.key] = nil }
        }
    }

    fileprivate func giveBack(_ connection: Connection) {
        let kept = idle.withLock { idle in
            guard idle[connection.key, default: []].count < Self.maxIdlePerKey else { return false }
            idle[connection.key, default: []].append(connection)
            return true
        }
        if !kept { connection.channel.close(promise: nil) }
    }

    /// One connection to a worker and the handler that routes its answers.
    fileprivate final class Connection: Sendable {
        let channel: any Channel
        let handler: NIOLoopBound<AnswerHandler>
        /// Where it waits when idle: its loop and worker.
        let key: Key

        init(channel: any Channel, handler: NIOLoopBound<AnswerHandler>, socketPath: String) {
            self.channel = channel
            self.handler = handler
            key = Key(loop: ObjectIdentifier(channel.eventLoop), socketPath: socketPath)
        }

        static func open(socketPath: String, on loop: any EventLoop) async throws -> Connection {
            try await ClientBootstrap(group: loop)
                .connect(unixDomainSocketPath: socketPath)
                .flatMapThrowing { channel in
                    let handler = AnswerHandler()
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(handler)
                    return Connection(
                        channel: channel, handler: NIOLoopBound(handler, eventLoop: channel.eventLoop), socketPath: socketPath)
                }
                .get()
        }

        func exchange(path: String, body: ByteBuffer, pool: WorkerStreams) async throws -> Answer {
            let loop = channel.eventLoop
            let (stream, continuation) = AsyncThrowingStream.makeStream(of: ByteBuffer.self)
            let head = loop.makePromise(of: HTTPResponseHead.self)
            let channel = self.channel
            continuation.onTermination = { termination in
                // Ended early (the consumer stopped): the connection still carries the rest of the answer.
                if case .cancelled = termination { channel.close(promise: nil) }
            }
            let send: @Sendable () -> Void = {
                // Closed since it was picked (the worker went away): nothing would ever answer. Failing before
                // any answer started lets `post` retry on a new connection.
                guard channel.isActive else {
                    head.fail(ChannelError.ioOnClosedChannel)
                    continuation.finish(throwing: ChannelError.ioOnClosedChannel)
                    return
                }
                self.handler.value.begin(
                    head: head, body: continuation, onEnd: { reusable in if reusable { pool.giveBack(self) } })
                var headers = HTTPHeaders()
                headers.add(name: "host", value: "worker")
                headers.add(name: "content-type", value: "application/json")
                headers.add(name: "content-length", value: String(body.readableBytes))
                let request = HTTPRequestHead(version: .http1_1, method: .POST, uri: path, headers: headers)
                channel.write(HTTPClientRequestPart.head(request), promise: nil)
                channel.write(HTTPClientRequestPart.body(.byteBuffer(body)), promise: nil)
                channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
            }
            // A task already on the connection's loop (the gateway's handlers) writes now, not after it yields.
            if loop.inEventLoop { send() } else { loop.execute(send) }
            let status = try await withTaskCancellationHandler {
                try await head.futureResult.get().status
            } onCancel: {
                channel.close(promise: nil)
            }
            return Answer(status: status, body: stream)
        }
    }

    /// Feeds one answer at a time to its waiter. Runs on the connection's event loop only.
    fileprivate final class AnswerHandler: ChannelInboundHandler {
        typealias InboundIn = HTTPClientResponsePart

        private var head: EventLoopPromise<HTTPResponseHead>?
        private var body: AsyncThrowingStream<ByteBuffer, any Error>.Continuation?
        private var onEnd: ((Bool) -> Void)?
        private var keepAlive = false

        func begin(
            head: EventLoopPromise<HTTPResponseHead>, body: AsyncThrowingStream<ByteBuffer, any Error>.Continuation,
            onEnd: @escaping (Bool) -> Void
        ) {
            self.head = head
            self.body = body
            self.onEnd = onEnd
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let response):
                keepAlive = response.isKeepAlive
                head?.succeed(response)
                head = nil
            case .body(let buffer):
                body?.yield(buffer)
            case .end:
                let reusable = keepAlive && context.channel.isActive
                body?.finish()
                body = nil
                let onEnd = self.onEnd
                self.onEnd = nil
                if !reusable { context.close(promise: nil) }
                onEnd?(reusable)
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            fail(ChannelError.ioOnClosedChannel)
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            fail(error)
            context.close(promise: nil)
        }

        private func fail(_ error: any Error) {
            head?.fail(error)
            head = nil
            body?.finish(throwing: error)
            body = nil
            onEnd = nil
        }
    }
}
