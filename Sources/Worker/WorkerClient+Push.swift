public import Engine
internal import Foundation
internal import NIOCore
internal import NIOHTTP1
internal import NIOPosix

/// The gateway's hot path to a worker: the answer's events are decoded and handed to the receiver in the
/// connection's own read callbacks, on the loop of the gateway connection that asked.
extension WorkerClient: EventPushingEngine {
    public func push(_ request: GenerationRequest, to receiver: any GenerationReceiver) -> GenerationStop {
        guard let loop = MultiThreadedEventLoopGroup.currentEventLoop else {
            receiver.ended(EngineError(.unavailable, "a pushed generation must start on an event loop"))
            return GenerationStop {}
        }
        let body: ByteBuffer
        do {
            body = ByteBuffer(bytes: try JSONEncoder().encode(request))
        } catch {
            receiver.ended(EngineError(.invalidRequest, "the request cannot be encoded: \(error)"))
            return GenerationStop {}
        }
        let answer = NIOLoopBound(PushedAnswer(receiver, socketPath: socketPath), eventLoop: loop)
        let close = WorkerStreams.shared.push(socketPath: socketPath, path: InternalAPI.generate, body: body, to: answer.value)
        return GenerationStop {
            if loop.inEventLoop {
                answer.value.stopped = true
            } else {
                loop.execute { answer.value.stopped = true }
            }
            close()
        }
    }
}

/// One pushed answer: a refusal (any status but 200) is read whole and reported as the worker's error;
/// a 200's body is decoded into events as it arrives. On its connection's loop only.
final class PushedAnswer: AnswerSink {
    private let receiver: any GenerationReceiver
    private let socketPath: String
    private var status: HTTPResponseStatus?
    private var refusal = ByteBuffer()
    private var decoder = WorkerEventDecoder()
    /// Set when the receiver must hear nothing more (stopped, or already told the stream broke).
    var stopped = false

    init(_ receiver: any GenerationReceiver, socketPath: String) {
        self.receiver = receiver
        self.socketPath = socketPath
    }

    func head(_ response: HTTPResponseHead) {
        status = response.status
        if response.status == .ok, !stopped { receiver.accepted() }
    }

    func body(_ buffer: ByteBuffer) {
        guard status == .ok else {
            if refusal.readableBytes < 1 << 20 { refusal.writeImmutableBuffer(buffer) }
            return
        }
        do {
            for event in try decoder.events(in: buffer) {
                guard !stopped else { return }
                receiver.received(event)
            }
        } catch {
            finish(error)
        }
    }

    func end() {
        guard let status, status != .ok else { return finish(nil) }
        finish(WorkerClient.error(status: status.code, body: refusal))
    }

    func fail(_ error: any Error) {
        finish(
            status == nil
                ? EngineError(.unavailable, "worker at \(socketPath) is not reachable: \(error)")
                : EngineError(.unavailable, "worker stream broke: \(error)"))
    }

    private func finish(_ error: (any Error)?) {
        guard !stopped else { return }
        stopped = true
        receiver.ended(error)
    }
}
