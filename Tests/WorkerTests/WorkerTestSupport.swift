import Foundation
import NIOCore
import NIOPosix
import Testing

/// Polls until `condition` holds; records an issue (and returns false) once `timeout` has passed.
@discardableResult
func eventually(
    _ what: String, timeout: Duration = .seconds(30), every interval: Duration = .milliseconds(20),
    _ condition: () async throws -> Bool
) async throws -> Bool {
    let deadline = ContinuousClock.now + timeout
    while !(try await condition()) {
        guard ContinuousClock.now < deadline else {
            Issue.record("timed out after \(timeout) waiting for \(what)")
            return false
        }
        try await Task.sleep(for: interval)
    }
    return true
}

/// Runs an empty task on every loop of the singleton group and waits for each: whatever those loops had
/// queued before (a connection going back to its pool, an event on its way to a receiver) has run by then.
func drainEventLoops() async throws {
    for loop in MultiThreadedEventLoopGroup.singleton.makeIterator() { try await loop.submit {}.get() }
}
