internal import Engine
internal import HTTPTypes
internal import NIOCore
internal import NIOHTTPTypes
internal import Worker

/// One streamed answer written by `StreamedGenerationHandler`: the engine's events, as they are pushed, to the
/// client's connection, with the same metrics, admission and failure rules as the routes. On the connection's
/// event loop only.
final class StreamedGeneration: GenerationReceiver {
    private var encoder: any StreamedAnswerEncoding
    private let plan: StreamedPlan
    private let ticket: MeteredEvents.Ticket
    private let gateway: Gateway
    private let context: ChannelHandlerContext
    private let onEnd: () -> Void
    private var stop: GenerationStop?
    /// Waiting for the model to load (see `start`).
    private var loading: Task<Void, Never>?
    private var headSent = false
    private var over = false

    init(
        plan: StreamedPlan, ticket: MeteredEvents.Ticket, gateway: Gateway, context: ChannelHandlerContext,
        onEnd: @escaping () -> Void
    ) {
        self.plan = plan
        encoder = plan.encoder
        self.ticket = ticket
        self.gateway = gateway
        self.context = context
        self.onEnd = onEnd
    }

    /// Starts at once when the model is in memory; otherwise waits (in a task) for the scheduler to load it,
    /// then starts on this loop.
    func start() {
        guard let residency = gateway.residency else { return begin() }
        if let lease = residency.tryAcquire(plan.model.name, keepAlive: plan.keepAlive) {
            ticket.hold(lease)
            return begin()
        }
        let generation = NIOLoopBound(self, eventLoop: context.eventLoop)
        let loop = context.eventLoop
        let (name, keepAlive) = (plan.model.name, plan.keepAlive)
        loading = Task {
            do {
                let lease = try await residency.acquire(name, keepAlive: keepAlive)
                loop.execute { generation.value.loaded(lease) }
            } catch {
                loop.execute { generation.value.ended(error) }
            }
        }
    }

    private func loaded(_ lease: ModelLease) {
        loading = nil
        ticket.hold(lease)
        guard !over else { return }
        begin()
    }

    private func begin() {
        let stop = Self.push(plan.request, to: plan.model.engine, receiver: self, loop: context.eventLoop)
        // The engine may have answered already (a refusal it knew at once).
        if !over { self.stop = stop }
    }

    func accepted() {
        guard !over else { return }
        headSent = true
        gateway.metrics.response(api: plan.api, status: 200)
        let head = HTTPResponse(
            status: .ok,
            headerFields: [.contentType: encoder.contentType, .cacheControl: "no-cache", .server: GatewayServer.serverName])
        context.write(NIOAny(HTTPResponsePart.head(head)), promise: nil)
        if let opening = encoder.opening() { write(opening) }
        context.flush()
    }

    func received(_ event: GenerationEvent) {
        guard !over else { return }
        let event = ticket.reportingLoad(event)
        ticket.observe(event)
        for buffer in encoder.encode(event) { write(buffer) }
        if case .done = event {
            finishBody()
            ticket.release()
            end()
        } else {
            context.flush()
        }
    }

    func ended(_ error: (any Error)?) {
        guard !over else { return }
        if !headSent {
            // Refused before anything was sent: a plain error with its status, as the routes answer.
            ticket.release()
            Self.writeError(
                gateway.refusal(error ?? EngineError(.unavailable, "no answer"), model: plan.model, api: plan.api, plan.style),
                api: plan.api, metrics: gateway.metrics, context: context)
        } else {
            // The status is out: the failure is the answer's last event.
            write(encoder.failure(error))
            finishBody()
            if error != nil { ticket.failed() } else { ticket.release() }
        }
        end()
    }

    /// The client went away: the generation stops, its place in the queue is given back.
    func clientLeft() {
        guard !over else { return }
        loading?.cancel()
        stop?()
        ticket.release()
        end()
    }

    private func write(_ buffer: ByteBuffer) {
        context.write(NIOAny(HTTPResponsePart.body(buffer)), promise: nil)
    }

    private func finishBody() {
        if let closing = encoder.closing { write(closing) }
        context.writeAndFlush(NIOAny(HTTPResponsePart.end(nil)), promise: nil)
    }

    /// Ended on the client's side. The engine's side ends by itself (after `done` a worker ends its body, and
    /// the connection goes back to the pool), so it is stopped only when the client leaves.
    private func end() {
        over = true
        stop = nil
        loading = nil
        onEnd()
    }

    /// An error answer, counted as the router's middleware counts them.
    static func writeError(_ error: APIError, api: String, metrics: GatewayMetrics, context: ChannelHandlerContext) {
        metrics.response(api: api, status: Int(error.status.code))
        let body = ByteBuffer(bytes: error.bodyData)
        var fields: HTTPFields = [
            .contentType: "application/json", .contentLength: "\(body.readableBytes)", .server: GatewayServer.serverName,
        ]
        if let retryAfter = error.retryAfter { fields[.retryAfter] = "\(retryAfter)" }
        context.write(NIOAny(HTTPResponsePart.head(HTTPResponse(status: error.status, headerFields: fields))), promise: nil)
        context.write(NIOAny(HTTPResponsePart.body(body)), promise: nil)
        context.writeAndFlush(NIOAny(HTTPResponsePart.end(nil)), promise: nil)
    }

    /// Starts `request` on `engine`: pushed by the engine itself when it can (a worker), else read from its
    /// async stream by a task that hands each event over to `loop` (in-process engines: the gateway's own tests).
    private static func push(
        _ request: GenerationRequest, to engine: any Engine, receiver: StreamedGeneration, loop: any EventLoop
    ) -> GenerationStop {
        if let pushing = engine as? any EventPushingEngine { return pushing.push(request, to: receiver) }
        let receiver = NIOLoopBound(receiver, eventLoop: loop)
        let task = Task {
            do {
                let events = try await engine.generate(request)
                loop.execute { receiver.value.accepted() }
                for try await event in events { loop.execute { receiver.value.received(event) } }
                loop.execute { receiver.value.ended(nil) }
            } catch {
                loop.execute { receiver.value.ended(error) }
            }
        }
        return GenerationStop { task.cancel() }
    }
}
