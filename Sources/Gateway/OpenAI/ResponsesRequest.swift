internal import Foundation

/// `POST /v1/responses`, decoded leniently like the chat request: the fields the gateway reads, with `input`,
/// `tools`, `tool_choice` and `text` kept as JSON so the adapter can check them item by item and the answer
/// can repeat them as sent. Fields for stored state (`previous_response_id`, `conversation`, …) are read only
/// to be refused: this server keeps nothing between requests.
struct ResponsesRequest: Decodable, Sendable {
    var model: String?
    /// A string (one user message) or a list of input items.
    var input: JSONValue?
    var instructions: String?
    var maxOutputTokens: Int64?
    var sampling = OpenAISamplingFields()
    var tools: JSONValue?
    var toolChoice: JSONValue?
    /// `{"format": {"type": "text" | "json_object" | "json_schema", "name", "schema", "strict"}}`.
    var text: JSONValue?
    /// `{"effort": "none" | "minimal" | "low" | "medium" | "high"}`.
    var reasoning: JSONValue?
    var stream = false
    var store: Bool?
    var metadata: JSONValue?
    var parallelToolCalls: Bool?
    var topLogprobs: Int64?
    var include: [String]?
    var previousResponseID: String?
    var conversation: JSONValue?
    var background: Bool?
    var prompt: JSONValue?
    var maxToolCalls: Int64?
    var truncation: String?

    private enum CodingKeys: String, CodingKey {
        case model, input, instructions, tools, text, reasoning, stream, store, metadata, include, conversation
        case background, prompt, truncation
        case maxOutputTokens = "max_output_tokens"
        case toolChoice = "tool_choice"
        case parallelToolCalls = "parallel_tool_calls"
        case topLogprobs = "top_logprobs"
        case previousResponseID = "previous_response_id"
        case maxToolCalls = "max_tool_calls"
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        model = try c.decodeIfPresent(String.self, forKey: .model)
        input = try c.decodeIfPresent(JSONValue.self, forKey: .input)
        instructions = try c.decodeIfPresent(String.self, forKey: .instructions)
        maxOutputTokens = try c.decodeOpenAIInt(forKey: .maxOutputTokens)
        sampling = try OpenAISamplingFields(from: decoder)
        tools = try c.decodeIfPresent(JSONValue.self, forKey: .tools)
        toolChoice = try c.decodeIfPresent(JSONValue.self, forKey: .toolChoice)
        text = try c.decodeIfPresent(JSONValue.self, forKey: .text)
        reasoning = try c.decodeIfPresent(JSONValue.self, forKey: .reasoning)
        stream = try c.decodeIfPresent(Bool.self, forKey: .stream) ?? false
        store = try c.decodeIfPresent(Bool.self, forKey: .store)
        metadata = try c.decodeIfPresent(JSONValue.self, forKey: .metadata)
        parallelToolCalls = try c.decodeIfPresent(Bool.self, forKey: .parallelToolCalls)
        topLogprobs = try c.decodeOpenAIInt(forKey: .topLogprobs)
        include = try c.decodeIfPresent([String].self, forKey: .include)
        previousResponseID = try c.decodeIfPresent(String.self, forKey: .previousResponseID)
        conversation = try c.decodeIfPresent(JSONValue.self, forKey: .conversation)
        background = try c.decodeIfPresent(Bool.self, forKey: .background)
        prompt = try c.decodeIfPresent(JSONValue.self, forKey: .prompt)
        maxToolCalls = try c.decodeOpenAIInt(forKey: .maxToolCalls)
        truncation = try c.decodeIfPresent(String.self, forKey: .truncation)
    }
}
