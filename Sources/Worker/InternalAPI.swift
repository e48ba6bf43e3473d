public import Engine

/// The worker's internal HTTP/1.1 API over a Unix socket. Internal and versioned: the gateway
/// and the supervisor are its only clients, and both ship in the same binary as the worker.
public enum InternalAPI {
    public static let generate = "/v1/generate"
    public static let embed = "/v1/embed"
    public static let tokenize = "/v1/tokenize"
    public static let health = "/v1/health"
    public static let status = "/v1/status"
    /// Prompt caches: GET reports the ready and the failed ones (`PromptCacheReport`); POST builds one.
    public static let caches = "/v1/caches"

    /// Bodies may carry long conversations and base64 images.
    public static let maxBodyBytes = 64 << 20
}

public struct EmbedRequest: Codable, Sendable, Equatable {
    public var inputs: [String]
    public init(inputs: [String]) { self.inputs = inputs }
}

public struct TokenizeRequest: Codable, Sendable, Equatable {
    public var text: String
    public init(text: String) { self.text = text }
}

public struct TokenizeResponse: Codable, Sendable, Equatable {
    public var tokens: [Int]
    public init(tokens: [Int]) { self.tokens = tokens }
}

public struct BuildCacheRequest: Codable, Sendable, Equatable {
    public var name: String
    public var system: String
    public init(name: String, system: String) {
        self.name = name
        self.system = system
    }
}

public struct HealthResponse: Codable, Sendable, Equatable {
    public var status: String
    public var model: String
    public var pid: Int32
    public init(status: String, model: String, pid: Int32) {
        self.status = status
        self.model = model
        self.pid = pid
    }
}

/// The body of every non-2xx answer: the engine's error with its code.
public struct ErrorBody: Codable, Sendable, Equatable {
    public var error: EngineError
    public init(error: EngineError) { self.error = error }
}
