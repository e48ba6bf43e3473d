public import Foundation

/// Written when a first apply starts and removed when it has recorded what it applied, so `runner status`
/// can tell "an apply is downloading files and starting workers" from "nothing was ever applied".
public struct ApplyingRecord: Codable, Sendable, Equatable {
    public var manifest: String
    public var pid: Int32
    public var since: Date

    public init(manifest: String, pid: Int32 = getpid(), since: Date = Date()) {
        self.manifest = manifest
        self.pid = pid
        self.since = since
    }

    public func write(to state: StateDirectory) throws {
        try FileManager.default.createDirectory(at: state.root, withIntermediateDirectories: true)
        try AtomicFile.write(json: self, to: state.applying)
    }

    public static func clear(in state: StateDirectory) {
        try? FileManager.default.removeItem(at: state.applying)
    }

    /// The record of an apply whose process is still alive; one left by a process that died is stale.
    public static func inProgress(in state: StateDirectory) -> ApplyingRecord? {
        guard let data = try? Data(contentsOf: state.applying),
            let record = try? JSONDecoder.state.decode(ApplyingRecord.self, from: data)
        else { return nil }
        // Signal 0 only asks whether the process exists; EPERM means it does, owned by someone else.
        guard kill(record.pid, 0) == 0 || errno == EPERM else { return nil }
        return record
    }
}

extension StateDirectory {
    /// Where an apply in progress says so (see `ApplyingRecord`).
    public var applying: URL { root.appendingPathComponent("applying.json") }
}
