import Engine
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Synchronization
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

    static let chatModel = OpenAIAdapter.ModelTraits(name: "m", capabilities: [.completion, .tools])
    static let visionModel = OpenAIAdapter.ModelTraits(name: "v", capabilities: [.completion, .vision])
    /// A whole 1×1 PNG: the gateway reads an image's header before passing it on.
    static let onePixelPNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
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

    /// Like `LiveGateway.with`, but serving `engine` (e.g. a `ProbedEngine` around the real one).
    static func serve(
        _ engine: any Engine, _ body: @Sendable (_ base: String, _ gateway: Gateway) async throws -> Void
    ) async throws {
        let gateway = Gateway(registry: ModelRegistry([LiveGateway.model(engine)]), version: "0.1.0-test")
        let endpoint = GatewayServer.Endpoint(name: "test", address: .hostname("127.0.0.1", port: 0), apis: [.openai])
        let app = GatewayServer.application(endpoint: endpoint, gateway: gateway, logger: Logger(label: "openai-test"))
        try await app.test(.live) { client in
            guard let port = client.port else { throw CancellationError() }
            try await body("http://127.0.0.1:\(port)", gateway)
        }
    }
}

/// Forwards to a real engine and records how each generation's stream ended for its consumer: after `done`,
/// or cancelled before it (the consumer went away), which is what the disconnect test must see.
final class ProbedEngine: Engine {
    enum Ending: Sendable, Equatable {
        case done(Completion.Reason)
        case cancelled
        case failed
    }

    /// The first ending of one generation wins: a stream cancelled after its `done` still ended with `done`.
    final class Once: Sendable {
        private let ending = Mutex<Ending?>(nil)
        private let log: ProbedEngine

        init(_ log: ProbedEngine) { self.log = log }

        func record(_ value: Ending) {
            let first = ending.withLock { current -> Bool in
                guard current == nil else { return false }
                current = value
                return true
            }
            if first { log.endings.withLock { $0.append(value) } }
        }
    }

    let base: any Engine
    fileprivate let endings = Mutex<[Ending]>([])

    init(_ base: any Engine) { self.base = base }

    var recorded: [Ending] { endings.withLock { $0 } }

    func generate(_ request: GenerationRequest) async throws -> AsyncThrowingStream<GenerationEvent, any Error> {
        let upstream = try await base.generate(request)
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: GenerationEvent.self)
        let once = Once(self)
        let pump = Task {
            do {
                for try await event in upstream {
                    if case .done(let completion) = event { once.record(.done(completion.reason)) }
                    continuation.yield(event)
                }
                continuation.finish()
            } catch {
                once.record(.failed)
                continuation.finish(throwing: error)
            }
        }
        continuation.onTermination = { termination in
            if case .cancelled = termination { once.record(.cancelled) }
            pump.cancel()
        }
        return stream
    }

    func embed(_ inputs: [String]) async throws -> Embeddings { try await base.embed(inputs) }
    func tokenize(_ text: String) async throws -> [Int] { try await base.tokenize(text) }
    func status() async -> EngineStatus { await base.status() }
    func buildPromptCache(name: String, system: String, directory: String) async throws -> PromptCacheInfo {
        try await base.buildPromptCache(name: name, system: system, directory: directory)
    }
    func shutdown() async {}
}
