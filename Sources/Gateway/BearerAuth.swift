internal import Foundation
internal import Hummingbird

/// The tokens an endpoint accepts, read from the manifest's tokens file: one per line, blank lines and
/// `#` comments ignored.
public struct BearerTokens: Sendable {
    let tokens: [[UInt8]]

    public init(_ tokens: [String]) { self.tokens = tokens.map { Array($0.utf8) } }

    public init(contentsOf path: String) throws {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        self.init(
            text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
                .filter { !$0.isEmpty && !$0.hasPrefix("#") })
    }

    /// Compares against every token in full, so timing reveals neither which token nor how much matched.
    /// Lengths are compared whole and every byte of the longer side is read: a candidate that is a token
    /// followed by anything is a different token.
    public func accepts(_ candidate: Substring) -> Bool {
        let bytes = Array(candidate.utf8)
        var matched = false
        for token in tokens {
            var difference: UInt8 = token.count == bytes.count ? 0 : 1
            for index in 0..<max(token.count, bytes.count, 1) {
                let left = index < token.count ? token[index] : 0
                let right = index < bytes.count ? bytes[index] : 0
                difference |= left ^ right
            }
            matched = matched || difference == 0
        }
        return matched
    }

    /// Whether an `Authorization` header carries one of the tokens (`Bearer <token>`, the scheme in any case).
    public func accepts(authorization header: String?) -> Bool {
        let header = header ?? ""
        let prefix = "Bearer "
        return header.count > prefix.count && header.prefix(prefix.count).lowercased() == prefix.lowercased()
            && accepts(header.dropFirst(prefix.count))
    }
}

/// Requires `Authorization: Bearer <token>` (Ollama clients send the same header). The 401 says only that
/// a valid token is needed, never whether one was missing, malformed or wrong.
struct BearerAuth<Context: RequestContext>: RouterMiddleware {
    let tokens: BearerTokens

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response
    {
        if request.method == .options { return try await next(request, context) }
        if tokens.accepts(authorization: request.headers[.authorization]) { return try await next(request, context) }
        var error = APIError(
            GatewayServer.style(forPath: request.uri.path), .unauthorized, "a valid bearer token is required",
            code: "invalid_api_key")
        error.type = "invalid_request_error"
        var response = try error.response(from: request, context: context)
        response.headers[.wwwAuthenticate] = "Bearer"
        return response
    }
}

/// CORS for the origins the manifest lists: answers preflights and marks responses for allowed origins.
struct CORSOrigins<Context: RequestContext>: RouterMiddleware {
    let origins: [String]

    func allowed(_ origin: String) -> String? {
        if origins.contains("*") { return "*" }
        return origins.contains(origin) ? origin : nil
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response
    {
        guard let origin = request.headers[.origin], let allow = allowed(origin) else { return try await next(request, context) }
        var response: Response
        if request.method == .options, request.headers[.accessControlRequestMethod] != nil {
            response = Response(status: .noContent)
            response.headers[.accessControlAllowMethods] = "GET, POST, DELETE, HEAD, OPTIONS"
            response.headers[.accessControlAllowHeaders] =
                request.headers[.accessControlRequestHeaders] ?? "authorization, content-type"
            response.headers[.accessControlMaxAge] = "600"
        } else {
            response = try await next(request, context)
        }
        response.headers[.accessControlAllowOrigin] = allow
        if allow != "*" { response.headers[.vary] = "Origin" }
        return response
    }
}
