internal import Engine
internal import Foundation
internal import Hummingbird

/// Pure translation between OpenAI's wire types and the canonical engine types: no I/O, so every rule is
/// unit-tested on its own. What the engines cannot honour is refused with a 400 naming the parameter rather
/// than silently dropped, so a client never believes it got something it did not.
enum OpenAIAdapter {
    /// What the adapter needs to know about the model a request names.
    struct ModelTraits: Sendable, Equatable {
        var name: String
        /// `ServedModel.capabilities`: `.tools` and `.vision` gate tools and image parts.
        var capabilities: Set<ModelCapability>
        /// The manifest's answer limit, used when the request sets none.
        var maxTokens: Int?

        init(name: String, capabilities: Set<ModelCapability>, maxTokens: Int? = nil) {
            self.name = name
            self.capabilities = capabilities
            self.maxTokens = maxTokens
        }

        init(_ model: ServedModel) {
            self.init(name: model.name, capabilities: model.capabilities, maxTokens: model.maxTokens)
        }
    }

    // MARK: Chat

    static func generationRequest(_ r: OpenAIChatRequest, model: ModelTraits) throws(APIError) -> GenerationRequest {
        try requireSingleChoice(r.n)
        let logprobs = try chatLogprobs(r.logprobs, top: r.topLogprobs)
        try refuseLogitBias(r.logitBias)
        guard !r.messages.isEmpty else { throw invalid("messages must not be empty", param: "messages") }
        var messages: [ChatMessage] = []
        for (index, message) in r.messages.enumerated() {
            messages.append(try chatMessage(message, at: index, model: model))
        }
        do throws(ImageProblem) {
            try ImageFile.checkCount(messages.reduce(0) { $0 + $1.images.count })
        } catch {
            throw invalid(error.message, param: "messages")
        }
        let (tools, toolChoice) = try tools(r.tools, choice: r.toolChoice, model: model)
        return GenerationRequest(
            input: .messages(messages), sampling: try sampling(r.sampling),
            maxTokens: try maxTokens(r.maxTokens) ?? model.maxTokens,
            stop: r.stop.filter { !$0.isEmpty }, thinking: thinking(effort: r.reasoningEffort, enable: r.enableThinking),
            tools: tools, toolChoice: toolChoice, parallelToolCalls: r.parallelToolCalls ?? true,
            responseFormat: try responseFormat(r.responseFormat), promptCache: r.promptCache, lora: r.lora, logprobs: logprobs)
    }

    /// Chat's `logprobs: true` with `top_logprobs` alternatives (0 to 20), as the engine's count; nil when off.
    static func chatLogprobs(_ enabled: Bool?, top: Int64?) throws(APIError) -> Int? {
        if let top, !(0...Int64(TokenLogprob.maxAlternatives)).contains(top) {
            throw invalid("top_logprobs must be between 0 and \(TokenLogprob.maxAlternatives)", param: "top_logprobs")
        }
        guard enabled == true else {
            if let top, top > 0 { throw invalid("top_logprobs needs logprobs: true", param: "top_logprobs") }
            return nil
        }
        return Int(top ?? 0)
    }

