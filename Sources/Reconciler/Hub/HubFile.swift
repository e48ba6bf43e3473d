internal import Foundation

/// One file of a Hugging Face repository, as a manifest's `source.huggingface` names it.
public struct HubFile: Sendable, Hashable, CustomStringConvertible {
    public var repo: String
    public var file: String
    /// A branch, tag or commit.
    public var revision: String
    /// Lowercase hex, when the manifest pins the content.
    public var sha256: String?

    public init(repo: String, file: String, revision: String = "main", sha256: String? = nil) {
        self.repo = repo
        self.file = file
        self.revision = revision
        self.sha256 = sha256?.lowercased()
    }

    public var description: String { "\(repo)/\(file) at \(revision)" }

    /// Whether the revision is a full commit hash, which needs no ref and never moves.
    var revisionIsCommit: Bool { revision.count == 40 && revision.allSatisfy(\.isHexDigit) }

    /// `{endpoint}/{repo}/resolve/{revision}/{file}`, the revision escaped as one segment (it may be
    /// `refs/pr/1`) and the file's segments escaped one by one.
    func resolveURL(endpoint: String) -> URL? {
        let file = self.file.split(separator: "/").map { Self.escape(String($0)) }.joined(separator: "/")
        return URL(string: "\(endpoint)/\(repo)/resolve/\(Self.escape(revision))/\(file)")
    }

    private static func escape(_ segment: String) -> String {
        var allowed = CharacterSet.urlPathAllowed
        allowed.remove(charactersIn: "/?#%")
        return segment.addingPercentEncoding(withAllowedCharacters: allowed) ?? segment
    }

    /// Refuses names that would escape the cache directory or cannot be a path in it.
    func validate() throws {
        let repoParts = repo.split(separator: "/", omittingEmptySubsequences: false)
        guard repoParts.count == 2, repoParts.allSatisfy(Self.isPathComponent) else {
            throw HubError(.badSource, "repo must be ORG/NAME, found '\(repo)'")
        }
        guard !file.hasPrefix("/"), file.split(separator: "/", omittingEmptySubsequences: false).allSatisfy(Self.isPathComponent)
        else { throw HubError(.badSource, "file '\(file)' in repo \(repo) is not a relative path inside the repository") }
        guard !revision.isEmpty, !revision.hasPrefix("/"),
            revision.split(separator: "/", omittingEmptySubsequences: false).allSatisfy(Self.isPathComponent)
        else { throw HubError(.badSource, "revision '\(revision)' of repo \(repo) cannot name a ref") }
    }

    static func isPathComponent(_ part: Substring) -> Bool { !part.isEmpty && part != "." && part != ".." }
}

/// How far a download is. `total` is nil when the server did not say.
public struct HubProgress: Sendable, Equatable {
    public var file: HubFile
    public var bytes: Int64
    public var total: Int64?
    public var finished: Bool

    public init(file: HubFile, bytes: Int64, total: Int64?, finished: Bool = false) {
        self.file = file
        self.bytes = bytes
        self.total = total
        self.finished = finished
    }
}
