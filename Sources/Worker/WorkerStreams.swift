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

    /// POSTs `body` to `path` and hands the answer to `sink` as it is read. Called on an event loop of the
    /// singleton group; the connection is on that loop, and so are the sink's calls. A kept connection that
    /// turns out to be closed before the answer starts is replaced once, as in `post`. The result closes the
    /// connection while it carries this answer, which ends the worker's work.
    func push(socketPath: String, path: String, body: ByteBuffer, to sink: any AnswerSink) -> @Sendable () -> Void {
        guard let loop = Self.currentLoop() else {
            sink.fail(ChannelError.ioOnClosedChannel)
            return {}
        }
        let attempt = NIOLoopBound(PushAttempt(), eventLoop: loop)
        let sink = NIOLoopBound(sink, eventLoop: loop)
        let openNew: @Sendable () -> Void = {
            Connection.open(socketPath: socketPath, on: loop).whenComplete { result in
                switch result {
                case .success(let connection):
                    connection.channel.closeFuture.whenComplete { _ in self.forget(connection) }
                    if attempt.value.stopped {
                        connection.channel.close(promise: nil)
                    } else if connection.send(path: path, body: body, to: sink.value, pool: self) {
                        attempt.value.carrying = (connection, sink.value)
                    } else {
                        sink.value.fail(ChannelError.ioOnClosedChannel)
                    }
                case .failure(let error):
                    if !attempt.value.stopped { sink.value.fail(error) }
                }
            }
        }
        if let reused = takeIdle(socketPath, on: loop) {
            let guarded = RetryBeforeHead(sink.value, retry: openNew)
            if reused.send(path: path, body: body, to: guarded, pool: self) {
                attempt.value.carrying = (reused, guarded)
            } else {
                openNew()
            }
        } else {
            openNew()
        }
        return {
            let run: @Sendable () -> Void = {
                attempt.value.stopped = true
                // Only while it still carries this answer: once over, the connection may serve another.
                guard let (connection, carried) = attempt.value.carrying, connection.handler.value.detach(ifServing: carried)
                else { return }
                connection.channel.close(promise: nil)
            }
            if loop.inEventLoop { run() } else { loop.execute(run) }
        }
    }

    /// Where a pushed exchange stands, so that stopping it reaches a connection opened later.
    private final class PushAttempt {
        var stopped = false
        /// The connection and the sink its handler feeds.
        var carrying: (Connection, any AnswerSink)?
    }

    /// A kept connection's answer: a connection lost before the head came (closed under the request) tries
    /// again on a new one instead of failing, as `post` does.
    private final class RetryBeforeHead: AnswerSink {
        private let sink: any AnswerSink
        private let retry: () -> Void
        private var started = false

        init(_ sink: any AnswerSink, retry: @escaping () -> Void) {
            self.sink = sink
            self.retry = retry
        }

        func head(_ response: HTTPResponseHead) {
            started = true
            sink.head(response)
        }

        func body(_ buffer: ByteBuffer) { sink.body(buffer) }

        func end() { sink.end() }

        func fail(_ error: any Error) { if started { sink.fail(error) } else { retry() } }
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

        static func open(socketPath: String, on loop: any EventLoop) -> EventLoopFuture<Connection> {
            ClientBootstrap(group: loop)
                .connect(unixDomainSocketPath: socketPath)
                .flatMapThrowing { channel in
                    let handler = AnswerHandler()
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(handler)
                    return Connection(
                        channel: channel, handler: NIOLoopBound(handler, eventLoop: channel.eventLoop), socketPath: socketPath)
                }
        }

        static func open(socketPath: String, on loop: any EventLoop) async throws -> Connection {
            try await open(socketPath: socketPath, on: loop).get()
        }

        /// Writes the request and routes its answer to `sink`. On the connection's loop only. False when the
        /// connection has closed since it was picked (the worker went away): nothing would ever answer.
        func send(path: String, body: ByteBuffer, to sink: any AnswerSink, pool: WorkerStreams) -> Bool {
            guard channel.isActive else { return false }
            handler.value.begin(sink, onEnd: { reusable in if reusable { pool.giveBack(self) } })
            var headers = HTTPHeaders()
            headers.add(name: "host", value: "worker")
            headers.add(name: "content-type", value: "application/json")
            headers.add(name: "content-length", value: String(body.readableBytes))
            let request = HTTPRequestHead(version: .http1_1, method: .POST, uri: path, headers: headers)
            channel.write(HTTPClientRequestPart.head(request), promise: nil)
            channel.write(HTTPClientRequestPart.body(.byteBuffer(body)), promise: nil)
            channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
            return true
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
                let sink = StreamingSink(head: head, body: continuation)
                // Failing before any answer started lets `post` retry on a new connection.
                if !self.send(path: path, body: body, to: sink, pool: pool) { sink.fail(ChannelError.ioOnClosedChannel) }
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

    /// An answer's head as a promise and its body as an async stream, for `post`.
    private final class StreamingSink: AnswerSink {
        private var head: EventLoopPromise<HTTPResponseHead>?
        private var body: AsyncThrowingStream<ByteBuffer, any Error>.Continuation?

        init(head: EventLoopPromise<HTTPResponseHead>, body: AsyncThrowingStream<ByteBuffer, any Error>.Continuation) {
            self.head = head
            self.body = body
        }

        func head(_ response: HTTPResponseHead) {
            head?.succeed(response)
            head = nil
        }

        func body(_ buffer: ByteBuffer) { body?.yield(buffer) }

        func end() {
            body?.finish()
            body = nil
        }

        func fail(_ error: any Error) {
            head?.fail(error)
            head = nil
            body?.finish(throwing: error)
            body = nil
        }
    }

    /// Feeds one answer at a time to its sink. Runs on the connection's event loop only.
    fileprivate final class AnswerHandler: ChannelInboundHandler {
        typealias InboundIn = HTTPClientResponsePart

        private var sink: (any AnswerSink)?
        private var onEnd: ((Bool) -> Void)?
        private var keepAlive = false

        func begin(_ sink: any AnswerSink, onEnd: @escaping (Bool) -> Void) {
            self.sink = sink
            self.onEnd = onEnd
        }

        /// Nothing more reaches `sink` (its exchange was stopped); false when it is not this connection's
        /// current sink (its answer is over).
        func detach(ifServing sink: any AnswerSink) -> Bool {
            guard let current = self.sink, current === sink else { return false }
            self.sink = nil
            onEnd = nil
            return true
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let response):
                keepAlive = response.isKeepAlive
                sink?.head(response)
            case .body(let buffer):
                sink?.body(buffer)
            case .end:
                let reusable = keepAlive && context.channel.isActive
                let sink = self.sink
                let onEnd = self.onEnd
                self.sink = nil
                self.onEnd = nil
                if !reusable { context.close(promise: nil) }
                // Back in the pool before the sink hears of the end, so that a caller it wakes can reuse it.
                onEnd?(reusable)
                sink?.end()
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
            let sink = self.sink
            self.sink = nil
            onEnd = nil
            sink?.fail(error)
        }
    }
}

/// Where one answer from a worker goes, part by part, on its connection's event loop: the head, the body as
/// it arrives, then `end`, or `fail` (before or after the head) when the connection breaks.
protocol AnswerSink: AnyObject {
    func head(_ response: HTTPResponseHead)
    func body(_ buffer: ByteBuffer)
    func end()
    func fail(_ error: any Error)
}
