internal import AsyncHTTPClient
internal import Foundation
internal import Logging
internal import NIOCore
internal import NIOHTTP1

/// One attempt at one file: `GET {endpoint}/{repo}/resolve/{revision}/{file}`, redirects followed by hand
/// (the token goes only to the endpoint's own origin), the body streamed into `blobs/<etag>.incomplete`
/// from where an earlier attempt stopped, then published.
struct HubTransfer {
    let downloader: HubDownloader
    let file: HubFile
    let http: HTTPClient

    private var cache: HubCacheLayout { downloader.cache }
    private static let maxHops = 10
    private static let flushBytes = 1 << 20

    /// `known` carries what the hub said in an earlier attempt, so this one can ask for the rest at once.
    func run(known: inout HubMetadata?, meter: inout ProgressMeter) async throws -> URL {
        guard let start = file.resolveURL(endpoint: downloader.settings.endpoint),
            let endpoint = URL(string: downloader.settings.endpoint).flatMap(HubSettings.origin)
        else { throw HubError(.badSource, "HF_ENDPOINT '\(downloader.settings.endpoint)' with \(file) is not a URL") }
        var url = start
        var metadata: HubMetadata?
        var claim: Claim?
        if let known {
            switch try await begin(known) {
            case .cached(let snapshot): return snapshot
            case .claimed(let claimed): claim = claimed
            }
        }
        defer { claim?.partial.close() }
        var restarts = 0
        var askedForRest = false
        for _ in 0..<Self.maxHops {
            let sameOrigin = HubSettings.origin(of: url) == endpoint
            var range: (etag: String, offset: Int64)?
            if let partial = claim?.partial, partial.size > 0 { range = (partial.etag, try await partial.prepareResume()) }
            let response = try await send(url, withToken: sameOrigin, range: range, ifRange: claim?.partial.contentETag)
            // Error answers may carry X-Repo-Commit too, but never a blob to cache.
            if metadata == nil, (200..<400).contains(response.status.code),
                let found = try HubMetadata(headers: response.headers, status: response.status)
            {
                metadata = found
                known = found
                if claim?.partial.etag != found.etag {
                    claim?.partial.close()
                    switch try await begin(found) {
                    case .cached(let snapshot): return snapshot
                    case .claimed(let claimed): claim = claimed
                    }
                }
            }
            switch response.status.code {
            case 301, 302, 303, 307, 308:
                guard let location = response.headers.first(name: "Location"),
                    let next = URL(string: location, relativeTo: url)?.absoluteURL, next.scheme?.hasPrefix("http") == true
                else { throw HubError(.badResponse, "\(url.host ?? "the hub") redirected \(file) to an unusable location") }
                _ = try? await response.body.collect(upTo: 1 << 16)
                url = next
            case 200, 206:
                guard let metadata, let claim else {
                    throw HubError(
                        .badResponse,
                        "\(url.host ?? "the server") answered for \(file) without X-Repo-Commit: HF_ENDPOINT must be a Hugging Face hub or a mirror of one"
                    )
                }
                let partial = claim.partial
                if response.status == .partialContent {
                    // A range of other bytes than asked, or of a file that changed since the partial was written.
                    let changed =
                        response.headers.first(name: "ETag").map { tag in partial.contentETag.map { $0 != tag } ?? false }
                        ?? false
                    guard let range, range.etag == partial.etag, Self.rangeStart(response.headers) == range.offset, !changed
                    else {
                        restarts += 1
                        guard restarts <= 2 else {
                            throw HubError(.badResponse, "\(url.host ?? "the server") sent the wrong range of \(file)")
                        }
                        try partial.reset(contentETag: nil)
                        continue
                    }
                } else if range == nil, partial.size > 0, !askedForRest {
                    // The hub sent the file itself before its partial was known: drop this answer, ask for the rest.
                    askedForRest = true
                    continue
                } else {
                    try partial.reset(contentETag: response.headers.first(name: "ETag"))
                }
                let total = metadata.size ?? Self.totalSize(response)
                meter.start(at: partial.size, total: total)
                try await stream(response.body, into: partial, total: total, meter: &meter)
                return try await publish(metadata, claim: claim, meter: meter)
            case 416:
                // The partial is longer than the file: it cannot be the start of it.
                restarts += 1
                guard restarts <= 2, let claim else { throw HubError(.badResponse, "range not satisfiable for \(file)") }
                try claim.partial.reset(contentETag: nil)
            default:
                throw await Self.refusal(response, file: file, tokenSent: sameOrigin && downloader.settings.token != nil)
            }
        }
        throw HubError(.badResponse, "more than \(Self.maxHops) redirects resolving \(file)")
    }

