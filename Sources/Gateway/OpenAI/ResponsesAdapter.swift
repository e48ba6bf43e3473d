internal import Engine
internal import Foundation

/// The Responses API mapped onto chat: `instructions` and `input` items become chat messages, function tools
/// and `text.format` become chat's tools and response format, and the chat adapter does the rest (so every
/// rule and refusal is the same). Only stateless use is served: nothing is stored, so state a request points
/// to (`previous_response_id`, a conversation, item references) is refused.
enum ResponsesAdapter {
    /// The log-probabilities `include` asks for; other `include` values need state or tools this server lacks.
    static let logprobsInclude = "message.output_text.logprobs"

    /// The canonical request; the chat adapter's refusals name the Responses field they come from.
    static func generationRequest(_ r: ResponsesRequest, model: OpenAIAdapter.ModelTraits) throws(APIError)
        -> GenerationRequest
    {
        let (chat, sources) = try chatRequest(r)
        do throws(APIError) {
            return try OpenAIAdapter.generationRequest(chat, model: model)
        } catch {
            var error = error
            if let param = error.param, param.hasPrefix("messages[") {
                let index = param.dropFirst("messages[".count).prefix { $0.isNumber }
                let rest = param.dropFirst("messages[".count + index.count + 1)
                if let at = Int(index), sources.indices.contains(at) { error.param = sources[at] + rest }
            } else if error.param == "messages" {
                error.param = "input"
            }
            throw error
        }
    }

    /// The chat request, and for each of its messages the Responses field it was made from.
    static func chatRequest(_ r: ResponsesRequest) throws(APIError) -> (OpenAIChatRequest, [String]) {
        try refuseState(r)
        var chat = OpenAIChatRequest(model: r.model, messages: [])
        var sources: [String] = []
        if let instructions = r.instructions, !instructions.isEmpty {
            chat.messages.append(OpenAIMessage(role: "system", content: [.text(instructions)]))
            sources.append("instructions")
        }
        switch r.input {
        case .string(let text)?:
            chat.messages.append(OpenAIMessage(role: "user", content: [.text(text)]))
            sources.append("input")
        case .array(let items)?:
            for (index, item) in items.enumerated() {
                try append(item, at: "input[\(index)]", to: &chat.messages)
                sources += Array(repeating: "input[\(index)]", count: chat.messages.count - sources.count)
            }
        default: throw invalid("input must be a string or a list of items", param: "input")
        }
        chat.stream = r.stream
        chat.sampling = r.sampling
        chat.maxTokens = r.maxOutputTokens
        chat.tools = try tools(r.tools)
        chat.toolChoice = r.toolChoice
        chat.parallelToolCalls = r.parallelToolCalls
        chat.responseFormat = try format(r.text)
        if let effort = r.reasoning?["effort"] {
            guard let text = effort.stringValue else { throw invalid("reasoning.effort must be a string", param: "reasoning") }
            chat.reasoningEffort = text
        }
        for (index, value) in (r.include ?? []).enumerated() where value != logprobsInclude {
            throw OpenAIAdapter.unsupported("include '\(value)' is not supported", param: "include[\(index)]")
        }
        if r.include?.contains(logprobsInclude) == true || r.topLogprobs != nil {
            chat.logprobs = true
            chat.topLogprobs = r.topLogprobs
        }
        return (chat, sources)
    }

    private static func refuseState(_ r: ResponsesRequest) throws(APIError) {
        let stateless = "this server keeps no responses or conversations; send the whole conversation as input"
        if r.previousResponseID != nil { throw OpenAIAdapter.unsupported(stateless, param: "previous_response_id") }
        if r.conversation != nil, r.conversation != .null {
            throw OpenAIAdapter.unsupported(stateless, param: "conversation")
        }
        if r.store == true {
            throw OpenAIAdapter.unsupported("responses are not stored; send store: false or leave it out", param: "store")
        }
        if r.background == true { throw OpenAIAdapter.unsupported("background responses are not supported", param: "background") }
        if r.prompt != nil, r.prompt != .null {
            throw OpenAIAdapter.unsupported("stored prompt templates are not supported", param: "prompt")
        }
        if r.maxToolCalls != nil { throw OpenAIAdapter.unsupported("max_tool_calls is not supported", param: "max_tool_calls") }
        if let truncation = r.truncation, truncation != "disabled" {
            throw OpenAIAdapter.unsupported(
                "truncation '\(truncation)' is not supported: a conversation that does not fit is refused", param: "truncation")
        }
    }

