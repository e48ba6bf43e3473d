internal import Crypto
public import Foundation
public import Manifest

/// A manifest in a git repository (`source.git` or `runner serve --git`): a clone in the state directory,
/// fetched at the interval. The working tree is checked out at the commit being looked at, so the files a
/// manifest refers to by relative path (prompts, token files) come from the same commit, and it goes back
/// to the last good commit when a new one is rejected.
public struct GitManifestSource: ManifestSource {
    public var url: String
    public var branch: String
    /// The manifest's path inside the repository.
    public var path: String
    public var pollInterval: Duration
    /// The clone: `git/<hash of url and branch>` in the state directory.
    public var checkout: URL
    var cli = GitCLI()

    public init(url: String, branch: String, path: String, pollInterval: Duration, state: StateDirectory) {
        self.url = url
        self.branch = branch
        self.path = path
        self.pollInterval = pollInterval
        let digest = SHA256.hash(data: Data("\(url)\n\(branch)".utf8)).map { String(format: "%02x", $0) }.joined()
        checkout = state.root.appendingPathComponent("git").appendingPathComponent(String(digest.prefix(16)))
    }

    /// A manifest's `source.git`.
    public init(_ git: ResolvedGitSource, state: StateDirectory) {
        self.init(url: git.url, branch: git.branch, path: git.path, pollInterval: git.interval.duration, state: state)
    }

    public var record: AppliedSource { AppliedSource(kind: .git, url: url, branch: branch, path: path) }

    var manifestFile: URL { checkout.appendingPathComponent(path) }
    var remoteBranch: String { "refs/remotes/origin/\(branch)" }

    /// Fetches, then checks out the branch's newest commit (when it moved) and reads the manifest there.
    public func current() async throws -> ManifestRevision {
        try await fetch()
        let commit = try await cli.run(["rev-parse", "--verify", "\(remoteBranch)^{commit}"], in: checkout)
        let head = try? await cli.run(["rev-parse", "--verify", "HEAD^{commit}"], in: checkout)
        if head != commit { try await checkOut(commit) }
        return try revision(at: commit)
    }

    public func reinstate(_ revision: ManifestRevision) async throws {
        guard let commit = revision.commit else { return }
        try await checkOut(commit)
    }

    func fetch() async throws {
        let fileManager = FileManager.default
        if !fileManager.fileExists(atPath: checkout.appendingPathComponent(".git").path) {
            try? fileManager.removeItem(at: checkout)
            try fileManager.createDirectory(at: checkout.deletingLastPathComponent(), withIntermediateDirectories: true)
            try await cli.run(["clone", "--quiet", "--single-branch", "--branch", branch, url, checkout.path])
        }
        try await cli.run(
            ["fetch", "--quiet", "--prune", "origin", "+refs/heads/\(branch):\(remoteBranch)"], in: checkout)
    }

    func checkOut(_ commit: String) async throws {
        try await cli.run(["checkout", "--quiet", "--force", "--detach", commit], in: checkout)
        // Files left by another commit must not be read as this one's.
        try await cli.run(["clean", "--quiet", "-d", "--force", "-x"], in: checkout)
    }

    func revision(at commit: String) throws -> ManifestRevision {
        let file = manifestFile
        guard let data = FileManager.default.contents(atPath: file.path) else {
            // Validation reports the missing file with its position, like any other problem.
            return ManifestRevision(file: file.path, sha256: ManifestRevision.sha256(of: Data()), commit: commit)
        }
        return ManifestRevision(file: file.path, sha256: ManifestRevision.sha256(of: data), commit: commit)
    }
}
