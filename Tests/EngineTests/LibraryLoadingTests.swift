import Engine
import Testing

@Suite struct LibraryLoading {
    @Test func missingLibraryIsAClearError() async throws {
        var configuration = TestModel.configuration()
        configuration.libraryPath = "/nonexistent/libllama.so"
        await #expect {
            _ = try await LlamaEngine.load(configuration)
        } throws: { error in
            guard let error = error as? EngineError else { return false }
            return error.code == .libraryNotFound && error.message.contains("/nonexistent/libllama.so")
        }
    }

    @Test func libraryWithoutLlamaSymbolsNamesWhatIsMissing() async throws {
        var configuration = TestModel.configuration()
        // A real shared library with none of llama's symbols. (Not one of ggml's: those must not be
        // loaded twice under different names.)
        configuration.libraryPath = "libm.so.6"
        await #expect {
            _ = try await LlamaEngine.load(configuration)
        } throws: { error in
            guard let error = error as? EngineError else { return false }
            return error.code == .symbolMissing && error.message.contains("llama_decode")
        }
    }

    @Test func missingModelIsAClearError() async throws {
        var configuration = TestModel.configuration()
        configuration.modelPath = "/nonexistent/model.gguf"
        await #expect {
            _ = try await LlamaEngine.load(configuration)
        } throws: { error in
            (error as? EngineError)?.code == .modelLoadFailed
        }
    }
}
