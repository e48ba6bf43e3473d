internal import Engine
internal import Foundation

/// A request checked against what the vendor servers can do, ready to run.
struct Job: Sendable {
    var request: GenerationRequest
    var messages: [ChatMessage]
    var sampling: Sampling
    var thinking: Bool
    /// For the legacy server: the conversation as its session takes it.
    var legacy: LegacyConversation.Request?
}

/// How a run on the server ended.
struct Outcome: Sendable {
    var promptTokens = 0
    /// nil: count the pieces the server handed out (one per token).
    var completionTokens: Int?
    /// The server stopped for the context or its own output limit.
    var length = false
}

extension AXLLMEngine {
    /// Refusals that need no server: what neither server generation can do, and what this one cannot.
    func prepare(_ request: GenerationRequest) throws(EngineError) -> Job {
        func unsupported(_ what: String) -> EngineError {
            EngineError(.unsupported, "the AXERA server cannot \(what)")
        }
        if let format = request.responseFormat, format.kind != .text { throw unsupported("constrain its output to JSON") }
        if request.toolChoice != .auto { throw unsupported("be made to call a tool (it has no grammar)") }
        if request.logprobs != nil { throw unsupported("report token probabilities (logprobs)") }
        if request.lora != nil { throw unsupported("load LoRA adapters") }
        if request.promptCache != nil { throw unsupported("use prompt-cache presets") }
        let s = request.sampling
        // Per request, `axllm serve` takes temperature and top-p; the legacy server also top-k and a repetition
        // penalty. The rest lives in the model's post_config.json.
        let perRequest: [(String, Bool)] = [
            ("min_p", s.minP != nil), ("repeat_last_n", s.repeatLastN != nil), ("seed", s.seed != nil),
            ("frequency_penalty", s.frequencyPenalty != nil), ("presence_penalty", s.presencePenalty != nil),
            ("mirostat", s.mirostat != nil),
            ("top_k", s.topK != nil && configuration.server == .serve),
            ("repeat_penalty", s.repeatPenalty != nil && configuration.server == .serve),
        ]
        if let (name, _) = perRequest.first(where: { $0.1 }) {
            throw EngineError(
                .unsupported,
                "the AXERA \(configuration.server.rawValue) server takes no per-request \(name); set it in the model's post_config.json"
            )
        }
        let messages: [ChatMessage]
        switch request.input {
        case .messages(let list): messages = list
        case .prompt: throw unsupported("continue raw text; send chat messages")
        }
        if messages.contains(where: { !$0.images.isEmpty }) { throw unsupported("take images with this engine") }
        var legacy: LegacyConversation.Request?
        if configuration.server == .legacy {
            if !request.tools.isEmpty { throw unsupported("take tools in its legacy generation") }
            legacy = try LegacyConversation.request(messages, defaultSystem: defaultSystemPrompt).get()
        }
        return Job(
            request: request, messages: messages, sampling: s.merged(over: configuration.sampling),
            thinking: request.thinking ?? configuration.thinking ?? true, legacy: legacy)
    }

    /// `POST /v1/chat/completions` with the whole conversation, streamed: the server reuses the prefix it holds.
    func runServe(
        _ job: Job, piece: (String) async -> Bool, call: (ToolCall) -> Void
    ) async throws -> Outcome {
        var body: [String: Any] = [
            "model": configuration.modelName, "stream": true, "messages": job.messages.map(Self.wireMessage),
            "enable_thinking": job.thinking,
            // Servers that know OpenAI's option report usage in a last chunk; others ignore it.
            "stream_options": ["include_usage": true],
        ]
        if let limit = job.request.maxTokens ?? configuration.maxTokens { body["max_tokens"] = limit }
        if let temperature = job.sampling.temperature { body["temperature"] = temperature }
        if let topP = job.sampling.topP { body["top_p"] = topP }
        if !job.request.stop.isEmpty { body["stop"] = job.request.stop }
        if !job.request.tools.isEmpty {
            body["tools"] = job.request.tools.map { tool in
                [
                    "type": "function",
                    "function": [
                        "name": tool.name, "description": tool.description,
                        "parameters": (try? JSONSerialization.jsonObject(with: Data(tool.parameters.utf8))) ?? [:],
                    ] as [String: Any],
                ] as [String: Any]
            }
        }
        var outcome = Outcome()
        var calls = 0
        let refused = try await http.stream("/v1/chat/completions", body) { data in
            if data == "[DONE]" { return false }
            guard let chunk = try? JSONSerialization.jsonObject(with: Data(data.utf8)) as? [String: Any] else { return true }
            if let error = chunk["error"] { throw Self.serverError(error, status: 200) }
            if let usage = chunk["usage"] as? [String: Any] {
                outcome.promptTokens = usage["prompt_tokens"] as? Int ?? 0
                outcome.completionTokens = usage["completion_tokens"] as? Int
            }
            guard let choice = (chunk["choices"] as? [[String: Any]])?.first else { return true }
            let delta = choice["delta"] as? [String: Any] ?? [:]
            for wire in delta["tool_calls"] as? [[String: Any]] ?? [] {
                let function = wire["function"] as? [String: Any] ?? [:]
                call(
                    ToolCall(
                        id: wire["id"] as? String ?? "call_\(calls)", name: function["name"] as? String ?? "",
                        arguments: function["arguments"] as? String ?? "{}"))
                calls += 1
                // A single-call answer ends with its call.
                if !job.request.parallelToolCalls { return false }
            }
            if choice["finish_reason"] as? String == "length" { outcome.length = true }
            if let text = delta["content"] as? String, !text.isEmpty { return await piece(text) }
            return true
        }
        if let refused { throw Self.serverError(refused.json?["error"] ?? refused.text, status: refused.status) }
        return outcome
    }

    static func wireMessage(_ message: ChatMessage) -> [String: Any] {
        var wire: [String: Any] = ["role": message.role.rawValue, "content": message.text]
        if !message.toolCalls.isEmpty {
            wire["tool_calls"] = message.toolCalls.map { call in
                ["id": call.id, "type": "function", "function": ["name": call.name, "arguments": call.arguments]] as [String: Any]
            }
        }
        if let result = message.toolResult, let id = result.callID { wire["tool_call_id"] = id }
        return wire
    }

    /// The server's error, in engine terms: a context that cannot hold the prompt, or a failure.
    static func serverError(_ error: Any, status: Int) -> EngineError {
        let object = error as? [String: Any]
        let message = object?["message"] as? String ?? (error as? String) ?? "\(error)"
        if object?["code"] as? String == "context_length_exceeded" {
            return EngineError(.promptTooLong, "the AXERA server: \(message)")
        }
        return EngineError(status == 400 ? .invalidRequest : .decodeFailed, "the AXERA server answered \(status): \(message)")
    }
}
