/// How long a supervisor waits before restarting a worker that exited: 1 s, 2 s, 4 s … up to a ceiling,
/// starting over once a worker has stayed up for a while. Restarts that come so often that the worker is
/// crash-looping (e.g. a model that segfaults on load) switch to a long pause instead of spinning.
public struct RestartBackoff: Sendable, Equatable {
    public var first: Duration
    public var longest: Duration
    /// A worker healthy for this long starts over at `first` (and leaves a crash loop).
    public var resetAfter: Duration
    /// This many restarts within `crashLoopWindow` is a crash loop …
    public var crashLoopRestarts: Int
    public var crashLoopWindow: Duration
    /// … and the next attempt then waits this long.
    public var crashLoopPause: Duration

    public init(
        first: Duration = .seconds(1), longest: Duration = .seconds(30), resetAfter: Duration = .seconds(60),
        crashLoopRestarts: Int = 5, crashLoopWindow: Duration = .seconds(300), crashLoopPause: Duration = .seconds(300)
    ) {
        self.first = first
        self.longest = longest
        self.resetAfter = resetAfter
        self.crashLoopRestarts = crashLoopRestarts
        self.crashLoopWindow = crashLoopWindow
        self.crashLoopPause = crashLoopPause
    }

    /// The wait before restart number `restarts + 1`.
    public func delay(afterRestarts restarts: Int) -> Duration { min(longest, first * (1 << min(restarts, 20))) }

    /// Restart times still inside the crash-loop window at `now`, oldest first.
    public func recent(_ restarts: [ContinuousClock.Instant], now: ContinuousClock.Instant) -> [ContinuousClock.Instant] {
        restarts.filter { now - $0 < crashLoopWindow }
    }

    /// Whether restarts at these times (already inside the window) make a crash loop.
    public func isCrashLoop(_ recentRestarts: [ContinuousClock.Instant]) -> Bool { recentRestarts.count >= crashLoopRestarts }
}

/// How a supervisor checks that a running worker still answers: a worker that misses `failures` health
/// checks in a row (hung in a vendor runtime, deadlocked, stopped) is killed and restarted like one that
/// exited.
public struct HealthPolicy: Sendable, Equatable {
    public var interval: Duration
    public var timeout: Duration
    public var failures: Int

    public init(interval: Duration = .seconds(5), timeout: Duration = .seconds(3), failures: Int = 3) {
        self.interval = interval
        self.timeout = timeout
        self.failures = failures
    }
}
