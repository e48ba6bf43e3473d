import Engine
import Foundation
import Testing

/// Where the real llama.cpp library and test model are: `RUNNER_LLAMA_LIBRARY` / `RUNNER_TEST_MODEL` (the
/// Makefile exports them), else what `make setup` installs under `.deps/` in the package root.
enum TestModel {
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    static var library: String {
        ProcessInfo.processInfo.environment["RUNNER_LLAMA_LIBRARY"]
            ?? packageRoot + "/.deps/venv/lib/python3.11/site-packages/lib/libllama.so"
    }

    static var model: String {
        ProcessInfo.processInfo.environment["RUNNER_TEST_MODEL"]
            ?? packageRoot + "/.deps/models/SmolLM2-135M-Instruct.Q4_1.gguf"
    }

    static func configuration(context: Int = 1024, parallel: Int = 4) -> LlamaEngine.Configuration {
        LlamaEngine.Configuration(
            libraryPath: library, modelPath: model, modelName: "smollm2", context: context, parallel: parallel)
    }

    /// One engine for the tests that do not need a fresh one (loading costs little, but KV caches add up).
    static let shared = Task { try await LlamaEngine.load(configuration()) }
}

/// Everything one generation streamed.
struct Generated {
    var deltas: [String] = []
    var reasoning: [String] = []
    var toolCalls: [ToolCall] = []
    var logprobs: [TokenLogprob] = []
    var done: Completion?
    var eventsAfterDone = 0

    var text: String { deltas.joined() }
}

func generate(_ engine: any Engine, _ request: GenerationRequest) async throws -> Generated {
    var result = Generated()
    for try await event in try await engine.generate(request) {
        if result.done != nil { result.eventsAfterDone += 1 }
        switch event {
        case .text(let text, .content): result.deltas.append(text)
        case .text(let text, .reasoning): result.reasoning.append(text)
        case .toolCall(let call): result.toolCalls.append(call)
        case .logprobs(let entries): result.logprobs += entries
        case .done(let completion): result.done = completion
        }
    }
    return result
}

extension GenerationRequest {
    static func chat(_ user: String, system: String? = nil, maxTokens: Int = 32, sampling: Sampling = .greedy)
        -> GenerationRequest
    {
        var messages: [ChatMessage] = []
        if let system { messages.append(.system(system)) }
        messages.append(.user(user))
        return GenerationRequest(input: .messages(messages), sampling: sampling, maxTokens: maxTokens)
    }
}
