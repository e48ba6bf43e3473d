internal import Crypto
internal import Foundation

/// One version of the manifest: the file to load it from and what identifies the version.
public struct ManifestRevision: Sendable, Equatable {
    /// The manifest file on disk (in a git checkout: at `commit`).
    public var file: String
    /// SHA-256 of the file's bytes, lowercase hex.
    public var sha256: String
    /// The git commit it was read from; nil for a plain file.
    public var commit: String?

    public init(file: String, sha256: String, commit: String? = nil) {
        self.file = file
        self.sha256 = sha256
        self.commit = commit
    }

    /// What makes two revisions the same: the commit for git (a commit may change files the manifest
    /// refers to without changing the manifest), the content for a file.
    public var key: String { commit ?? sha256 }

    /// `commit 1a2b3c4` or `sha256 1a2b3c4d…`, for logs.
    public var shortDescription: String {
        if let commit { return "commit \(commit.prefix(12))" }
        return "sha256 \(sha256.prefix(12))"
    }

    static func sha256(of data: Data) -> String { SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined() }
}

/// Where `runner serve` gets new versions of its manifest.
public protocol ManifestSource: Sendable {
    /// How often to look for a new version.
    var pollInterval: Duration { get }
    /// For `applied-source.json`.
    var record: AppliedSource { get }
    /// The current version; throws when it cannot be read (the last good one keeps running).
    func current() async throws -> ManifestRevision
    /// Called after `revision` was rejected, so that what it refers to is the last good version again
    /// (a git checkout goes back to that commit).
    func reinstate(_ revision: ManifestRevision) async throws
}

/// A manifest file on this device, read again at every poll.
public struct ManifestFile: ManifestSource {
    public var path: String
    public var pollInterval: Duration

    public init(path: String, pollInterval: Duration) {
        self.path = URL(fileURLWithPath: path).standardizedFileURL.path
        self.pollInterval = pollInterval
    }

    public var record: AppliedSource { AppliedSource(kind: .file, path: path) }

    public func current() async throws -> ManifestRevision {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        return ManifestRevision(file: path, sha256: ManifestRevision.sha256(of: data))
    }

    /// The file is whatever was written last; the running manifest was applied from memory.
    public func reinstate(_ revision: ManifestRevision) async throws {}
}
