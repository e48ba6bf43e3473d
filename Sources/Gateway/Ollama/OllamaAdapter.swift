internal import Engine
internal import Foundation
internal import Worker

/// What the adapter needs to know about the served model (kept apart from `ServedModel`, which carries an
/// engine, so the translation stays a pure function that tests can call without one).
struct OllamaModelTraits: Sendable, Equatable {
    var name: String
    var capabilities: Set<ModelCapability>
    /// The model's default answer limit, used when the request sets none.
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

/// Ollama wire requests to canonical `GenerationRequest`s. Everything that cannot be honoured is refused with
/// a 400 naming the field, never dropped: a client must not get an answer to a different question.
enum OllamaAdapter {
    static func chatRequest(_ wire: OllamaChatRequest, for model: OllamaModelTraits) throws(OllamaAdapterError)
        -> GenerationRequest
    {
        let logprobs = try logprobs(wire.logprobs, top: wire.topLogprobs)
        var messages: [ChatMessage] = []
        for (index, message) in (wire.messages ?? []).enumerated() {
            messages.append(try chatMessage(message, at: index))
        }
        if messages.contains(where: { !$0.images.isEmpty }) { try require(.vision, "images", model) }
        for (index, message) in messages.enumerated() {
            try checkImages(message.images, field: "messages[\(index)].images")
        }
        do throws(ImageProblem) {
            try ImageFile.checkCount(messages.reduce(0) { $0 + $1.images.count })
        } catch {
            throw .invalid(error.message)
        }
        let tools = try (wire.tools ?? []).map { tool throws(OllamaAdapterError) in try toolDefinition(tool) }
        if !tools.isEmpty { try require(.tools, "tools", model) }
        var request = try request(
            .messages(messages), options: wire.options, format: wire.format, think: wire.think, tools: tools, model: model)
        request.promptCache = wire.promptCache
        request.logprobs = logprobs
        return request
    }

    static func generateRequest(_ wire: OllamaGenerateRequest, for model: OllamaModelTraits) throws(OllamaAdapterError)
        -> GenerationRequest
    {
        let logprobs = try logprobs(wire.logprobs, top: wire.topLogprobs)
        if let suffix = wire.suffix, !suffix.isEmpty {
            throw .invalid("'suffix' (fill-in-the-middle) is not supported by this server")
        }
        if let template = wire.template, !template.isEmpty {
            throw .invalid("'template' is not supported: the model's own chat template is always used (or none with raw)")
        }
        // `context` comes back only from servers that return it; this one never does, so a non-empty one
        // belongs to another conversation that cannot be continued here.
        if let context = wire.context, !context.isEmpty {
            throw .invalid("'context' is not supported; send the conversation to /api/chat as messages instead")
        }
        let images = try decodeImages(wire.images ?? [], field: "images")
        if !images.isEmpty { try require(.vision, "images", model) }
        try checkImages(images, field: "images")
        do throws(ImageProblem) {
            try ImageFile.checkCount(images.count)
        } catch {
            throw .invalid(error.message)
        }
        let prompt = wire.prompt ?? ""
        let input: GenerationRequest.Input
        if wire.raw == true {
            if let system = wire.system, !system.isEmpty {
                throw .invalid("'system' has no effect with raw: true; put it in the prompt")
            }
            if !images.isEmpty { throw .invalid("'images' need a templated prompt; they cannot be sent with raw: true") }
            input = .prompt(prompt)
        } else {
            var messages: [ChatMessage] = []
            if let system = wire.system, !system.isEmpty { messages.append(.system(system)) }
            messages.append(ChatMessage(role: .user, text: prompt, images: images))
            input = .messages(messages)
        }
        var request = try request(input, options: wire.options, format: wire.format, think: wire.think, tools: [], model: model)
        request.promptCache = wire.promptCache
        request.logprobs = logprobs
        return request
    }

    private static func request(
        _ input: GenerationRequest.Input, options map: [String: JSONValue]?, format: JSONValue?, think: OllamaThink?,
        tools: [ToolDefinition], model: OllamaModelTraits
    ) throws(OllamaAdapterError) -> GenerationRequest {
        let options = try OllamaOptions(map)
        return GenerationRequest(
            input: input, sampling: options.sampling,
            maxTokens: options.maxTokensSet ? options.maxTokens : model.maxTokens, stop: options.stop,
            thinking: try thinking(think, model), tools: tools, responseFormat: try responseFormat(format))
    }

    // MARK: Fields

    /// `format`: `"json"` or a JSON schema object. The engine constrains the output (or refuses the request).
    static func responseFormat(_ format: JSONValue?) throws(OllamaAdapterError) -> ResponseFormat? {
        switch format {
        case nil, .null?, .string("")?: return nil
        case .string("json")?: return ResponseFormat(kind: .jsonObject)
        case .object(let schema)?: return ResponseFormat(kind: .jsonSchema, schema: JSONValue.object(schema).jsonText)
        default: throw .invalid("'format' must be \"json\" or a JSON schema object")
        }
    }

