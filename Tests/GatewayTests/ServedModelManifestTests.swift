import Engine
import Foundation
import Manifest
import Testing
import Worker

@testable import Gateway

/// How a manifest model is described to clients: from the GGUF file's own metadata, with capabilities that
/// are true of the model.
struct ServedModelManifestTests {
    static var modelPath: String {
        ProcessInfo.processInfo.environment["RUNNER_TEST_MODEL"]
            ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent(".deps/models/SmolLM2-135M-Instruct.Q4_1.gguf").path
    }

    func served(_ model: String) throws -> ServedModel {
        let text = """
            apiVersion: rockchipllama/v1
            kind: Device
            metadata: {name: t}
            models:
            \(model)
            endpoints: [{name: local, listen: "127.0.0.1:8080"}]
            """
        let loaded = ManifestLoader().load(text: text, file: "t.yaml", baseDirectory: "/")
        #expect(!loaded.diagnostics.contains { $0.severity == .error }, "\(loaded.diagnostics)")
        let declared = try #require(loaded.resolved?.models.first)
        return ServedModel(declared, worker: WorkerClient(socketPath: "/nonexistent/worker.sock"))
    }

    @Test func aGGUFModelIsDescribedFromItsMetadata() throws {
        let model = try served("  - {source: {path: \(Self.modelPath)}}")
        #expect(model.name == "smollm2-135m-instruct")
        #expect(model.family == "llama", "general.architecture, not the file name's first word (smollm)")
        #expect(model.parameterSize == "135M" && model.quantization == "Q4_1")
        #expect(model.chatTemplate?.contains("<|im_start|>") == true)
        // SmolLM2's template has no <think> blocks: it does not think unless the manifest says so.
        #expect(model.capabilities == [.completion, .tools, .embedding])
        let show = OllamaModels.show(model)
        #expect(show.modelInfo["general.architecture"] == .string("llama"))
        #expect(show.modelInfo["llama.context_length"] == .integer(4096))
        #expect(show.template.contains("<|im_start|>"))
        #expect(show.capabilities == ["completion", "tools", "embedding"])
    }

    @Test func thinkingIsAdvertisedOnlyWhenItIsTrue() throws {
        let on = try served("  - {source: {path: \(Self.modelPath)}, thinking: on}")
        #expect(on.capabilities.contains(.thinking))
        let rkllm = try served(
            "  - {name: q, engine: rkllm, source: {path: /models/Qwen3-0.6B-w8a8-ctx4096-rk3588.rkllm}}")
        #expect(rkllm.capabilities.contains(.thinking) && rkllm.family == "qwen")
        let off = try served(
            "  - {name: q, engine: rkllm, thinking: off, source: {path: /models/Qwen3-0.6B-w8a8-ctx4096-rk3588.rkllm}}")
        #expect(!off.capabilities.contains(.thinking))
    }
}
