internal import AsyncHTTPClient
internal import Foundation
internal import NIOCore
internal import NIOHTTP1

/// One attempt at one file: `GET {endpoint}/{repo}/resolve/{revision}/{file}`, redirects followed by hand
/// (the token goes only to the endpoint's own origin), the body streamed into `blobs/<etag>.incomplete`
/// from where an earlier attempt stopped, then published.
struct HubTransfer {
    let downloader: HubDownloader
    let file: HubFile
    let http: HTTPClient

    var cache: HubCacheLayout { downloader.cache }
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
}
