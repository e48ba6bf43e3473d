import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Synchronization

/// A Hugging Face hub in the test process, speaking its resolve protocol: `GET /ORG/NAME/resolve/REV/FILE`
/// answers 302 to `/blobs/<etag>` (on `blobOrigin`, this server unless told otherwise) with X-Repo-Commit,
/// X-Linked-Etag and X-Linked-Size; blobs honour Range and If-Range. Every request is recorded.
final class FakeHub: Sendable {
    struct RepoFile: Sendable {
        var repo: String
        var file: String
        var commit: String
        /// Branches and tags that point at `commit`.
        var refs: Set<String> = ["main"]
        var content: [UInt8]
        /// Whether the repo answers 401 without `Authorization: Bearer <token>`.
        var gated = false

        var sha256: String { SHA256.hash(data: content).map { String(format: "%02x", $0) }.joined() }
        /// Like the hub's for large files: the content's sha256.
        var etag: String { sha256 }
        /// The blob server's own ETag, which is not the hub's.
        var blobETag: String { "\"cdn-\(etag.prefix(16))\"" }
    }

    struct Seen: Sendable {
        var path: String
        var authorization: String?
        var range: String?
        var ifRange: String?
    }

    private struct State {
        var files: [RepoFile]
        var blobOrigin = ""
        var requests: [Seen] = []
        /// Blobs (by etag) whose next answer stops halfway through the body.
        var dropOnce: Set<String> = []
    }

    let token: String
    private let state: Mutex<State>

    init(files: [RepoFile], token: String = "hf_test_token") {
        self.token = token
        self.state = Mutex(State(files: files))
    }

    var requests: [Seen] { state.withLock { $0.requests } }
    var blobOrigin: String {
        get { state.withLock { $0.blobOrigin } }
        set { state.withLock { $0.blobOrigin = newValue } }
    }

    func dropOnce(_ file: RepoFile) { _ = state.withLock { $0.dropOnce.insert(file.etag) } }

    /// Serves on a free port of 127.0.0.1 while `body` runs, with its base URL.
    func serve<Value: Sendable>(_ body: @Sendable (_ base: String) async throws -> Value) async throws -> Value {
        let router = Router()
        router.get("**") { request, _ in try self.answer(request) }
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)), logger: Logger(label: "fake-hub"))
        return try await app.test(.live) { client in
            guard let port = client.port else { throw CancellationError() }
            let base = "http://127.0.0.1:\(port)"
            if blobOrigin.isEmpty { blobOrigin = base }
            return try await body(base)
        }
    }

    private func answer(_ request: Request) throws -> Response {
        let path = request.uri.path.removingPercentEncoding ?? request.uri.path
        let (files, blobOrigin) = state.withLock { state in
            state.requests.append(
                Seen(
                    path: path, authorization: request.headers[.authorization], range: request.headers[.range],
                    ifRange: request.headers[HTTPField.Name("If-Range")!]))
            return (state.files, state.blobOrigin)
        }
        if path.hasPrefix("/blobs/") {
            guard let file = files.first(where: { "/blobs/\($0.etag)" == path }) else { return Response(status: .notFound) }
            return blob(file, request)
        }
        let parts = path.split(separator: "/", maxSplits: 4).map(String.init)
        guard parts.count == 5, parts[2] == "resolve" else { return Response(status: .notFound) }
        let (repo, revision, name) = ("\(parts[0])/\(parts[1])", parts[3], parts[4])
        let inRepo = files.filter { $0.repo == repo }
        guard !inRepo.isEmpty else { return error(.notFound, "RepoNotFound") }
        if inRepo.contains(where: \.gated), request.headers[.authorization] != "Bearer \(token)" {
            return error(.unauthorized, "GatedRepo")
        }
        let atRevision = inRepo.filter { $0.commit == revision || $0.refs.contains(revision) }
        guard let commit = atRevision.first?.commit else { return error(.notFound, "RevisionNotFound") }
        guard let file = atRevision.first(where: { $0.file == name }) else {
            var response = error(.notFound, "EntryNotFound")
            response.headers[HTTPField.Name("X-Repo-Commit")!] = commit
            return response
        }
        var headers = HTTPFields()
        headers[.location] = "\(blobOrigin)/blobs/\(file.etag)"
        headers[HTTPField.Name("X-Repo-Commit")!] = file.commit
        headers[HTTPField.Name("X-Linked-Etag")!] = "\"\(file.etag)\""
        headers[HTTPField.Name("X-Linked-Size")!] = "\(file.content.count)"
        // The redirect's own ETag names the pointer, not the blob: X-Linked-Etag must win.
        headers[.eTag] = "W/\"pointer-\(file.etag.prefix(8))\""
        return Response(status: .found, headers: headers)
    }

    private func blob(_ file: RepoFile, _ request: Request) -> Response {
        var start = 0
        if let range = request.headers[.range], range.hasPrefix("bytes="), range.hasSuffix("-"),
            let offset = Int(range.dropFirst(6).dropLast()),
            request.headers[HTTPField.Name("If-Range")!].map({ $0 == file.blobETag }) ?? true
        {
            start = offset
        }
        guard start <= file.content.count else { return Response(status: .rangeNotSatisfiable) }
        var headers = HTTPFields()
        headers[.eTag] = file.blobETag
        headers[.acceptRanges] = "bytes"
        if start > 0 { headers[.contentRange] = "bytes \(start)-\(file.content.count - 1)/\(file.content.count)" }
        let bytes = Array(file.content[start...])
        let drop = state.withLock { $0.dropOnce.remove(file.etag) != nil }
        let body = ResponseBody(contentLength: bytes.count) { writer in
            let cut = drop ? bytes.count / 2 : bytes.count
            var offset = 0
            while offset < cut {
                let end = min(offset + 64 * 1024, cut)
                try await writer.write(ByteBuffer(bytes: bytes[offset..<end]))
                offset = end
            }
            // Closing the connection before Content-Length bytes went out is what a dropped link looks like.
            if drop { throw CancellationError() }
            try await writer.finish(nil)
        }
        return Response(status: start > 0 ? .partialContent : .ok, headers: headers, body: body)
    }

    private func error(_ status: HTTPResponse.Status, _ code: String) -> Response {
        var headers = HTTPFields()
        headers[HTTPField.Name("X-Error-Code")!] = code
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: code)))
    }
}

extension FakeHub.RepoFile {
    /// `count` deterministic, incompressible-looking bytes (a xorshift stream seeded by `seed`).
    static func payload(_ count: Int, seed: UInt64) -> [UInt8] {
        var state = seed | 1
        return (0..<count).map { _ in
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return UInt8(truncatingIfNeeded: state)
        }
    }
}
