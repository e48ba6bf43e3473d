import Testing

/// Polls `condition` until it holds; records an issue (and returns false) after `timeout`.
@discardableResult
func waitUntil(_ what: String, timeout: Duration = .seconds(30), _ condition: () async -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + timeout
    while !(await condition()) {
        guard ContinuousClock.now < deadline else {
            Issue.record("timed out waiting for \(what)")
            return false
        }
        try await Task.sleep(for: .milliseconds(20))
    }
    return true
}
