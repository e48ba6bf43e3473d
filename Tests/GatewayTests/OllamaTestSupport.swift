import Engine
import Foundation
import Testing

@testable import Gateway

/// Helpers shared by the Ollama adapter and live tests.
enum OllamaTest {
    /// Compact JSON with sorted keys, to compare against golden text.
    static func golden(_ value: some Encodable) -> String { String(decoding: OllamaEncoding.data(value), as: UTF8.self) }

    /// Decodes a wire request from JSON text, as the route does.
    static func decode<T: Decodable>(_ type: T.Type, _ json: String) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(json.utf8))
    }

    /// A JSON object from text.
    static func object(_ text: String) throws -> [String: Any] {
        let value = try JSONSerialization.jsonObject(with: Data(text.utf8))
        return try #require(value as? [String: Any], "not a JSON object: \(text)")
    }

    /// Text re-serialised with sorted keys, so two JSON texts compare by value.
    static func sorted(_ text: String) throws -> String {
        let value = try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
        return String(decoding: try JSONSerialization.data(withJSONObject: value, options: [.sortedKeys]), as: UTF8.self)
    }

    /// The NDJSON objects of a streamed body, however the chunks split the lines.
    static func lines(_ chunks: [String]) throws -> [[String: Any]] {
        let text = chunks.joined()
        #expect(text.hasSuffix("\n"), "NDJSON ends each object with a newline")
        return try text.split(separator: "\n").map { try object(String($0)) }
    }

    static let traits = OllamaModelTraits(name: "m", capabilities: [.completion, .tools], maxTokens: nil)

    /// A served model for tests that never generate.
    static func model(
        name: String = "smollm2-135m-instruct", capabilities: Set<ModelCapability> = [.completion, .tools],
        defaults: Sampling = Sampling(),
        maxTokens: Int? = nil, digest: String? = nil
    ) -> ServedModel {
        ServedModel(
            name: name, aliases: ["smollm2"], engineKind: "llamacpp", context: 2048, sizeBytes: 100_000_000,
            modifiedAt: Date(timeIntervalSince1970: 1_700_000_000), digest: digest, family: "llama", quantization: "Q4_1",
            parameterSize: "135M", capabilities: capabilities, defaults: defaults, maxTokens: maxTokens,
            engine: OllamaNoEngine())
    }
}

/// An engine for adapter tests: they translate, they never run anything.
struct OllamaNoEngine: Engine {
    func generate(_ request: GenerationRequest) async throws -> AsyncThrowingStream<GenerationEvent, any Error> {
        throw EngineError(.unavailable, "no engine in adapter tests")
    }
    func embed(_ inputs: [String]) async throws -> Embeddings { throw EngineError(.unavailable, "no engine") }
    func tokenize(_ text: String) async throws -> [Int] { [] }
    func status() async -> EngineStatus {
        EngineStatus(
            engine: "none", model: "", runtimeVersion: "", loadMs: 0, contextPerSlot: 0, slots: [], queued: 0, promptCaches: [])
    }
    func buildPromptCache(name: String, system: String, directory: String) async throws -> PromptCacheInfo {
        throw EngineError(.unavailable, "no engine")
    }
    func shutdown() async {}
}
