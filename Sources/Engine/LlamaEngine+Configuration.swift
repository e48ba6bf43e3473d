public import Logging

extension LlamaEngine {
    /// Everything the llama.cpp engine needs, as plain values (the worker fills it from the manifest).
    public struct Configuration: Sendable {
        /// Path of libllama.so (opened with dlopen).
        public var libraryPath: String
        /// Path of the GGUF model file.
        public var modelPath: String
        /// Path of the model's image projector (an `mmproj` GGUF, run by libmtmd); nil: text only.
        public var projectorPath: String?
        /// Name shown in status (the manifest's model name).
        public var modelName: String
        /// Tokens ONE request may use, prompt and answer together. Every slot gets this much KV cache, so
        /// the context allocates `context × parallel` tokens in total (llama-server instead splits its
        /// n_ctx between slots; a user who writes `context: 4096` expects a 4096-token conversation).
        public var context: Int
        /// Sequence slots, i.e. requests decoded together (continuous batching). Later ones queue.
        public var parallel: Int
        /// CPU threads for decoding; nil: every core.
        public var threads: Int?
        /// Most tokens in one `llama_decode` (n_batch = n_ubatch).
        public var batchSize: Int
        /// Most prompt tokens prefilled in one step while other requests are generating: a long prompt is
        /// prefilled over several steps so the running streams keep getting tokens in between.
        public var prefillChunk: Int
        /// The model's sampling defaults; a request's own values override them field by field.
        public var sampling: Sampling
        /// Used when the GGUF has no chat template llama.cpp recognises.
        public var chatTemplate: ChatTemplate?
        /// The reasoning mode when a request does not say: nil leaves it to the model (a template with
        /// `<think>` blocks thinks, others do not).
        public var thinking: Bool?
        /// Layers offloaded to a GPU backend, when llama.cpp was built with one (0: all on the CPU).
        public var gpuLayers: Int
        /// Where prompt-cache presets are written (state file + sidecar JSON per preset).
        public var promptCacheDirectory: String?
        public var logger: Logger

        public init(
            libraryPath: String, modelPath: String, projectorPath: String? = nil, modelName: String? = nil,
            context: Int = 4096,
            parallel: Int = 4, threads: Int? = nil, batchSize: Int = 512, prefillChunk: Int = 128,
            sampling: Sampling = Sampling(), chatTemplate: ChatTemplate? = nil, thinking: Bool? = nil, gpuLayers: Int = 0,
            promptCacheDirectory: String? = nil, logger: Logger = Logger(label: "engine.llama")
        ) {
            self.libraryPath = libraryPath
            self.modelPath = modelPath
            self.projectorPath = projectorPath
            self.modelName = modelName ?? String(modelPath.split(separator: "/").last ?? Substring(modelPath))
            self.context = context
            self.parallel = parallel
            self.threads = threads
            self.batchSize = batchSize
            self.prefillChunk = prefillChunk
            self.sampling = sampling
            self.chatTemplate = chatTemplate
            self.thinking = thinking
            self.gpuLayers = gpuLayers
            self.promptCacheDirectory = promptCacheDirectory
            self.logger = logger
        }

        /// llama.cpp's usual defaults, for whatever neither the manifest nor the request sets.
        static let builtinSampling = Sampling(
            temperature: 0.8, topK: 40, topP: 0.95, minP: 0.05, repeatPenalty: 1.0, repeatLastN: 64,
            frequencyPenalty: 0, presencePenalty: 0)
    }
}
