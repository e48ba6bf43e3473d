internal import Foundation

// `/v1/completions` and `/v1/embeddings` bodies, decoded as leniently as the chat body.

/// `POST /v1/completions`.
struct OpenAICompletionRequest: Decodable, Sendable {
    /// A string, or a list of them; token lists are kept apart so they can be refused by name.
    enum Prompt: Sendable, Equatable {
        case texts([String])
        case tokens
    }

    var model: String?
    var prompt: Prompt?
    var stream = false
    var includeUsage = false
    var sampling = OpenAISamplingFields()
    var maxTokens: Int64?
    var stop: [String] = []
    var n: Int64?
    var bestOf: Int64?
    var echo: Bool?
    var suffix: String?
    var logprobs: Int64?
    var logitBias: [String: JSONValue]?

    private enum CodingKeys: String, CodingKey {
        case model, prompt, stream, stop, n, echo, suffix, logprobs
        case streamOptions = "stream_options"
        case maxTokens = "max_tokens"
        case bestOf = "best_of"
        case logitBias = "logit_bias"
    }

    private struct StreamOptions: Decodable {
        var includeUsage: Bool?
        private enum CodingKeys: String, CodingKey { case includeUsage = "include_usage" }
    }

    init(model: String?, prompt: Prompt?) {
        self.model = model
        self.prompt = prompt
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        model = try c.decodeIfPresent(String.self, forKey: .model)
        if try !c.contains(.prompt) || c.decodeNil(forKey: .prompt) {
            prompt = nil
        } else if let text = try? c.decode(String.self, forKey: .prompt) {
            prompt = .texts([text])
        } else if let texts = try? c.decode([String].self, forKey: .prompt) {
            prompt = .texts(texts)
        } else if (try? c.decode([Int].self, forKey: .prompt)) != nil || (try? c.decode([[Int]].self, forKey: .prompt)) != nil {
            prompt = .tokens
        } else {
            throw DecodingError.dataCorruptedError(
                forKey: .prompt, in: c, debugDescription: "expected a string or a list of strings")
        }
        stream = try c.decodeIfPresent(Bool.self, forKey: .stream) ?? false
        includeUsage = try c.decodeIfPresent(StreamOptions.self, forKey: .streamOptions)?.includeUsage ?? false
        sampling = try OpenAISamplingFields(from: decoder)
        maxTokens = try c.decodeOpenAIInt(forKey: .maxTokens)
        stop = try c.decodeOpenAIStrings(forKey: .stop) ?? []
        n = try c.decodeOpenAIInt(forKey: .n)
        bestOf = try c.decodeOpenAIInt(forKey: .bestOf)
        echo = try c.decodeIfPresent(Bool.self, forKey: .echo)
        suffix = try c.decodeIfPresent(String.self, forKey: .suffix)
        logprobs = try c.decodeOpenAIInt(forKey: .logprobs)
        logitBias = try c.decodeIfPresent([String: JSONValue].self, forKey: .logitBias)
    }
}

/// `POST /v1/embeddings`.
struct OpenAIEmbeddingsRequest: Decodable, Sendable {
    enum Input: Sendable, Equatable {
        case texts([String])
        case tokens
    }

    var model: String?
    var input: Input
    var encodingFormat: String?
    var dimensions: Int64?

    private enum CodingKeys: String, CodingKey {
        case model, input, dimensions
        case encodingFormat = "encoding_format"
    }

    init(model: String?, input: Input, encodingFormat: String? = nil) {
        self.model = model
        self.input = input
        self.encodingFormat = encodingFormat
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        model = try c.decodeIfPresent(String.self, forKey: .model)
        if let text = try? c.decode(String.self, forKey: .input) {
            input = .texts([text])
        } else if let texts = try? c.decode([String].self, forKey: .input) {
            input = .texts(texts)
        } else if (try? c.decode([Int].self, forKey: .input)) != nil || (try? c.decode([[Int]].self, forKey: .input)) != nil {
            input = .tokens
        } else if !c.contains(.input) {
            throw DecodingError.keyNotFound(
                CodingKeys.input, .init(codingPath: c.codingPath, debugDescription: "input is required"))
        } else {
            throw DecodingError.dataCorruptedError(
                forKey: .input, in: c, debugDescription: "expected a string, a list of strings or token lists")
        }
        encodingFormat = try c.decodeIfPresent(String.self, forKey: .encodingFormat)
        dimensions = try c.decodeOpenAIInt(forKey: .dimensions)
    }
}
