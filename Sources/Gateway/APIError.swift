public import Engine
public import Foundation
public import Hummingbird
internal import NIOCore
public import Worker

/// An error answered to a client, in the shape of the API it called.
///
/// OpenAI: `{"error": {"message", "type", "param", "code"}}`; Ollama: `{"error": "message"}`. Thrown from any
/// handler, it renders itself (Hummingbird's `HTTPResponseError`).
public struct APIError: Error, HTTPResponseError, Sendable {
    public enum Style: Sendable { case openAI, ollama }

    public var style: Style
    public var status: HTTPResponse.Status
    public var message: String
    /// OpenAI's `type`, e.g. invalid_request_error.
    public var type: String
    public var param: String?
    /// OpenAI's `code`, e.g. model_not_found.
    public var code: String?
    /// Seconds, sent as Retry-After (429/503).
    public var retryAfter: Int?

    public init(
        _ style: Style, _ status: HTTPResponse.Status, _ message: String, type: String? = nil, param: String? = nil,
        code: String? = nil, retryAfter: Int? = nil
    ) {
        self.style = style
        self.status = status
        self.message = message
        self.type = type ?? Self.defaultType(for: status)
        self.param = param
        self.code = code
        self.retryAfter = retryAfter
    }

    static func defaultType(for status: HTTPResponse.Status) -> String {
        switch status.code {
        case 401: "authentication_error"
        case 403: "permission_error"
        case 404: "not_found_error"
        case 413, 400, 422: "invalid_request_error"
        case 429: "rate_limit_error"
        case 503: "service_unavailable"
        default: "server_error"
        }
    }

    /// The JSON body alone, for errors that arrive inside a stream.
    var body: [String: Any] {
        switch style {
        case .ollama: return ["error": message]
        case .openAI:
            return [
                "error": ["message": message, "type": type, "param": param ?? NSNull(), "code": code ?? NSNull()] as [String: Any]
            ]
        }
    }

    public var bodyData: Data { (try? JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])) ?? Data() }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let retryAfter { headers[.retryAfter] = "\(retryAfter)" }
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bodyData)))
    }

    // MARK: Common errors

    public static func modelNotFound(_ name: String, _ style: Style) -> APIError {
        let message =
            style == .ollama
            ? "model '\(name)' not found; add it to the manifest to serve it"
            : "The model '\(name)' does not exist or is not served by this endpoint"
        return APIError(style, .notFound, message, param: "model", code: "model_not_found")
    }

    public static func badRequest(_ message: String, _ style: Style, param: String? = nil) -> APIError {
        APIError(style, .badRequest, message, param: param, code: "invalid_request")
    }

    /// An engine's refusal or failure, with the status a client can act on.
    public static func engine(_ error: EngineError, _ style: Style) -> APIError {
        switch error.code {
        case .promptTooLong: APIError(style, .badRequest, error.message, code: "context_length_exceeded")
        case .invalidRequest, .unknownPromptCache, .unsupported:
            APIError(style, .badRequest, error.message, code: error.code.rawValue)
        case .unavailable: APIError(style, .serviceUnavailable, error.message, code: "model_unavailable", retryAfter: 1)
        case .busy: APIError(style, .tooManyRequests, error.message, code: "queue_full", retryAfter: 1)
        default: APIError(style, .internalServerError, error.message, code: error.code.rawValue)
        }
    }

    /// Why a model could not be loaded for a request: a load that failed or ran out of time, or no room
    /// (503, try again later); a model larger than the whole budget (503 without a retry); a pinned one (400).
    public static func residency(_ refusal: ResidencyRefusal, _ style: Style) -> APIError {
        switch refusal.reason {
        case .loadFailed, .noRoom:
            APIError(style, .serviceUnavailable, refusal.message, code: "model_unavailable", retryAfter: refusal.retryAfter ?? 5)
        case .tooLarge: APIError(style, .serviceUnavailable, refusal.message, code: "model_too_large")
        case .pinned: APIError(style, .badRequest, refusal.message, code: "model_pinned")
        case .unknown: APIError(style, .notFound, refusal.message, code: "model_not_found")
        }
    }
}
