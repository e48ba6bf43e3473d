/// An inference engine hosting one model. Every engine (llama.cpp, RKLLM, ...) speaks these canonical
/// types; the worker serves them over its internal API and the gateway adapts them to OpenAI and Ollama.
public protocol Engine: Sendable {
    /// Starts a generation. Throws before streaming anything when the request cannot run at all (a prompt
    /// longer than the context, an unknown prompt cache, an unsupported input). Failures after that end the
    /// stream with `done(reason: .error)`. The stream always ends with one `done`; when the consumer stops
    /// iterating, the generation is cancelled and its slot freed.
    func generate(_ request: GenerationRequest) async throws -> AsyncThrowingStream<GenerationEvent, any Error>

    /// Pooled, L2-normalised embeddings, one per input.
    func embed(_ inputs: [String]) async throws -> Embeddings

    /// The model's tokens for `text` (special-token text such as `<|im_start|>` is parsed as such).
    func tokenize(_ text: String) async throws -> [Int]

    func status() async -> EngineStatus

    /// Makes the prompt-cache preset `name` ready: the KV state of `system` (rendered as the start of a
    /// conversation) saved under `directory`. A file left by an earlier run is reused when it was built
    /// from the same model, runtime and prompt; otherwise it is rebuilt. Requests that name the preset, or
    /// whose prompt starts with it, then skip computing that prefix.
    func buildPromptCache(name: String, system: String, directory: String) async throws -> PromptCacheInfo

    /// Stops accepting requests, ends the running ones with `done(cancelled)` and releases the model.
    func shutdown() async
}

public struct Embeddings: Sendable, Codable, Equatable {
    public var vectors: [[Float]]
    public var promptTokens: Int

    public init(vectors: [[Float]], promptTokens: Int) {
        self.vectors = vectors
        self.promptTokens = promptTokens
    }
}

/// A snapshot of what the engine is doing, for `/status` and metrics.
public struct EngineStatus: Sendable, Codable, Equatable {
    public struct Slot: Sendable, Codable, Equatable {
        public enum State: String, Sendable, Codable, Equatable { case idle, prefilling, generating }
        public var id: Int
        public var state: State
        /// Tokens held in this slot's KV cache (reusable as a prefix).
        public var cachedTokens: Int

        public init(id: Int, state: State, cachedTokens: Int) {
            self.id = id
            self.state = state
            self.cachedTokens = cachedTokens
        }
    }

    public var engine: String
    public var model: String
    /// Version string of the runtime library.
    public var runtimeVersion: String
    /// Model load time at startup.
    public var loadMs: Double
    /// Tokens one request may use (prompt + answer).
    public var contextPerSlot: Int
    public var slots: [Slot]
    /// Requests waiting for a free slot.
    public var queued: Int
    public var promptCaches: [String]
    /// Declared presets that could not be built, with why and when the worker tries again (the worker's
    /// warm-up fills this in; an engine on its own leaves it nil).
    public var promptCacheFailures: [PromptCacheFailure]?

    public init(
        engine: String, model: String, runtimeVersion: String, loadMs: Double, contextPerSlot: Int,
        slots: [Slot], queued: Int, promptCaches: [String]
    ) {
        self.engine = engine
        self.model = model
        self.runtimeVersion = runtimeVersion
        self.loadMs = loadMs
        self.contextPerSlot = contextPerSlot
        self.slots = slots
        self.queued = queued
        self.promptCaches = promptCaches
    }
}

public struct PromptCacheInfo: Sendable, Codable, Equatable {
    public var name: String
    /// The state file.
    public var path: String
    public var tokens: Int
    /// False when a valid file from an earlier run was reused as is.
    public var rebuilt: Bool
    public var buildMs: Double

    public init(name: String, path: String, tokens: Int, rebuilt: Bool, buildMs: Double) {
        self.name = name
        self.path = path
        self.tokens = tokens
        self.rebuilt = rebuilt
        self.buildMs = buildMs
    }
}

/// A prompt-cache preset that could not be built. The model serves without it meanwhile.
public struct PromptCacheFailure: Sendable, Codable, Equatable {
    public var name: String
    /// Why the last attempt failed.
    public var error: String
    /// Attempts so far.
    public var attempts: Int
    /// Seconds until the next attempt; nil while one is running.
    public var retryInSeconds: Double?

    public init(name: String, error: String, attempts: Int, retryInSeconds: Double?) {
        self.name = name
        self.error = error
        self.attempts = attempts
        self.retryInSeconds = retryInSeconds
    }
}

/// A model's prompt-cache presets: the ones ready to use and the ones that failed to build.
public struct PromptCacheReport: Sendable, Codable, Equatable {
    public var ready: [String]
    public var failed: [PromptCacheFailure]

    public init(ready: [String], failed: [PromptCacheFailure] = []) {
        self.ready = ready
        self.failed = failed
    }

    /// What a worker's status says about its presets.
    public init(_ status: EngineStatus) {
        self.init(ready: status.promptCaches, failed: status.promptCacheFailures ?? [])
    }
}
