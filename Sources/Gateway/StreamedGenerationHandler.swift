internal import Engine
internal import HTTPTypes
internal import NIOCore
internal import NIOHTTPTypes

/// Answers streamed generations inside the connection's pipeline, ahead of the router: the request is read,
/// decoded and sent to the engine in the read callback, and each event the engine pushes is written to the
/// client in the callback that read it (`EventPushingEngine`). The router's request handling, a task switch
/// per token and the async writer are off the path of every token: about a third of what the gateway
/// spent on a request before its first token.
///
/// It takes only what `StreamedRoutes` claims and plans; anything else passes to the router untouched, and so
/// does every claimed request that turns out to be invalid, so that errors are answered in one place. While
/// the router has a request in hand nothing is claimed, and parts that arrive during a streamed answer wait
/// for its end, so answers leave in the order their requests came. One per connection, on its event loop.
final class StreamedGenerationHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private enum State {
        case idle
        /// A claimed request whose body is being read.
        case reading(HTTPRequest, ByteBuffer, started: ContinuousClock.Instant)
        /// A request for the router: its parts pass on until its end.
        case passing
        case answering(StreamedGeneration)
    }

    private let routes: StreamedRoutes
    private var state = State.idle
    /// Requests passed to the router whose answer has not ended yet.
    private var routerAnswers = 0
    /// Parts that arrived during a streamed answer, and a quiesce request held until it ends.
    private var waiting: [HTTPRequestPart] = []
    private var heldQuiesce: Any?

    init(routes: StreamedRoutes) { self.routes = routes }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        switch state {
        case .answering:
            waiting.append(part)
        case .passing:
            if case .end = part { state = .idle }
            context.fireChannelRead(data)
        case .reading(let head, var body, let started):
            switch part {
            case .head:
                pass([.head(head), .body(body)], context: context)
                state = .idle
                channelRead(context: context, data: data)
            case .body(let chunk):
                guard body.readableBytes + chunk.readableBytes <= routes.gateway.limits.maxBodyBytes else {
                    // Too large: the router says so.
                    pass([.head(head), .body(body), part], context: context)
                    state = .passing
                    return
                }
                body.writeImmutableBuffer(chunk)
                state = .reading(head, body, started: started)
            case .end:
                state = .idle
                start(head, body: body, end: part, started: started, context: context)
            }
        case .idle:
            if case .head(let head) = part, routerAnswers == 0, routes.claims(head) {
                state = .reading(head, ByteBuffer(), started: .now)
                return
            }
            if case .head = part {
                routerAnswers += 1
                state = .passing
            }
            context.fireChannelRead(data)
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        // The router's answers; this handler's own writes start below it and do not pass here.
        if case .end = unwrapOutboundIn(data) { routerAnswers = max(0, routerAnswers - 1) }
        context.write(data, promise: promise)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .answering(let generation) = state {
            if event is ChannelShouldQuiesceEvent {
                // Server shutdown: the router's handler closes idle connections at once, so it hears of this
                // only when the answer has ended.
                heldQuiesce = event
                return
            }
            if case .inputClosed? = event as? ChannelEvent { generation.clientLeft() }
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if case .answering(let generation) = state { generation.clientLeft() }
        context.fireChannelInactive()
    }

    /// Hands parts of a request to the router, which then answers it.
    private func pass(_ parts: [HTTPRequestPart], context: ChannelHandlerContext) {
        for part in parts {
            if case .head = part { routerAnswers += 1 }
            if case .body(let buffer) = part, buffer.readableBytes == 0 { continue }
            context.fireChannelRead(wrapInboundOut(part))
        }
    }

    private func start(
        _ head: HTTPRequest, body: ByteBuffer, end: HTTPRequestPart, started: ContinuousClock.Instant,
        context: ChannelHandlerContext
    ) {
        guard let plan = routes.plan(head, body: body, started: started) else {
            pass([.head(head), .body(body), end], context: context)
            return
        }
        let ticket: MeteredEvents.Ticket
        do {
            ticket = try routes.gateway.admit(plan.model, api: plan.api, plan.style)
        } catch {
            StreamedGeneration.writeError(error, api: plan.api, metrics: routes.gateway.metrics, context: context)
            return
        }
        let generation = StreamedGeneration(
            plan: plan, ticket: ticket, gateway: routes.gateway, context: context,
            onEnd: { [unowned self] in self.answered(context: context) })
        state = .answering(generation)
        generation.start()
    }

    /// The streamed answer is over: what waited behind it goes on, in order.
    private func answered(context: ChannelHandlerContext) {
        guard case .answering = state else { return }
        state = .idle
        if let quiesce = heldQuiesce {
            heldQuiesce = nil
            context.fireUserInboundEventTriggered(quiesce)
        }
        let parts = waiting
        waiting = []
        for part in parts { channelRead(context: context, data: wrapInboundOut(part)) }
        // Reads handed on outside a read callback reach the router's async side only with a read-complete.
        if !parts.isEmpty { context.fireChannelReadComplete() }
    }
}