    static func chatMessage(_ m: OpenAIMessage, at index: Int, model: ModelTraits) throws(APIError) -> ChatMessage {
        let param = "messages[\(index)]"
        let parts = m.content ?? []
        var texts: [String] = []
        var images: [ImageInput] = []
        for part in parts {
            switch part {
            case .text(let text): texts.append(text)
            case .imageURL(let url):
                guard m.role == "user" else {
                    throw invalid("images are only accepted in user messages", param: "\(param).content")
                }
                guard model.capabilities.contains(.vision) else {
                    throw unsupported(
                        "model '\(model.name)' does not take images; send text only", param: "\(param).content")
                }
                images.append(try image(fromURL: url, param: "\(param).content"))
            case .other(let type):
                throw unsupported("content parts of type '\(type)' are not supported", param: "\(param).content")
            }
        }
        let text = texts.joined(separator: "\n")
        switch m.role {
        case "system", "developer":
            return ChatMessage(role: .system, text: text)
        case "user":
            return ChatMessage(role: .user, text: text, images: images)
        case "assistant":
            var calls: [ToolCall] = []
            for (callIndex, call) in (m.toolCalls ?? []).enumerated() {
                calls.append(
                    ToolCall(id: call.id ?? "call_\(callIndex)", name: call.name, arguments: argumentsText(call.arguments)))
            }
            return ChatMessage(role: .assistant, text: text, toolCalls: calls)
        case "tool":
            return ChatMessage(role: .tool, text: text, toolResult: ToolResultReference(callID: m.toolCallID, name: m.name))
        case "function":
            // The deprecated function-calling API: a function's result, identified by name.
            return ChatMessage(role: .tool, text: text, toolResult: ToolResultReference(name: m.name))
        default:
            throw invalid(
                "unknown role '\(m.role)'; expected system, developer, user, assistant or tool", param: "\(param).role")
        }
    }

    /// Tool-call arguments as JSON object text, whichever way the client sent them.
    static func argumentsText(_ arguments: JSONValue?) -> String {
        switch arguments {
        case nil, .null?: "{}"
        case .string(let text)?: text
        case let value?: value.jsonText
        }
    }

    /// A `data:[<mime>][;base64],<data>` URI. URLs left here are ones the endpoint does not fetch
    /// (`RemoteImageFetcher` has replaced those it does).
    static func image(fromURL url: String, param: String) throws(APIError) -> ImageInput {
        guard url.hasPrefix("data:"), let comma = url.firstIndex(of: ",") else {
            throw unsupported(
                "this endpoint does not fetch image URLs; send the image as a base64 data: URI (an endpoint fetches "
                    + "from the hosts its manifest lists under remoteImages)", param: param)
        }
        let header = url[url.index(url.startIndex, offsetBy: 5)..<comma]
        guard header.hasSuffix(";base64"),
            let data = Data(base64Encoded: String(url[url.index(after: comma)...]), options: .ignoreUnknownCharacters)
        else {
            throw invalid("the image is not a valid base64 data: URI", param: param)
        }
        do throws(ImageProblem) {
            _ = try ImageFile.check(data)
        } catch {
            throw invalid(error.message, param: param)
        }
        let mime = header.dropLast(";base64".count)
        return ImageInput(data: data, mimeType: mime.isEmpty ? nil : String(mime))
    }

    /// `reasoning_effort: none` or `chat_template_kwargs.enable_thinking: false` turns thinking off; any other
    /// effort turns it on. Neither: the model's default.
    static func thinking(effort: String?, enable: Bool?) -> Bool? {
        if let enable { return enable }
        guard let effort else { return nil }
        return effort.lowercased() != "none"
    }

    /// `tool_choice` decides which tools the model sees and whether it must call one: `none` hides them,
    /// `required` makes a call obligatory, `{"type": "function", ...}` keeps only the named one and makes calling
    /// it obligatory. Engines without a grammar refuse the obligatory forms.
    static func tools(_ tools: [OpenAITool]?, choice: JSONValue?, model: ModelTraits) throws(APIError) -> (
        [ToolDefinition], ToolChoice
    ) {
        var definitions: [ToolDefinition] = []
        for (index, tool) in (tools ?? []).enumerated() {
            guard tool.type == "function" else {
                throw unsupported("tools of type '\(tool.type)' are not supported", param: "tools[\(index)].type")
            }
            guard !tool.name.isEmpty else { throw invalid("a tool needs a name", param: "tools[\(index)].function.name") }
            let parameters: String
            switch tool.parameters {
            case nil, .null?: parameters = #"{"type":"object","properties":{}}"#
            case let schema? where schema.isObject: parameters = schema.jsonText
            default: throw invalid("parameters must be a JSON Schema object", param: "tools[\(index)].function.parameters")
            }
            definitions.append(ToolDefinition(name: tool.name, description: tool.description ?? "", parameters: parameters))
        }
        var toolChoice = ToolChoice.auto
        switch choice {
        case nil, .null?, .string("auto")?: break
        case .string("none")?: definitions = []
        case .string("required")?:
            guard !definitions.isEmpty else { throw invalid("tool_choice required needs tools", param: "tool_choice") }
            toolChoice = .required
        case let value? where (value["function"]?["name"] ?? value["name"])?.stringValue != nil:
            // Chat nests the name under `function`; the Responses API has it at the top.
            let name = (value["function"]?["name"] ?? value["name"])?.stringValue ?? ""
            definitions = definitions.filter { $0.name == name }
            guard !definitions.isEmpty else {
                throw invalid("tool_choice names '\(name)', which is not in tools", param: "tool_choice")
            }
            toolChoice = .function(name)
        default:
            throw invalid("tool_choice must be none, auto, required or {\"type\": \"function\", ...}", param: "tool_choice")
        }
        if !definitions.isEmpty, !model.capabilities.contains(.tools) {
            throw unsupported("model '\(model.name)' does not support tools", param: "tools")
        }
        return (definitions, toolChoice)
    }

