public import Foundation

extension WorkerRecord {
    /// How a worker's process last ended, with the end of its log: the reason a worker that keeps failing
    /// gives, shown by `runner status` without opening the log file.
    public struct Exit: Codable, Sendable, Equatable {
        public var at: Date
        /// E.g. `exited with status 1`, `was killed by signal 9`.
        public var reason: String
        /// Its last lines of output (at most `WorkerRecord.Exit.logLines`).
        public var log: [String]

        public static let logLines = 20

        public init(at: Date, reason: String, log: [String]) {
            self.at = at
            self.reason = reason
            self.log = log
        }
    }
}
