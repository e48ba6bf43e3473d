internal import AsyncHTTPClient
internal import Foundation
internal import NIOHTTP1

/// What the hub says about a file in the headers of its resolve answer (a redirect for large files, the
/// file itself for small ones): the commit the revision points at, the blob's name and its size.
struct HubMetadata: Sendable, Equatable {
    var commit: String
    /// The blob's file name in the cache: `X-Linked-Etag` (the sha256 of a large file), else `ETag`.
    var etag: String
    var size: Int64?

    /// Nil when the answer carries no `X-Repo-Commit`, i.e. it is not the hub's own resolve answer.
    init?(headers: HTTPHeaders, status: HTTPResponseStatus) throws {
        guard let commit = headers.first(name: "X-Repo-Commit"), !commit.isEmpty else { return nil }
        guard let etag = Self.normalize(headers.first(name: "X-Linked-Etag") ?? headers.first(name: "ETag")) else {
            throw HubError(.badResponse, "the hub sent no ETag for the file, so it cannot be cached")
        }
        guard HubFile.isPathComponent(Substring(commit)), !commit.contains("/"), HubFile.isPathComponent(Substring(etag)),
            !etag.contains("/")
        else { throw HubError(.badResponse, "the hub sent an unusable commit '\(commit)' or ETag '\(etag)'") }
        self.commit = commit
        self.etag = etag
        // A redirect's own Content-Length is that of its (empty) body, not of the file.
        let length = status == .ok ? headers.first(name: "Content-Length") : nil
        self.size = (headers.first(name: "X-Linked-Size") ?? length).flatMap { Int64($0) }
    }

    /// `W/"abc"` and `"abc"` both become `abc`.
    static func normalize(_ etag: String?) -> String? {
        guard var value = etag?.trimmingCharacters(in: .whitespaces) else { return nil }
        if value.hasPrefix("W/") { value.removeFirst(2) }
        value = value.trimmingCharacters(in: CharacterSet(charactersIn: "\""))
        return value.isEmpty ? nil : value
    }
}
