import Engine
import Foundation
import Testing

extension ModelTests {
    /// Fresh engines here: each test needs to know exactly what the slots hold.
    @Suite struct PromptCache {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("engine-prompt-cache-\(UInt64.random(in: 0...UInt64.max))").path
        let system = """
            You are the support assistant of Rockchip Llama, a runner that serves language models on small \
            boards. Answer in one short sentence. Be polite. Never invent features. If you do not know, say so.
            """
        var request: GenerationRequest { .chat("How do I restart the runner?", system: system, maxTokens: 24) }

        @Test func restoredPresetGivesTheColdOutput() async throws {
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let builder = try await LlamaEngine.load(TestModel.configuration(context: 512, parallel: 2))
            let built = try await builder.buildPromptCache(name: "support", system: system, directory: directory)
            #expect(built.rebuilt && built.tokens > 40)
            #expect(FileManager.default.fileExists(atPath: built.path))
            await builder.shutdown()

            // llama.cpp's numbers depend slightly on how a prompt is cut into batches, so the cold run cuts
            // it where the preset ends, exactly as a restored run does: then the outputs must be identical,
            // which they are only if the restored KV cache is bit for bit the computed one.
            var coldConfiguration = TestModel.configuration(context: 512, parallel: 1)
            coldConfiguration.batchSize = built.tokens
            let coldEngine = try await LlamaEngine.load(coldConfiguration)
            let cold = try await generate(coldEngine, request)
            await coldEngine.shutdown()
            #expect(cold.done?.usage.cachedPromptTokens == 0)

            // A new engine finds the valid file, so it loads it instead of rebuilding, and restores it.
            let engine = try await LlamaEngine.load(TestModel.configuration(context: 512, parallel: 2))
            let loaded = try await engine.buildPromptCache(name: "support", system: system, directory: directory)
            #expect(!loaded.rebuilt && loaded.tokens == built.tokens)
            let warm = try await generate(engine, request)
            #expect(warm.text == cold.text)
            #expect(warm.done?.usage.cachedPromptTokens == built.tokens)
            #expect(warm.done!.timings.loadMs > 0)
            #expect(warm.done!.timings.prefillTokens == warm.done!.usage.promptTokens - built.tokens)
            #expect(await engine.status().promptCaches == ["support"])

            // Naming the preset supplies its system prompt: the same prompt, so its prefix is reused.
            var named = GenerationRequest.chat("How do I restart the runner?", maxTokens: 24)
            named.promptCache = "support"
            let byName = try await generate(engine, named)
            #expect(byName.done?.usage.promptTokens == warm.done?.usage.promptTokens)
            #expect(byName.done!.usage.cachedPromptTokens >= built.tokens)
            await engine.shutdown()
        }

        @Test func staleFileIsRebuiltNotLoaded() async throws {
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let engine = try await LlamaEngine.load(TestModel.configuration(context: 512, parallel: 1))
            let built = try await engine.buildPromptCache(name: "support", system: system, directory: directory)
            #expect(built.rebuilt)
            let sidecar = directory + "/support.json"
            let text = try String(contentsOfFile: sidecar, encoding: .utf8)
            try text.replacingOccurrences(of: "\"libraryVersion\" : \"", with: "\"libraryVersion\" : \"old-")
                .write(toFile: sidecar, atomically: true, encoding: .utf8)
            let again = try await engine.buildPromptCache(name: "support", system: system, directory: directory)
            #expect(again.rebuilt)
            // A different prompt under the same name is a different cache.
            let changed = try await engine.buildPromptCache(name: "support", system: system + " Extra.", directory: directory)
            #expect(changed.rebuilt && changed.tokens > built.tokens)
            await engine.shutdown()

            // A context with another slot count cannot load the state (llama.cpp checks its KV streams).
            let wider = try await LlamaEngine.load(TestModel.configuration(context: 512, parallel: 2))
            let rebuiltForWider = try await wider.buildPromptCache(
                name: "support", system: system + " Extra.", directory: directory)
            #expect(rebuiltForWider.rebuilt)
            await wider.shutdown()
        }

        @Test func unknownPresetIsRefused() async throws {
            let engine = try await TestModel.shared.value
            var request = GenerationRequest.chat("Hi")
            request.promptCache = "nope"
            await #expect {
                _ = try await engine.generate(request)
            } throws: { error in
                (error as? EngineError)?.code == .unknownPromptCache
            }
        }
    }
}
