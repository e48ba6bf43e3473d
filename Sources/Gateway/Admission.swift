internal import Synchronization

/// Bounds how many requests may wait for one model, so an overloaded board answers 429 at once instead of
/// queueing without limit.
final class Admission: Sendable {
    private let counts = Mutex<[String: Int]>([:])
    let limit: Int

    init(limit: Int) { self.limit = limit }

    /// The new in-flight count, or nil when the model is full.
    func enter(_ model: String) -> Int? {
        counts.withLock { counts in
            let current = counts[model, default: 0]
            guard current < limit else { return nil }
            counts[model] = current + 1
            return current + 1
        }
    }

    func leave(_ model: String) -> Int {
        counts.withLock { counts in
            counts[model, default: 1] -= 1
            return counts[model, default: 0]
        }
    }
}
