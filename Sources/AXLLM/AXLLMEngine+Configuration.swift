public import Engine
public import Logging

extension AXLLMEngine {
    /// The two generations of AXERA's LLM server.
    public enum Server: String, Sendable, Codable, Equatable {
        /// `axllm serve <model_dir> --port N`: OpenAI chat completions, stateless with prefix reuse.
        case serve
        /// `main_api_ax650` / `main_api_axcl_*`: one stateful session driven by reset, generate and polling.
        case legacy
    }

    public struct Configuration: Sendable {
        public var binary: String
        public var server: Server
        /// The model directory: `axllm serve` reads its config.json; the legacy server runs in it, so the
        /// relative paths of its flags resolve there.
        public var modelDirectory: String
        public var modelName: String
        /// Tokens the model's KV cache holds (prompt and answer), as the model was compiled.
        public var context: Int
        /// The manifest's answer limit, when the request sets none.
        public var maxTokens: Int?
        public var sampling: Sampling
        public var thinking: Bool?
        /// Legacy: the command-line flags, as the vendor's run script passes them.
        public var arguments: [String]
        /// Legacy: the port the binary listens on (the vendor's builds hard-code 8000).
        public var port: Int?
        /// Legacy: the tokenizer service's command; the engine appends `--port N` and passes its URL to the server.
        public var tokenizer: [String]?
        /// AXCL cards (`AXLLM_DEVICES` for serve, `--devices` for the legacy AXCL builds).
        public var devices: [Int]?
        public var startTimeout: Duration
        /// How long the server may leave the engine waiting before it counts as hung and is killed: a call or
        /// an idle health probe unanswered, a streamed answer with no byte (a prompt's prefill included), the
        /// legacy server's "llm is running" or a generation that does not stop when told.
        public var hangTimeout: Duration
        /// Requests that may wait while one runs; more are refused as busy.
        public var queueLimit: Int
        /// How often the legacy server is polled for new text.
        public var pollInterval: Duration
        /// Called when the vendor server dies or hangs: it cannot be recovered in process, so the worker exits
        /// and its supervisor starts a fresh one (with a fresh vendor server).
        public var onFailure: @Sendable (String) -> Void
        public var logger: Logger

        public init(
            binary: String, server: Server, modelDirectory: String, modelName: String, context: Int, maxTokens: Int? = nil,
            sampling: Sampling = Sampling(), thinking: Bool? = nil, arguments: [String] = [], port: Int? = nil,
            tokenizer: [String]? = nil, devices: [Int]? = nil, startTimeout: Duration = .seconds(300),
            hangTimeout: Duration = .seconds(60), queueLimit: Int = 16, pollInterval: Duration = .milliseconds(10),
            onFailure: @escaping @Sendable (String) -> Void = { _ in }, logger: Logger = Logger(label: "axllm")
        ) {
            self.binary = binary
            self.server = server
            self.modelDirectory = modelDirectory
            self.modelName = modelName
            self.context = context
            self.maxTokens = maxTokens
            self.sampling = sampling
            self.thinking = thinking
            self.arguments = arguments
            self.port = port
            self.tokenizer = tokenizer
            self.devices = devices
            self.startTimeout = startTimeout
            self.hangTimeout = hangTimeout
            self.queueLimit = queueLimit
            self.pollInterval = pollInterval
            self.onFailure = onFailure
            self.logger = logger
        }
    }
}
