internal import AsyncHTTPClient
internal import Foundation
internal import NIOCore
internal import NIOHTTP1

/// Reading the hub's answers: ranges, sizes, and refusals turned into errors that say what to do.
extension HubTransfer {
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