    /// `json_object` and `json_schema` are passed to the engine, which constrains the output or refuses the
    /// request (an engine error, answered as a 400); `text` is the default.
    static func responseFormat(_ format: OpenAIResponseFormat?) throws(APIError) -> ResponseFormat? {
        guard let format else { return nil }
        if let schema = format.schema, !schema.isObject, schema != .null {
            throw invalid("the JSON schema must be an object", param: "response_format")
        }
        let schema = format.schema.flatMap { $0 == .null ? nil : $0.jsonText }
        switch format.type {
        case "text": return nil
        case "json_object":
            // llama.cpp's extension: a schema next to json_object.
            return schema.map { ResponseFormat(kind: .jsonSchema, schema: $0) } ?? ResponseFormat(kind: .jsonObject)
        case "json_schema":
            guard format.hasJSONSchema || schema != nil else {
                throw invalid(
                    "response_format of type json_schema needs a json_schema object", param: "response_format.json_schema")
            }
            return schema.map { ResponseFormat(kind: .jsonSchema, schema: $0) } ?? ResponseFormat(kind: .jsonObject)
        default:
            throw invalid(
                "unknown response_format type '\(format.type)'; expected text, json_object or json_schema",
                param: "response_format.type")
        }
    }

    // MARK: Completions

    static func generationRequest(_ r: OpenAICompletionRequest, model: ModelTraits? = nil) throws(APIError)
        -> GenerationRequest
    {
        try requireSingleChoice(r.n)
        if let bestOf = r.bestOf, bestOf > 1 { throw unsupported("best_of > 1 is not supported", param: "best_of") }
        if r.echo == true { throw unsupported("echo is not supported", param: "echo") }
        if let suffix = r.suffix, !suffix.isEmpty {
            throw unsupported("suffix (fill-in-the-middle) is not supported", param: "suffix")
        }
        if let logprobs = r.logprobs, !(0...5).contains(logprobs) {
            throw invalid("logprobs must be between 0 and 5", param: "logprobs")
        }
        try refuseLogitBias(r.logitBias)
        let prompt: String
        switch r.prompt {
        case nil: throw invalid("prompt is required", param: "prompt")
        case .tokens?:
            throw unsupported("token-array prompts are not supported; send the prompt as text", param: "prompt")
        case .texts(let texts)?:
            guard texts.count == 1 else {
                throw unsupported(
                    texts.isEmpty ? "prompt must not be an empty list" : "one prompt per request; send several requests",
                    param: "prompt")
            }
            prompt = texts[0]
        }
        // A legacy completion continues the text as is: no reasoning split, no tool parsing.
        return GenerationRequest(
            input: .prompt(prompt), sampling: try sampling(r.sampling),
            maxTokens: try maxTokens(r.maxTokens) ?? model?.maxTokens,
            stop: r.stop.filter { !$0.isEmpty }, thinking: false, logprobs: r.logprobs.map { Int($0) })
    }

    // MARK: Embeddings

    enum EmbeddingEncoding: Sendable, Equatable { case float, base64 }

