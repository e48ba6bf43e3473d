public import Foundation
internal import Synchronization

/// Which models are in memory, as the scheduler last wrote it (`residency.json`), for `runner status`.
public struct ResidencyRecord: Codable, Sendable, Equatable {
    public struct Model: Codable, Sendable, Equatable {
        public var name: String
        /// not-loaded, loading, resident, stopping, stopped-idle, evicted, unloaded, failed.
        public var state: String
        public var since: Date
        public var lastUsed: Date?
        /// When it will be stopped for idling.
        public var expiresAt: Date?
        /// Measured while it ran, else estimated from its file.
        public var bytes: Int64
        public var measured: Bool
        public var pinned: Bool
        /// Requests holding it when this was written.
        public var inUse: Int
        /// Requests waiting for it to load (or for room to load it).
        public var waiting: Int
        public var error: String?
    }

    public var budget: Int64
    /// Memory of the models loaded (or loading) when this was written.
    public var held: Int64
    public var models: [Model]

    public static func read(from state: StateDirectory) -> ResidencyRecord? {
        guard let data = try? Data(contentsOf: state.residency) else { return nil }
        return try? JSONDecoder.state.decode(ResidencyRecord.self, from: data)
    }
}

extension StateDirectory {
    public var residency: URL { root.appendingPathComponent("residency.json") }
}

/// Writes the record at most a few times a second: every request changes a model's last use, and the file
/// is for people, not for the request path.
final class ResidencyRecorder: Sendable {
    let file: URL
    private let pending = Mutex<(scheduled: Bool, snapshot: (@Sendable () -> ResidencyRecord?)?)>((false, nil))

    init(file: URL) { self.file = file }

    func source(_ snapshot: @escaping @Sendable () -> ResidencyRecord?) { pending.withLock { $0.snapshot = snapshot } }

    func changed() {
        let start = pending.withLock { state -> Bool in
            defer { state.scheduled = true }
            return !state.scheduled && state.snapshot != nil
        }
        guard start else { return }
        Task {
            try? await Task.sleep(for: .milliseconds(200))
            writeNow()
        }
    }

    func writeNow() {
        let snapshot = pending.withLock { state in
            state.scheduled = false
            return state.snapshot
        }
        guard let record = snapshot?() ?? nil else { return }
        try? AtomicFile.write(json: record, to: file)
    }
}
