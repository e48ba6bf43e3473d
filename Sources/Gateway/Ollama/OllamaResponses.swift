internal import Engine
internal import Foundation

/// The counts and durations (nanoseconds, like all of Ollama's durations) of a final object. Ollama flattens
/// them into the response object itself, so chunks encode them into their own container.
struct OllamaMetrics: Sendable, Equatable, Encodable {
    var totalDuration: Int64
    var loadDuration: Int64
    var promptEvalCount: Int
    var promptEvalDuration: Int64
    var evalCount: Int
    var evalDuration: Int64

    enum CodingKeys: String, CodingKey {
        case totalDuration = "total_duration"
        case loadDuration = "load_duration"
        case promptEvalCount = "prompt_eval_count"
        case promptEvalDuration = "prompt_eval_duration"
        case evalCount = "eval_count"
        case evalDuration = "eval_duration"
    }
}

/// One `/api/chat` object: a delta while `done` is false, the last one with the metrics.
struct OllamaChatResponse: Sendable, Equatable, Encodable {
    var model: String
    var createdAt: String
    var message: OllamaMessage
    var done: Bool
    var logprobs: [OllamaLogprob]?
    var doneReason: String?
    var metrics: OllamaMetrics?

    enum CodingKeys: String, CodingKey {
        case model, message, done, logprobs
        case createdAt = "created_at"
        case doneReason = "done_reason"
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(model, forKey: .model)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encode(message, forKey: .message)
        try c.encodeIfPresent(logprobs, forKey: .logprobs)
        try c.encode(done, forKey: .done)
        try c.encodeIfPresent(doneReason, forKey: .doneReason)
        try metrics?.encode(to: encoder)
    }
}

/// One `/api/generate` object: `response` holds the text delta (empty on the final object).
struct OllamaGenerateResponse: Sendable, Equatable, Encodable {
    var model: String
    var createdAt: String
    var response: String
    var thinking: String?
    var done: Bool
    var logprobs: [OllamaLogprob]?
    var doneReason: String?
    var metrics: OllamaMetrics?

    enum CodingKeys: String, CodingKey {
        case model, response, thinking, done, logprobs
        case createdAt = "created_at"
        case doneReason = "done_reason"
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(model, forKey: .model)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encode(response, forKey: .response)
        try c.encodeIfPresent(thinking, forKey: .thinking)
        try c.encodeIfPresent(logprobs, forKey: .logprobs)
        try c.encode(done, forKey: .done)
        try c.encodeIfPresent(doneReason, forKey: .doneReason)
        try metrics?.encode(to: encoder)
    }
}

struct OllamaEmbedResponse: Sendable, Equatable, Encodable {
    var model: String
    var embeddings: [[Float]]
    var totalDuration: Int64
    var loadDuration: Int64
    var promptEvalCount: Int

    enum CodingKeys: String, CodingKey {
        case model, embeddings
        case totalDuration = "total_duration"
        case loadDuration = "load_duration"
        case promptEvalCount = "prompt_eval_count"
    }
}

struct OllamaEmbeddingsResponse: Sendable, Equatable, Encodable {
    var embedding: [Float]
}

/// A `/api/pull` progress line.
struct OllamaProgress: Sendable, Equatable, Encodable {
    var status: String
    var digest: String?
    var total: Int64?
    var completed: Int64?
}

/// `details` of tags, show and ps.
struct OllamaModelDetails: Sendable, Equatable, Encodable {
    var parentModel: String
    var format: String
    var family: String
    var families: [String]?
    var parameterSize: String
    var quantizationLevel: String

    enum CodingKeys: String, CodingKey {
        case format, family, families
        case parentModel = "parent_model"
        case parameterSize = "parameter_size"
        case quantizationLevel = "quantization_level"
    }
}

struct OllamaTagsResponse: Sendable, Equatable, Encodable {
    struct Model: Sendable, Equatable, Encodable {
        var name: String
        var model: String
        var modifiedAt: String
        var size: Int64
        var digest: String
        var details: OllamaModelDetails
        var capabilities: [String]

        enum CodingKeys: String, CodingKey {
            case name, model, size, digest, details, capabilities
            case modifiedAt = "modified_at"
        }
    }

    var models: [Model]
}

struct OllamaShowResponse: Sendable, Equatable, Encodable {
    var modelfile: String
    var parameters: String
    var template: String
    var details: OllamaModelDetails
    var modelInfo: [String: JSONValue]
    var capabilities: [String]
    var modifiedAt: String

    enum CodingKeys: String, CodingKey {
        case modelfile, parameters, template, details, capabilities
        case modelInfo = "model_info"
        case modifiedAt = "modified_at"
    }
}

struct OllamaPsResponse: Sendable, Equatable, Encodable {
    struct Model: Sendable, Equatable, Encodable {
        var name: String
        var model: String
        var size: Int64
        var digest: String
        var details: OllamaModelDetails
        var expiresAt: String
        var sizeVRAM: Int64
        var contextLength: Int

        enum CodingKeys: String, CodingKey {
            case name, model, size, digest, details
            case expiresAt = "expires_at"
            case sizeVRAM = "size_vram"
            case contextLength = "context_length"
        }
    }

    var models: [Model]
}

/// Ollama's JSON: compact, sorted keys (stable output for tests and caches), slashes unescaped.
enum OllamaEncoding {
    static func data(_ value: some Encodable) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Only the types above are encoded, none of which can fail (no non-finite floats reach them).
        return (try? encoder.encode(value)) ?? Data("{}".utf8)
    }

    /// One NDJSON line.
    static func line(_ value: some Encodable) -> Data { data(value) + Data("\n".utf8) }

    /// RFC 3339 with fractional seconds, as Go's `time.Time` marshals.
    static func timestamp(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }
}

/// One generated token's log-probability as Ollama sends it: `{token, logprob, bytes, top_logprobs}`.
struct OllamaLogprob: Sendable, Equatable, Encodable {
    struct Alternative: Sendable, Equatable, Encodable {
        var token: String
        var logprob: Double
        var bytes: [Int]
    }

    var token: String
    var logprob: Double
    var bytes: [Int]
    var topLogprobs: [Alternative]

    enum CodingKeys: String, CodingKey {
        case token, logprob, bytes
        case topLogprobs = "top_logprobs"
    }

    init(_ entry: TokenLogprob) {
        token = entry.sampled.token
        logprob = entry.sampled.logprob
        bytes = entry.sampled.bytes.map(Int.init)
        topLogprobs = entry.top.map { Alternative(token: $0.token, logprob: $0.logprob, bytes: $0.bytes.map(Int.init)) }
    }
}
