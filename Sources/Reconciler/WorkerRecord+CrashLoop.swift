public import Foundation

extension WorkerRecord {
    /// A worker restarted `restarts` times within `windowSeconds`: the supervisor stopped spinning and waits
    /// until `nextAttempt` before trying again.
    public struct CrashLoop: Codable, Sendable, Equatable {
        public var since: Date
        public var restarts: Int
        public var windowSeconds: Int
        public var nextAttempt: Date

        public init(since: Date, restarts: Int, windowSeconds: Int, nextAttempt: Date) {
            self.since = since
            self.restarts = restarts
            self.windowSeconds = windowSeconds
            self.nextAttempt = nextAttempt
        }
    }
}

extension StateObserver {
    /// Every worker record in the state directory, whether or not its process is alive: a crash-looping
    /// worker has no process while it waits, and its record says so.
    public func workerRecords() -> [String: WorkerRecord] {
        let urls = (try? FileManager.default.contentsOfDirectory(at: state.workers, includingPropertiesForKeys: nil)) ?? []
        var records: [String: WorkerRecord] = [:]
        for url in urls where url.pathExtension == "json" {
            guard let data = try? Data(contentsOf: url), let record = try? JSONDecoder.state.decode(WorkerRecord.self, from: data)
            else { continue }
            records[record.model] = record
        }
        return records
    }
}