    /// `think`: a bool, or a level for models that take one. The canonical request has no levels: any level
    /// turns thinking on.
    static func thinking(_ think: OllamaThink?, _ model: OllamaModelTraits) throws(OllamaAdapterError) -> Bool? {
        let enabled: Bool
        switch think {
        case nil: return nil
        case .enabled(let value)?: enabled = value
        case .level(let level)?:
            switch level {
            case "low", "medium", "high", "max": enabled = true
            case "none": enabled = false
            default: throw .invalid("'think' must be true, false, \"low\", \"medium\", \"high\" or \"max\"")
            }
        }
        // Ollama refuses to think on a model that cannot, rather than answering without thinking.
        if enabled { try require(.thinking, "think", model) }
        return enabled
    }

    static func chatMessage(_ wire: OllamaMessage, at index: Int) throws(OllamaAdapterError) -> ChatMessage {
        guard let role = ChatMessage.Role(rawValue: wire.role) else {
            throw .invalid("messages[\(index)].role must be system, user, assistant or tool (got '\(wire.role)')")
        }
        var calls: [ToolCall] = []
        for (callIndex, call) in (wire.toolCalls ?? []).enumerated() {
            calls.append(toolCall(call, fallbackID: "call_\(callIndex)"))
        }
        let result =
            role == .tool && (wire.toolName != nil || wire.toolCallID != nil)
            ? ToolResultReference(callID: wire.toolCallID, name: wire.toolName) : nil
        // `thinking` of an earlier assistant turn is not sent back to the model (templates drop it too).
        return ChatMessage(
            role: role, text: wire.content ?? "",
            images: try decodeImages(wire.images ?? [], field: "messages[\(index)].images"), toolCalls: calls,
            toolResult: result)
    }

    static func toolDefinition(_ wire: OllamaTool) throws(OllamaAdapterError) -> ToolDefinition {
        if let type = wire.type, type != "function" { throw .invalid("tools: only type 'function' is supported") }
        guard !wire.function.name.isEmpty else { throw .invalid("tools: every function needs a name") }
        return ToolDefinition(
            name: wire.function.name, description: wire.function.description ?? "",
            parameters: wire.function.parameters.map(\.jsonText) ?? "{}")
    }

    /// Arguments arrive as an object; the canonical call keeps JSON text. A string is taken as that text
    /// (OpenAI-style clients talking to the native API send one).
    static func toolCall(_ wire: OllamaToolCall, fallbackID: String) -> ToolCall {
        let arguments: String
        switch wire.function.arguments {
        case nil, .null?: arguments = "{}"
        case .string(let text)?: arguments = text
        case let value?: arguments = value.jsonText
        }
        return ToolCall(id: wire.id ?? fallbackID, name: wire.function.name, arguments: arguments)
    }

    static func decodeImages(_ images: [String], field: String) throws(OllamaAdapterError) -> [ImageInput] {
        try images.enumerated().map { index, text throws(OllamaAdapterError) in
            guard let data = Data(base64Encoded: text, options: .ignoreUnknownCharacters), !data.isEmpty else {
                throw .invalid("\(field)[\(index)] is not base64 image data")
            }
            return ImageInput(data: data)
        }
    }

    /// Formats and sizes, once the model is known to take images (so a model without vision keeps saying so).
    static func checkImages(_ images: [ImageInput], field: String) throws(OllamaAdapterError) {
        for (index, image) in images.enumerated() {
            do throws(ImageProblem) {
                _ = try ImageFile.check(image.data)
            } catch {
                throw .invalid("\(field)[\(index)]: \(error.message)")
            }
        }
    }

    static func require(_ capability: ModelCapability, _ field: String, _ model: OllamaModelTraits)
        throws(OllamaAdapterError)
    {
        guard model.capabilities.contains(capability) else {
            let what = capability == .vision ? "images" : capability.rawValue
            throw .invalid("model '\(model.name)' does not support \(what) ('\(field)')")
        }
    }

    /// `logprobs: true` with `top_logprobs` alternatives (0 to 20), as the engine's count; nil when off.
    static func logprobs(_ enabled: Bool?, top: Int?) throws(OllamaAdapterError) -> Int? {
        if let top, !(0...TokenLogprob.maxAlternatives).contains(top) {
            throw .invalid("'top_logprobs' must be between 0 and \(TokenLogprob.maxAlternatives)")
        }
        guard enabled == true else {
            if let top, top > 0 { throw .invalid("'top_logprobs' needs 'logprobs': true") }
            return nil
        }
        return top ?? 0
    }

    /// `keep_alive` as the scheduler applies it: zero unloads after the request, negative keeps the model
    /// loaded, a duration keeps it that long after the request. Invalid durations are refused, as Ollama does.
    static func keepAlive(_ keepAlive: OllamaKeepAlive?) throws(OllamaAdapterError) -> KeepAlive? {
        guard let keepAlive else { return nil }
        return KeepAlive(seconds: try OllamaDuration.seconds(keepAlive))
    }
}
