import Engine
import Foundation
import Testing

@testable import Gateway

/// Helpers shared by the OpenAI adapter and live tests.
enum OpenAITest {
    /// Compact JSON with sorted keys, as the routes write it, to compare against golden text.
    static func golden(_ value: some Encodable) throws -> String {
        String(decoding: try OpenAIResponses.encode(value), as: UTF8.self)
    }

    /// The canonical form with sorted keys (the worker's JSON), to compare against golden text.
    static func canonical(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    static func decode<T: Decodable>(_ type: T.Type, _ json: String) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(json.utf8))
    }

    static func object(_ text: String) throws -> [String: Any] {
        let value = try JSONSerialization.jsonObject(with: Data(text.utf8))
        return try #require(value as? [String: Any], "not a JSON object: \(text)")
    }

    /// The `data:` payloads of an SSE body, however the chunks split it.
    static func events(_ chunks: [String]) -> [String] {
        chunks.joined().components(separatedBy: "\n\n").filter { !$0.isEmpty }.map { event in
            #expect(event.hasPrefix("data: "), "an SSE event starts with data: — got \(event)")
            return String(event.dropFirst("data: ".count))
        }
    }

    static let chatModel = OpenAIAdapter.ModelTraits(name: "m", capabilities: ["completion", "tools"])
    static let visionModel = OpenAIAdapter.ModelTraits(name: "v", capabilities: ["completion", "vision"])
    static let envelope = OpenAIEnvelope(id: "chatcmpl-abc", created: 1_700_000_000, model: "smollm2", systemFingerprint: "fp")

    /// A chat request translated, or the adapter's refusal.
    static func chat(_ json: String, model: OpenAIAdapter.ModelTraits = chatModel) throws -> GenerationRequest {
        try OpenAIAdapter.generationRequest(decode(OpenAIChatRequest.self, json), model: model)
    }

    /// The refusal a request gets: its status, `param` and message.
    static func refusal<T>(_ body: () throws -> T) -> APIError? {
        do {
            _ = try body()
            return nil
        } catch let error as APIError {
            return error
        } catch {
            Issue.record("expected an APIError, got \(error)")
            return nil
        }
    }

    /// An engine for adapter tests: they translate, they never run anything.
    struct NoEngine: Engine {
        func generate(_ request: GenerationRequest) async throws -> AsyncThrowingStream<GenerationEvent, any Error> {
            throw EngineError(.unavailable, "no engine in adapter tests")
        }
        func embed(_ inputs: [String]) async throws -> Embeddings { throw EngineError(.unavailable, "no engine") }
        func tokenize(_ text: String) async throws -> [Int] { [] }
        func status() async -> EngineStatus {
            EngineStatus(
                engine: "none", model: "", runtimeVersion: "", loadMs: 0, contextPerSlot: 0, slots: [], queued: 0,
                promptCaches: [])
        }
        func buildPromptCache(name: String, system: String, directory: String) async throws -> PromptCacheInfo {
            throw EngineError(.unavailable, "no engine")
        }
        func shutdown() async {}
    }
}
