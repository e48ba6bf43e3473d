import Synchronization

/// The llama.cpp engine: one model, one context with `parallel` sequence slots, continuous batching, prefix
/// reuse, prompt-cache presets and embeddings. Every llama.cpp call runs on one dedicated thread
/// (`EngineThread`); this type only passes requests to it and streams results back.
public final class LlamaEngine: Engine {
    public let configuration: Configuration
    private let thread: EngineThread<LlamaRuntime>
    private let nextRequestID = Atomic<UInt64>(1)

    private init(configuration: Configuration, thread: EngineThread<LlamaRuntime>) {
        self.configuration = configuration
        self.thread = thread
    }

    deinit {
        thread.requestStop()
    }

    /// Opens the library, loads the model and starts the engine thread. Throws `EngineError`
    /// (`libraryNotFound`, `symbolMissing`, `modelLoadFailed`, `contextFailed`).
    public static func load(_ configuration: Configuration) async throws -> LlamaEngine {
        let thread = try await EngineThread<LlamaRuntime>.start(name: "llama:\(configuration.modelName)") {
            try LlamaRuntime(configuration: configuration)
        }
        return LlamaEngine(configuration: configuration, thread: thread)
    }

    public func generate(_ request: GenerationRequest) async throws -> AsyncThrowingStream<GenerationEvent, any Error> {
        let id = nextRequestID.add(1, ordering: .relaxed).oldValue
        let submitted = ContinuousClock.now
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: GenerationEvent.self)
        let thread = self.thread
        continuation.onTermination = { termination in
            // `.finished` is the engine's own `finish()`; `.cancelled` means the consumer went away.
            if case .cancelled = termination { thread.submit { $0.cancel(id) } }
        }
        try await withTaskCancellationHandler {
            try await thread.run { runtime in
                try runtime.submit(request, id: id, submitted: submitted, continuation: continuation)
            }
        } onCancel: {
            thread.submit { $0.cancel(id) }
        }
        if Task.isCancelled {
            thread.submit { $0.cancel(id) }
            throw CancellationError()
        }
        return stream
    }

    public func embed(_ inputs: [String]) async throws -> Embeddings {
        try await thread.run { runtime in try runtime.embed(inputs) }
    }

    public func tokenize(_ text: String) async throws -> [Int] {
        try await thread.run { runtime in runtime.tokenize(text) }
    }

    public func status() async -> EngineStatus {
        (try? await thread.run { runtime in runtime.status() })
            ?? EngineStatus(
                engine: "llamacpp", model: configuration.modelName, runtimeVersion: "", loadMs: 0,
                contextPerSlot: configuration.context, slots: [], queued: 0, promptCaches: [])
    }

    public func buildPromptCache(name: String, system: String, directory: String) async throws -> PromptCacheInfo {
        try await withCheckedThrowingContinuation { continuation in
            let accepted = thread.submit { runtime in
                runtime.buildPromptCache(name: name, system: system, directory: directory) { result in
                    continuation.resume(with: result)
                }
            }
            if !accepted { continuation.resume(throwing: EngineError(.unavailable, "the engine is shutting down")) }
        }
    }

    public func shutdown() async {
        await thread.stop()
    }
}

extension LlamaRuntime {
    func embed(_ inputs: [String]) throws(EngineError) -> Embeddings {
        if embedder == nil {
            embedder = try LlamaEmbedder(
                model: model, maxTokens: min(model.contextPerSlot, 2048),
                threads: Int32(model.threads))
        }
        var vectors: [[Float]] = []
        var tokens = 0
        for input in inputs {
            let inputTokens = model.tokenize(input)
            tokens += inputTokens.count
            vectors.append(try embedder!.embed(inputTokens))
        }
        return Embeddings(vectors: vectors, promptTokens: tokens)
    }
}