    // MARK: Requests

    private func send(_ url: URL, withToken: Bool, range: (etag: String, offset: Int64)?, ifRange: String?) async throws
        -> HTTPClientResponse
    {
        var request = HTTPClientRequest(url: url.absoluteString)
        request.headers.add(name: "User-Agent", value: "rockchipllama-runner")
        request.headers.add(name: "Accept-Encoding", value: "identity")
        if withToken, let token = downloader.settings.token {
            request.headers.add(name: "Authorization", value: "Bearer \(token.value)")
        }
        if let range {
            request.headers.add(name: "Range", value: "bytes=\(range.offset)-")
            // A weak ETag may not be used in If-Range; without one a 206's own ETag is still compared.
            if let ifRange, !ifRange.hasPrefix("W/") { request.headers.add(name: "If-Range", value: ifRange) }
        }
        do {
            return try await http.execute(request, timeout: .hours(24))
        } catch {
            throw HubError(.network, "cannot fetch \(file) from \(url.host ?? "the hub"): \(error)")
        }
    }

    private func stream(_ body: HTTPClientResponse.Body, into partial: PartialBlob, total: Int64?, meter: inout ProgressMeter)
        async throws
    {
        var pending = ByteBuffer()
        do {
            for try await chunk in body {
                pending.writeImmutableBuffer(chunk)
                guard pending.readableBytes >= Self.flushBytes else { continue }
                try await partial.append(pending)
                pending.clear()
                meter.update(partial.size)
            }
        } catch let error as HubError {
            throw error
        } catch {
            // Keep what arrived: the next attempt resumes after it.
            if pending.readableBytes > 0 { try await partial.append(pending) }
            let of = total.map { " of \($0)" } ?? ""
            throw HubError(.network, "the connection dropped after \(partial.size)\(of) bytes of \(file): \(error)")
        }
        if pending.readableBytes > 0 { try await partial.append(pending) }
        meter.update(partial.size)
        if let total, partial.size != total {
            throw HubError(.network, "the download of \(file) ended after \(partial.size) of \(total) bytes")
        }
    }

    // MARK: Cache

    /// The lock and the partial file of a blob this attempt is downloading.
    struct Claim {
        var lock: HubFileLock
        var partial: PartialBlob
    }

    enum Start {
        case cached(URL)
        case claimed(Claim)
    }

    /// Links a blob that is already there (another revision's, or another process's that finished while this
    /// one waited for the lock); otherwise takes the lock and opens the partial file.
    private func begin(_ metadata: HubMetadata) async throws -> Start {
        if let snapshot = try await linkIfPresent(metadata) { return .cached(snapshot) }
        let lock = try await HubFileLock.acquire(cache.lock(repo: file.repo, etag: metadata.etag), logger: downloader.logger)
        if let snapshot = try await linkIfPresent(metadata) { return .cached(snapshot) }
        let blobs = cache.blob(repo: file.repo, etag: metadata.etag).deletingLastPathComponent()
        // Hashed only when a Range request is about to resume it, since a 200 would throw the bytes away.
        return .claimed(Claim(lock: lock, partial: try PartialBlob.open(blobs: blobs, etag: metadata.etag)))
    }

