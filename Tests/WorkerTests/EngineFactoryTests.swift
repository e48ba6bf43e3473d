import Engine
import Logging
import Manifest
import Testing
import Worker

/// The manifest → engine mapping: every llama.cpp key a model declares reaches the engine's configuration.
struct EngineFactoryTests {
    func model(_ yaml: String) throws -> (ResolvedModel, ResolvedRuntimes) {
        let text = """
            apiVersion: rockchipllama/v1
            kind: Device
            metadata: {name: t}
            models:
              - name: chat
                source: {path: /models/chat.gguf}
            \(yaml)
            endpoints: [{name: local, listen: "127.0.0.1:8080"}]
            """
        let loaded = ManifestLoader(environment: .init(fileExists: { _ in true }))
            .load(text: text, file: "t.yaml", baseDirectory: "/")
        #expect(!loaded.diagnostics.contains { $0.severity == .error }, "\(loaded.diagnostics)")
        let manifest = try #require(loaded.resolved)
        return (try #require(manifest.models.first), manifest.runtimes)
    }

    func configuration(_ declared: (ResolvedModel, ResolvedRuntimes)) -> LlamaEngine.Configuration {
        EngineFactory.llamaConfiguration(
            declared.0, path: "/models/chat.gguf", runtimes: declared.1, cacheDirectory: "/c",
            logger: Logger(label: "test"))
    }

    @Test func llamaSettingsReachTheEngine() throws {
        let declared = try model(
            """
                context: 2048
                maxTokens: 64
                thinking: off
                sampling: {temperature: 0.3, topK: 7}
                llamacpp: {threads: 1, parallel: 3, gpuLayers: 12}
            """)
        let engine = configuration(declared)
        #expect(engine.context == 2048 && engine.parallel == 3 && engine.threads == 1)
        #expect(engine.gpuLayers == 12)
        #expect(engine.thinking == false)
        #expect(engine.sampling.temperature == 0.3 && engine.sampling.topK == 7)
        #expect(engine.promptCacheDirectory == "/c" && engine.modelName == "chat")
    }

    @Test func defaultsAreTheDocumentedOnes() throws {
        let engine = configuration(try model(""))
        #expect(engine.gpuLayers == 0, "documented default: everything on the CPU")
        #expect(engine.thinking == nil, "thinking: auto leaves it to the model")
        #expect(engine.parallel == 4)
        #expect(configuration(try model("    thinking: on")).thinking == true)
    }
}
