internal import NIOCore

/// Notices a client that leaves while its request is being answered, without reading the connection past the
/// request (which would end keep-alive): sits in each connection's pipeline and reports the end of its input.
/// Used on the connection's event loop only.
final class ClientDisconnectWatch: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    private var gone = false
    private var watchers: [Int: () -> Void] = [:]
    private var nextID = 0

    /// Calls `onGone` once when the client leaves (now, if it already has); the id unregisters it.
    func watch(_ onGone: @escaping () -> Void) -> Int? {
        guard !gone else {
            onGone()
            return nil
        }
        nextID += 1
        watchers[nextID] = onGone
        return nextID
    }

    func unwatch(_ id: Int) { watchers[id] = nil }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .inputClosed? = event as? ChannelEvent { clientLeft() }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        clientLeft()
        context.fireChannelInactive()
    }

    private func clientLeft() {
        gone = true
        let watchers = self.watchers
        self.watchers = [:]
        for onGone in watchers.values { onGone() }
    }
}
