/// The one error type every engine throws. `code` is stable and machine-readable, so the worker and the
/// gateway can map it to an HTTP status and each API's error shape without parsing `message`.
public struct EngineError: Error, Sendable, Codable, Equatable, CustomStringConvertible {
    public struct Code: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// The runtime library could not be opened.
        public static let libraryNotFound = Code(rawValue: "library_not_found")
        /// The runtime library opened but lacks a symbol this build needs (version mismatch).
        public static let symbolMissing = Code(rawValue: "symbol_missing")
        public static let modelLoadFailed = Code(rawValue: "model_load_failed")
        public static let contextFailed = Code(rawValue: "context_failed")
        /// The prompt does not fit in one request's context. Refused before any decoding.
        public static let promptTooLong = Code(rawValue: "prompt_too_long")
        /// The request is malformed or asks for something this engine cannot do.
        public static let invalidRequest = Code(rawValue: "invalid_request")
        public static let unsupported = Code(rawValue: "unsupported")
        public static let templateFailed = Code(rawValue: "template_failed")
        public static let decodeFailed = Code(rawValue: "decode_failed")
        public static let promptCacheFailed = Code(rawValue: "prompt_cache_failed")
        public static let unknownPromptCache = Code(rawValue: "unknown_prompt_cache")
        /// Too many requests are already waiting for the runtime (HTTP 429).
        public static let busy = Code(rawValue: "busy")
        /// The engine is shutting down or its thread has stopped.
        public static let unavailable = Code(rawValue: "unavailable")
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}
