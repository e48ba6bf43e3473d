import Engine
import Foundation
import Testing

/// The manifest's `thinking` on the llama.cpp engine: the model's default when a request does not choose.
struct ThinkingDefaultTests {
    /// The test model with a chat template that knows `<think>` blocks, made by rewriting the default system
    /// prompt inside SmolLM2's template with text of the same length (so the GGUF stays valid).
    static func thinkingModel(in directory: URL) throws -> String {
        var data = try Data(contentsOf: URL(fileURLWithPath: TestModel.model))
        let original = Data("You are a helpful AI assistant named SmolLM, trained by Hugging Face".utf8)
        var replacement = Data("You reason in <think> blocks before you answer, as Qwen3 does.".utf8)
        replacement.append(Data(repeating: UInt8(ascii: " "), count: original.count - replacement.count))
        let range = try #require(data.range(of: original), "SmolLM2's template names its default system prompt")
        data.replaceSubrange(range, with: replacement)
        let path = directory.appendingPathComponent("thinking.gguf").path
        try data.write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test func theManifestsThinkingAppliesWhenTheRequestDoesNotChoose() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("thinking-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        var configuration = TestModel.configuration(context: 512, parallel: 1)
        configuration.modelPath = try Self.thinkingModel(in: directory)
        configuration.thinking = false
        let engine = try await LlamaEngine.load(configuration)

        var unset = GenerationRequest.chat("Hi", maxTokens: 1)
        unset.thinking = nil
        var asked = GenerationRequest.chat("Hi", maxTokens: 1)
        asked.thinking = true
        let byDefault = try await generate(engine, unset).done?.usage.promptTokens ?? 0
        let whenAsked = try await generate(engine, asked).done?.usage.promptTokens ?? 0
        // thinking off closes an empty <think></think> block after the assistant's header; a request that asks
        // to think gets no such block.
        #expect(byDefault > whenAsked && whenAsked > 0, "\(byDefault) vs \(whenAsked) prompt tokens")

        configuration.thinking = nil
        let auto = try await LlamaEngine.load(configuration)
        #expect(try await generate(auto, unset).done?.usage.promptTokens == whenAsked, "auto: a thinking template thinks")
        await engine.shutdown()
        await auto.shutdown()
    }
}
