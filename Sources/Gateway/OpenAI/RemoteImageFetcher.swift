internal import AsyncHTTPClient
internal import Foundation
internal import Manifest
internal import NIOCore
internal import NIOFoundationEssentialsCompat
internal import NIOHTTP1

/// Fetches the http(s) image URLs of an OpenAI chat request from the hosts the endpoint allows, within its
/// time and size limits, and puts each image in the request as a data URL: past this point the gateway holds
/// every image it passes on. Redirects are not followed (they could lead to a host that is not allowed).
enum RemoteImageFetcher {
    private static let client = HTTPClient(
        eventLoopGroupProvider: .singleton, configuration: HTTPClient.Configuration(redirectConfiguration: .disallow))

    static func hasURLs(_ request: OpenAIChatRequest) -> Bool {
        request.messages.contains { message in
            (message.content ?? []).contains { part in
                if case .imageURL(let url) = part { return isRemote(url) }
                return false
            }
        }
    }

    static func fetch(_ request: OpenAIChatRequest, policy: ResolvedRemoteImages) async throws(APIError) -> OpenAIChatRequest {
        var request = request
        for index in request.messages.indices {
            guard let parts = request.messages[index].content else { continue }
            var fetched: [OpenAIContentPart] = []
            for part in parts {
                guard case .imageURL(let url) = part, isRemote(url) else {
                    fetched.append(part)
                    continue
                }
                let data = try await download(url, policy: policy, param: "messages[\(index)].content")
                fetched.append(.imageURL("data:;base64," + data.base64EncodedString()))
            }
            request.messages[index].content = fetched
        }
        return request
    }

    private static func isRemote(_ url: String) -> Bool {
        let lower = url.prefix(8).lowercased()
        return lower.hasPrefix("http://") || lower.hasPrefix("https://")
    }

    private static func download(_ text: String, policy: ResolvedRemoteImages, param: String) async throws(APIError) -> Data {
        func refuse(_ why: String) -> APIError { OpenAIAdapter.invalid("cannot use image URL \(text): \(why)", param: param) }
        guard let url = URL(string: text), let host = url.host?.lowercased() else { throw refuse("it is not a valid URL") }
        guard policy.hosts.contains("*") || policy.hosts.contains(host) else {
            throw refuse("this endpoint fetches images only from \(policy.hosts.joined(separator: ", "))")
        }
        let deadline = NIODeadline.now() + .milliseconds(Int64(policy.timeout.milliseconds))
        do {
            let response = try await client.execute(HTTPClientRequest(url: text), deadline: deadline)
            guard response.status == .ok else { throw refuse("the server answered \(response.status.code)") }
            if let length = response.headers.first(name: "content-length").flatMap(Int.init), length > policy.maxBytes {
                throw refuse("it is \(length) bytes; this endpoint fetches at most \(policy.maxBytes)")
            }
            let body = try await response.body.collect(upTo: policy.maxBytes)
            return Data(buffer: body)
        } catch let error as APIError {
            throw error
        } catch is NIOTooManyBytesError {
            throw refuse("it is larger than the \(policy.maxBytes) bytes this endpoint fetches")
        } catch let error as HTTPClientError where error == .deadlineExceeded {
            throw refuse("no answer within \(policy.timeout.milliseconds) ms")
        } catch {
            throw refuse("\(error)")
        }
    }
}
