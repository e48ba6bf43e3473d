internal import Logging
public import Manifest

/// What pinning would do to one knob, for `runner plan`.
public struct ClockAction: Codable, Sendable, Equatable, CustomStringConvertible {
    public enum Change: String, Codable, Sendable {
        case set, keep, restore, skip
    }

    public var knob: String
    public var change: Change
    /// The value file, absolute; nil when the whole SoC is skipped.
    public var path: String?
    /// `governor value` as read now, e.g. `schedutil 816000`.
    public var from: String?
    /// `governor value` to write, e.g. `userspace 1800000`.
    public var to: String?
    /// Why it is skipped, or how the value was chosen.
    public var reason: String

    public var description: String {
        var text = "\(change.rawValue) \(knob)"
        if let from, let to, from != to { text += ": \(from) -> \(to)" } else if let to { text += ": \(to)" }
        return text + " (\(reason))"
    }
}

public struct ClockPlan: Codable, Sendable, Equatable {
    public var soc: SoCResolution
    public var policy: ClockPolicy
    public var actions: [ClockAction]

    public var hasChanges: Bool { actions.contains { $0.change == .set || $0.change == .restore } }
}

/// What happened to one knob in `pin` or `restore`.
public struct ClockOutcome: Codable, Sendable, Equatable, CustomStringConvertible {
    public enum Status: String, Codable, Sendable {
        case pinned, unchanged, restored, skipped, failed
        /// Written without an error, but reading back shows another value: the kernel refused or clamped it.
        case notTaken
    }

    public var knob: String
    public var path: String?
    public var status: Status
    public var detail: String

    public var description: String { "\(knob): \(status.rawValue): \(detail)" }
}

public struct ClockResult: Codable, Sendable, Equatable {
    public var soc: SoCResolution?
    public var outcomes: [ClockOutcome]

    public var failures: [ClockOutcome] { outcomes.filter { $0.status == .failed || $0.status == .notTaken } }
    public var succeeded: Bool { failures.isEmpty }

    /// Every knob's outcome in the log; one that failed (no permission, not taken) is an error for that knob
    /// alone.
    func log(to logger: Logger) {
        for outcome in outcomes {
            let metadata: Logger.Metadata = ["knob": "\(outcome.knob)", "status": "\(outcome.status.rawValue)"]
            switch outcome.status {
            case .failed, .notTaken: logger.error("clock not pinned: \(outcome.detail)", metadata: metadata)
            case .pinned, .restored: logger.info("clock \(outcome.status.rawValue): \(outcome.detail)", metadata: metadata)
            case .unchanged, .skipped: logger.debug("clock \(outcome.status.rawValue): \(outcome.detail)", metadata: metadata)
            }
        }
    }
}

/// A pinned attribute that no longer holds its pinned value: someone or something changed it.
public struct ClockDrift: Codable, Sendable, Equatable, CustomStringConvertible {
    public var knob: String
    public var path: String
    public var expected: String
    public var actual: String

    public var description: String { "\(knob): \(path) is \(actual), pinned \(expected)" }
}
