internal import HummingbirdCore
internal import Logging
public import NIOCore

/// Runs a task's jobs on one NIO event loop: used as a task executor preference, an `await` on I/O of a
/// channel on that loop resumes without waking another thread.
public final class EventLoopTaskExecutor: TaskExecutor {
    public let eventLoop: any EventLoop
    private let serial: (any NIOSerialEventLoopExecutor)?

    public init(_ eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
        serial = eventLoop as? any NIOSerialEventLoopExecutor
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        // NIO's own loops take jobs as they are, without wrapping each in a closure.
        if let serial {
            serial.enqueue(job)
            return
        }
        let job = UnownedJob(job)
        eventLoop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}

/// HTTP/1 connections whose handling, route handlers included, runs on the connection's event loop.
struct EventLoopBoundHTTP1Channel: ServerChildChannel {
    let inner: HTTP1Channel

    init(_ inner: HTTP1Channel) { self.inner = inner }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<HTTP1Channel.Value> {
        inner.setup(channel: channel, logger: logger)
    }

    func handle(value: HTTP1Channel.Value, logger: Logger) async {
        await withTaskExecutorPreference(EventLoopTaskExecutor(value.channel.eventLoop)) {
            await inner.handle(value: value, logger: logger)
        }
    }
}

extension HTTPServerBuilder {
    /// The gateway's HTTP/1: each connection served on its event loop (see `EventLoopBoundHTTP1Channel`),
    /// streamed generations answered ahead of the router (see `StreamedGenerationHandler`), and watched for a
    /// client that leaves (see `ClientDisconnectWatch`).
    static func gateway(_ streamed: StreamedRoutes) -> HTTPServerBuilder {
        .init { responder in
            EventLoopBoundHTTP1Channel(
                HTTP1Channel(
                    responder: responder,
                    configuration: .init(additionalChannelHandlers: [
                        StreamedGenerationHandler(routes: streamed), ClientDisconnectWatch(),
                    ])))
        }
    }
}
