import Engine
import Foundation
import Testing

/// The GGUF header as the gateway reads it, from the real test model.
struct GGUFMetadataTests {
    @Test func readsTheRealModelsHeader() throws {
        let metadata = try GGUFMetadata(contentsOf: TestModel.model)
        #expect(metadata.architecture == "llama", "SmolLM2 is a llama-architecture model, whatever its file is called")
        #expect(metadata.sizeLabel == "135M")
        #expect(metadata.chatTemplate?.contains("<|im_start|>") == true)
        #expect(metadata.integers["llama.context_length"] == 8192)
    }

    @Test func refusesWhatIsNotAGGUFHeader() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("gguf-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let text = directory.appendingPathComponent("notes.gguf")
        try Data("not a model".utf8).write(to: text)
        #expect(throws: GGUFMetadata.ReadError.self) { try GGUFMetadata(contentsOf: text.path) }
        // The real header cut short: an error, never a crash or a half-read answer.
        let truncated = directory.appendingPathComponent("truncated.gguf")
        let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: TestModel.model))
        try handle.readData(ofLength: 4096).write(to: truncated)
        try handle.close()
        #expect(throws: GGUFMetadata.ReadError.self) { try GGUFMetadata(contentsOf: truncated.path) }
        #expect(throws: GGUFMetadata.ReadError.self) {
            try GGUFMetadata(contentsOf: directory.appendingPathComponent("none").path)
        }
    }
}
