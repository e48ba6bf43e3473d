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

/// The KV cache size per token a footprint estimate multiplies by the context.
struct GGUFKVSizeTests {
    @Test func smolLM2TakesTwentyThreeThousandBytesPerToken() throws {
        let metadata = try GGUFMetadata(contentsOf: TestModel.model)
        // 30 layers × 3 KV heads × (64 + 64) wide × 2 bytes (f16).
        #expect(metadata.integers["llama.block_count"] == 30 && metadata.integers["llama.attention.head_count_kv"] == 3)
        #expect(metadata.kvBytesPerToken == 23040)
    }

    @Test func keysAndValuesMayDifferInWidthAndHeadsDefaultToAll() {
        var metadata = GGUFMetadata()
        metadata.strings["general.architecture"] = "test"
        metadata.integers = ["test.block_count": 2, "test.embedding_length": 512, "test.attention.head_count": 8]
        // No head_count_kv: every head has its own key and value, 512 / 8 = 64 wide.
        #expect(metadata.kvBytesPerToken == Int64(2 * 8 * (64 + 64) * 2))
        metadata.integers["test.attention.head_count_kv"] = 2
        metadata.integers["test.attention.key_length"] = 192
        metadata.integers["test.attention.value_length"] = 128
        #expect(metadata.kvBytesPerToken == Int64(2 * 2 * (192 + 128) * 2))
        metadata.integers["test.attention.head_count"] = nil
        #expect(metadata.kvBytesPerToken == nil, "no attention heads: no KV cache to size")
    }
}
