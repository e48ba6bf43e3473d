import Gateway
import NIOCore
import NIOPosix
import Testing

/// Where gateway work runs: request handling stays on the endpoint's event loop, bulk work leaves it.
struct EventLoopPlacementTests {
    @Test func bulkWorkLeavesTheEventLoopAndTheHandlerComesBack() async throws {
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        try await withTaskExecutorPreference(EventLoopTaskExecutor(loop)) {
            #expect(loop.inEventLoop)
            let ranOnALoop = try await Gateway.offTheEventLoop { MultiThreadedEventLoopGroup.currentEventLoop != nil }
            #expect(!ranOnALoop)
            #expect(loop.inEventLoop)
        }
    }
}