    /// One input item as chat messages: a message, a function call of an earlier turn (joined to the assistant
    /// message before it), or a function's output. Reasoning items of earlier turns are left out, as chat
    /// templates leave out earlier thinking.
    private static func append(_ item: JSONValue, at param: String, to messages: inout [OpenAIMessage]) throws(APIError) {
        let type = item["type"]?.stringValue ?? (item["role"] != nil ? "message" : "")
        switch type {
        case "message":
            guard let role = item["role"]?.stringValue else { throw invalid("a message needs a role", param: "\(param).role") }
            messages.append(OpenAIMessage(role: role, content: try content(item["content"], at: "\(param).content")))
        case "function_call":
            guard let name = item["name"]?.stringValue, let callID = item["call_id"]?.stringValue else {
                throw invalid("a function_call item needs name and call_id", param: param)
            }
            let call = OpenAIToolCallIn(id: callID, name: name, arguments: item["arguments"])
            if let last = messages.indices.last, messages[last].role == "assistant" {
                messages[last].toolCalls = (messages[last].toolCalls ?? []) + [call]
            } else {
                messages.append(OpenAIMessage(role: "assistant", content: nil, toolCalls: [call]))
            }
        case "function_call_output":
            guard let callID = item["call_id"]?.stringValue else {
                throw invalid("a function_call_output item needs call_id", param: "\(param).call_id")
            }
            let output = try content(item["output"], at: "\(param).output")
            messages.append(OpenAIMessage(role: "tool", content: output, toolCallID: callID))
        case "reasoning": break
        case "": throw invalid("an input item needs a type or a role", param: param)
        default: throw OpenAIAdapter.unsupported("input items of type '\(type)' are not supported", param: "\(param).type")
        }
    }

    /// A message's content: text, or parts (`input_text`, `output_text`, `input_image` with a data: URL).
    private static func content(_ value: JSONValue?, at param: String) throws(APIError) -> [OpenAIContentPart] {
        switch value {
        case .string(let text)?: return [.text(text)]
        case .array(let parts)?:
            var result: [OpenAIContentPart] = []
            for (index, part) in parts.enumerated() {
                let type = part["type"]?.stringValue ?? ""
                switch type {
                case "input_text", "output_text", "text":
                    guard let text = part["text"]?.stringValue else {
                        throw invalid("a \(type) part needs text", param: "\(param)[\(index)].text")
                    }
                    result.append(.text(text))
                case "input_image":
                    guard let url = part["image_url"]?.stringValue else {
                        throw OpenAIAdapter.unsupported(
                            "images are taken as image_url (a data: URL); file_id needs stored files",
                            param: "\(param)[\(index)]")
                    }
                    result.append(.imageURL(url))
                default: result.append(.other(type: type))
                }
            }
            return result
        case nil, .null?: return []
        default: throw invalid("content must be a string or a list of parts", param: param)
        }
    }

    /// `{"type": "function", "name", "description", "parameters", "strict"}`; other tool types are hosted tools.
    private static func tools(_ value: JSONValue?) throws(APIError) -> [OpenAITool]? {
        guard let value, value != .null else { return nil }
        guard case .array(let list) = value else { throw invalid("tools must be a list", param: "tools") }
        var tools: [OpenAITool] = []
        for (index, tool) in list.enumerated() {
            let type = tool["type"]?.stringValue ?? ""
            guard type == "function" else {
                throw OpenAIAdapter.unsupported("tools of type '\(type)' are not supported", param: "tools[\(index)].type")
            }
            guard let name = tool["name"]?.stringValue else {
                throw invalid("a function tool needs a name", param: "tools[\(index)].name")
            }
            tools.append(OpenAITool(name: name, description: tool["description"]?.stringValue, parameters: tool["parameters"]))
        }
        return tools
    }

    /// `text.format` as chat's `response_format` (the schema sits next to `type` here, not under `json_schema`).
    private static func format(_ text: JSONValue?) throws(APIError) -> OpenAIResponseFormat? {
        guard let format = text?["format"], format != .null else { return nil }
        guard let type = format["type"]?.stringValue else { throw invalid("text.format needs a type", param: "text.format") }
        guard type == "json_schema" else { return OpenAIResponseFormat(type: type) }
        guard let schema = format["schema"], schema.isObject else {
            throw invalid("text.format of type json_schema needs a schema object", param: "text.format.schema")
        }
        return OpenAIResponseFormat(type: type, schema: schema, hasJSONSchema: true)
    }

    static func invalid(_ message: String, param: String) -> APIError { OpenAIAdapter.invalid(message, param: param) }
}