    /// The texts to embed and how to encode the vectors.
    static func embeddingInputs(_ r: OpenAIEmbeddingsRequest) throws(APIError) -> (texts: [String], encoding: EmbeddingEncoding) {
        if r.dimensions != nil {
            throw unsupported("dimensions is not supported: the model's embeddings have a fixed size", param: "dimensions")
        }
        let encoding: EmbeddingEncoding
        switch r.encodingFormat {
        case nil, "float": encoding = .float
        case "base64": encoding = .base64
        case let other?: throw invalid("unknown encoding_format '\(other)'; expected float or base64", param: "encoding_format")
        }
        switch r.input {
        case .tokens:
            // Token ids are the client's tokenizer's (tiktoken for LangChain), not the model's; there is no honest
            // way to turn them back into text.
            throw unsupported(
                "token-array input is not supported; send text (LangChain: check_embedding_ctx_length=False)", param: "input")
        case .texts(let texts):
            guard !texts.isEmpty else { throw invalid("input must not be empty", param: "input") }
            if let empty = texts.firstIndex(where: { $0.isEmpty }) {
                throw invalid("input must not contain empty strings", param: texts.count == 1 ? "input" : "input[\(empty)]")
            }
            return (texts, encoding)
        }
    }

    // MARK: Shared

    static func sampling(_ f: OpenAISamplingFields) throws(APIError) -> Sampling {
        func check(_ value: Double?, _ range: ClosedRange<Double>, _ param: String) throws(APIError) {
            if let value, !range.contains(value) {
                throw invalid("\(param) must be between \(range.lowerBound) and \(range.upperBound)", param: param)
            }
        }
        if let t = f.temperature, t < 0 { throw invalid("temperature must not be negative", param: "temperature") }
        try check(f.topP, 0...1, "top_p")
        try check(f.frequencyPenalty, -2...2, "frequency_penalty")
        try check(f.presencePenalty, -2...2, "presence_penalty")
        try check(f.minP, 0...1, "min_p")
        if let k = f.topK, k < 0 { throw invalid("top_k must not be negative", param: "top_k") }
        if let p = f.repeatPenalty, p < 0 { throw invalid("repeat_penalty must not be negative", param: "repeat_penalty") }
        if let n = f.repeatLastN, n < 0 { throw invalid("repeat_last_n must not be negative", param: "repeat_last_n") }
        return Sampling(
            temperature: f.temperature, topK: f.topK.map { Int(clamping: $0) }, topP: f.topP, minP: f.minP,
            repeatPenalty: f.repeatPenalty, repeatLastN: f.repeatLastN.map { Int(clamping: $0) },
            frequencyPenalty: f.frequencyPenalty, presencePenalty: f.presencePenalty,
            // OpenAI seeds are 64-bit; the engines take 32 bits. -1 becomes 0xFFFFFFFF, llama.cpp's "random".
            seed: f.seed.map { UInt32(truncatingIfNeeded: $0) })
    }

    static func maxTokens(_ value: Int64?) throws(APIError) -> Int? {
        guard let value else { return nil }
        guard value >= 1 else { throw invalid("max_tokens must be at least 1", param: "max_tokens") }
        return Int(clamping: value)
    }

    static func requireSingleChoice(_ n: Int64?) throws(APIError) {
        guard let n, n != 1 else { return }
        if n < 1 { throw invalid("n must be at least 1", param: "n") }
        throw unsupported("only n=1 is supported; send several requests for several answers", param: "n")
    }

    static func refuseLogitBias(_ bias: [String: JSONValue]?) throws(APIError) {
        if let bias, !bias.isEmpty { throw unsupported("logit_bias is not supported", param: "logit_bias") }
    }

    static func invalid(_ message: String, param: String?) -> APIError {
        APIError.badRequest(message, .openAI, param: param)
    }

    /// A valid request for something the engines cannot do (OpenAI answers these with `unsupported_parameter`).
    static func unsupported(_ message: String, param: String) -> APIError {
        APIError(.openAI, .badRequest, message, param: param, code: "unsupported_parameter")
    }
}
