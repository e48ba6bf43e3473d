public import Logging

extension RKLLMEngine {
    /// Everything the rkllm engine needs, as plain values (the worker fills it from the manifest).
    public struct Configuration: Sendable {
        /// Where the vendor's install scripts put the runtime.
        public static let defaultLibraryPath = "/usr/lib/librkllmrt.so"

        /// Path of librkllmrt.so (or RKLLMSim's build of it).
        public var libraryPath: String
        /// nil: read the version the library carries and refuse when there is none.
        public var abi: RKLLMRuntimeABI?
        public var modelPath: String
        public var modelName: String
        /// `max_context_len`: prompt, history and answer together.
        public var context: Int
        /// Default cap on generated tokens; nil: until the context is full.
        public var maxNewTokens: Int?
        public var sampling: Sampling
        /// Replaces the model's own template (rkllm_set_chat_template).
        public var chatTemplate: ChatTemplate?
        /// `enable_thinking` when a request does not say; nil: on (models without thinking ignore it).
        public var thinking: Bool?
        /// NPU placement.
        public var cpus: [Int]?
        public var domain: Int
        public var embedFlash: Bool
        /// Requests run together as one multi-batch run (`n_batch`).
        public var batch: Int
        /// Adapters loaded at start, selected per request by name.
        public var loras: [LoRA]
        public var promptCacheDirectory: String?
        /// Requests that may wait for the runtime; one more is refused (`busy`, HTTP 429).
        public var queueLimit: Int
        /// How long an aborted run may take to stop before the runtime counts as stuck.
        public var abortGrace: Duration
        /// Called (from a timer thread) when an aborted run does not stop within `abortGrace`. The worker
        /// exits so the supervisor restarts it: a wedged vendor runtime cannot be recovered in process.
        public var onStuck: @Sendable (String) -> Void
        public var logger: Logger

        /// The model's vision part; nil: text only.
        public var vision: Vision?

        /// An RKNN vision encoder and what the model needs around its embeddings.
        public struct Vision: Sendable, Equatable {
            /// The `.rknn` file.
            public var encoderPath: String
            /// `librknnrt.so` (or RKNNSim).
            public var libraryPath: String
            /// libllama's path: images are decoded with llama.cpp's libmtmd, which sits next to it.
            public var decoderLibraryPath: String
            /// The model's image start, end and per-token content tags.
            public var start: String
            public var end: String
            public var content: String
            /// NPU cores for the encoder; nil: the runtime chooses.
            public var cores: [Int]?

            public static let defaultLibraryPath = "/usr/lib/librknnrt.so"

            public init(
                encoderPath: String, libraryPath: String = defaultLibraryPath, decoderLibraryPath: String, start: String,
                end: String, content: String, cores: [Int]? = nil
            ) {
                self.encoderPath = encoderPath
                self.libraryPath = libraryPath
                self.decoderLibraryPath = decoderLibraryPath
                self.start = start
                self.end = end
                self.content = content
                self.cores = cores
            }
        }

        public struct LoRA: Sendable, Equatable {
            public var name: String
            public var path: String
            public var scale: Double

            public init(name: String, path: String, scale: Double = 1) {
                self.name = name
                self.path = path
                self.scale = scale
            }
        }

        public init(
            libraryPath: String, abi: RKLLMRuntimeABI? = nil, modelPath: String, modelName: String? = nil,
            context: Int = 4096, maxNewTokens: Int? = nil, sampling: Sampling = Sampling(),
            chatTemplate: ChatTemplate? = nil, thinking: Bool? = nil, cpus: [Int]? = nil, domain: Int = 0,
            embedFlash: Bool = true, batch: Int = 1, loras: [LoRA] = [], vision: Vision? = nil,
            promptCacheDirectory: String? = nil,
            queueLimit: Int = 16, abortGrace: Duration = .seconds(10),
            onStuck: @escaping @Sendable (String) -> Void = { _ in },
            logger: Logger = Logger(label: "engine.rkllm")
        ) {
            self.libraryPath = libraryPath
            self.abi = abi
            self.modelPath = modelPath
            self.modelName = modelName ?? String(modelPath.split(separator: "/").last ?? Substring(modelPath))
            self.context = context
            self.maxNewTokens = maxNewTokens
            self.sampling = sampling
            self.chatTemplate = chatTemplate
            self.thinking = thinking
            self.cpus = cpus
            self.domain = domain
            self.embedFlash = embedFlash
            self.batch = batch
            self.loras = loras
            self.vision = vision
            self.promptCacheDirectory = promptCacheDirectory
            self.queueLimit = queueLimit
            self.abortGrace = abortGrace
            self.onStuck = onStuck
            self.logger = logger
        }
    }
}