    private func linkIfPresent(_ metadata: HubMetadata) async throws -> URL? {
        let blob = cache.blob(repo: file.repo, etag: metadata.etag)
        guard FileManager.default.fileExists(atPath: blob.path), try await downloader.isAcceptable(blob, file) else { return nil }
        return try link(metadata)
    }

    private func link(_ metadata: HubMetadata) throws -> URL {
        let snapshot = try cache.linkSnapshot(repo: file.repo, commit: metadata.commit, file: file.file, etag: metadata.etag)
        if file.revision != metadata.commit {
            try cache.writeRef(repo: file.repo, revision: file.revision, commit: metadata.commit)
        }
        return snapshot
    }

    /// Checks the sha256, then moves the blob into place, links the snapshot and writes the ref, in that order,
    /// so a reader following the ref always finds the whole file.
    private func publish(_ metadata: HubMetadata, claim: Claim, meter: ProgressMeter) async throws -> URL {
        let partial = claim.partial
        let digest = partial.hexDigest()
        if let expected = file.sha256, digest != expected {
            partial.discard()
            throw HubError(
                .checksumMismatch,
                "sha256 mismatch for \(file): expected \(expected), got \(digest); the download was deleted and nothing was published"
            )
        }
        let blob = cache.blob(repo: file.repo, etag: metadata.etag)
        try await partial.publish(to: blob)
        downloader.verified?.mark(blob, sha256: digest)
        let snapshot = try link(metadata)
        meter.finish(partial.size)
        downloader.logger.info(
            "downloaded",
            metadata: [
                "repo": "\(file.repo)", "file": "\(file.file)", "commit": "\(metadata.commit)", "bytes": "\(partial.size)",
                "sha256": "\(digest)",
            ])
        // Held until the snapshot and the ref point at the blob.
        withExtendedLifetime(claim.lock) {}
        return snapshot
    }

    // MARK: Answers

    /// `Content-Range: bytes START-END/TOTAL` → START.
    static func rangeStart(_ headers: HTTPHeaders) -> Int64? {
        guard let value = headers.first(name: "Content-Range"), value.hasPrefix("bytes ") else { return nil }
        return value.dropFirst(6).split(separator: "-").first.flatMap { Int64($0) }
    }

    static func totalSize(_ response: HTTPClientResponse) -> Int64? {
        if response.status == .partialContent {
            return response.headers.first(name: "Content-Range")?.split(separator: "/").last.flatMap { Int64($0) }
        }
        return response.headers.first(name: "Content-Length").flatMap { Int64($0) }
    }

    static func refusal(_ response: HTTPClientResponse, file: HubFile, tokenSent: Bool) async -> HubError {
        let body = (try? await response.body.collect(upTo: 1 << 16)).map { String(buffer: $0) } ?? ""
        let detail = body.isEmpty ? "" : " (\(body.prefix(200).trimmingCharacters(in: .whitespacesAndNewlines)))"
        let code = response.headers.first(name: "X-Error-Code")
        switch response.status.code {
        case 401 where tokenSent:
            return HubError(
                .needsToken, "the token was refused for repo \(file.repo): it may not exist, or the token has no access")
        case 401:
            return HubError(
                .needsToken, "repo \(file.repo) needs a token: set HF_TOKEN (or HF_TOKEN_PATH) to a token with access")
        case 403:
            return HubError(
                .forbidden,
                "access to repo \(file.repo) is refused: accept its terms on the hub with the token's account\(detail)")
        case 404 where code == "RepoNotFound":
            return HubError(.notFound, "no repo \(file.repo) on the hub")
        case 404 where code == "RevisionNotFound":
            return HubError(.notFound, "no revision \(file.revision) in repo \(file.repo)")
        case 404:
            return HubError(.notFound, "no file \(file.file) in repo \(file.repo) at revision \(file.revision)")
        case 408, 429, 500...599:
            return HubError(.server, "the hub answered \(response.status.code) for \(file)\(detail)")
        default:
            return HubError(.badResponse, "the hub answered \(response.status.code) for \(file)\(detail)")
        }
    }
}
