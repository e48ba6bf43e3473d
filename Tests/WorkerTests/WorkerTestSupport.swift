import Foundation
import NIOCore
import NIOPosix
import Testing

/// Runs an empty task on every loop of the singleton group and waits for each: whatever those loops had
/// queued before (a connection going back to its pool, an event on its way to a receiver) has run by then.
func drainEventLoops() async throws {
    for loop in MultiThreadedEventLoopGroup.singleton.makeIterator() { try await loop.submit {}.get() }
}
