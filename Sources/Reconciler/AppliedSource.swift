public import Foundation

/// Where the running manifest came from, for `runner status`: `applied-source.json` next to `applied.json`.
/// `runner serve` writes it after every applied or rejected version.
public struct AppliedSource: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable { case file, git }

    /// A version that was not applied, and why.
    public struct Rejection: Codable, Sendable, Equatable {
        public enum Reason: String, Codable, Sendable {
            /// Validation failed; `diagnostics` has every problem as `file:line:col: severity: message`.
            case invalid
            /// Its selector does not pick this device; nothing was stopped.
            case notSelected = "not-selected"
            /// Valid, but applying it failed before anything changed (a download, a missing file, an engine
            /// this build lacks); `diagnostics` has the error.
            case notApplied = "not-applied"
        }

        public var commit: String?
        public var sha256: String
        public var at: Date
        public var reason: Reason
        public var diagnostics: [String]

        public init(commit: String?, sha256: String, at: Date, reason: Reason, diagnostics: [String]) {
            self.commit = commit
            self.sha256 = sha256
            self.at = at
            self.reason = reason
            self.diagnostics = diagnostics
        }
    }

    public var kind: Kind
    /// The repository (git only).
    public var url: String?
    /// The branch followed (git only).
    public var branch: String?
    /// The manifest's path: inside the repository for git, absolute for a file.
    public var path: String
    /// The commit whose manifest runs (git only).
    public var commit: String?
    /// SHA-256 of the manifest text that runs.
    public var sha256: String?
    public var appliedAt: Date?
    /// The newest version that was not applied, if it is newer than the one that runs.
    public var rejected: Rejection?

    public init(
        kind: Kind, url: String? = nil, branch: String? = nil, path: String, commit: String? = nil, sha256: String? = nil,
        appliedAt: Date? = nil, rejected: Rejection? = nil
    ) {
        self.kind = kind
        self.url = url
        self.branch = branch
        self.path = path
        self.commit = commit
        self.sha256 = sha256
        self.appliedAt = appliedAt
        self.rejected = rejected
    }

    public static func read(from state: StateDirectory) -> AppliedSource? {
        guard let data = try? Data(contentsOf: state.appliedSource) else { return nil }
        return try? JSONDecoder.state.decode(AppliedSource.self, from: data)
    }

    public func write(to state: StateDirectory) throws { try AtomicFile.write(json: self, to: state.appliedSource) }
}
