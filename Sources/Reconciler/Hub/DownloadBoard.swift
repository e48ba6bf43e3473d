internal import Synchronization

/// The downloads in progress, for the admin API's `/v1/status` while `runner serve` fetches a model (a
/// terminal gets a progress bar and the log gets progress lines; a remote client only has the API).
public final class DownloadBoard: Sendable {
    public struct Entry: Codable, Sendable, Equatable {
        public var model: String
        public var repo: String
        public var file: String
        public var revision: String
        public var bytes: Int64
        /// nil until the server has said how large the file is.
        public var total: Int64?
    }

    private let entries = Mutex<[String: Entry]>([:])

    public init() {}

    /// Records a progress report of `model`'s download; a finished one leaves the board.
    public func record(model: String, _ progress: HubProgress) {
        let key = Self.key(model, progress.file)
        entries.withLock { entries in
            if progress.finished {
                entries[key] = nil
            } else {
                entries[key] = Entry(
                    model: model, repo: progress.file.repo, file: progress.file.file, revision: progress.file.revision,
                    bytes: progress.bytes, total: progress.total)
            }
        }
    }

    /// Takes a download off the board, whatever its last report said.
    public func remove(model: String, _ file: HubFile) {
        _ = entries.withLock { $0.removeValue(forKey: Self.key(model, file)) }
    }

    private static func key(_ model: String, _ file: HubFile) -> String { "\(model)/\(file.repo)/\(file.file)" }

    /// What is downloading now, by model and file.
    public var inProgress: [Entry] {
        entries.withLock { $0.values.sorted { ($0.model, $0.file) < ($1.model, $1.file) } }
    }
}
