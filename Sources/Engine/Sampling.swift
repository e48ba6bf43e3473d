/// Sampling parameters. Every field is optional: nil means "the model's default" (the manifest's
/// `sampling`, else the engine's built-in default), so a request only carries what the client set.
public struct Sampling: Sendable, Codable, Equatable {
    /// 0 means greedy.
    public var temperature: Double?
    /// 0 disables.
    public var topK: Int?
    /// 1 disables.
    public var topP: Double?
    /// 0 disables.
    public var minP: Double?
    /// 1 disables.
    public var repeatPenalty: Double?
    /// How many recent tokens the penalties look at.
    public var repeatLastN: Int?
    /// 0 disables.
    public var frequencyPenalty: Double?
    /// 0 disables.
    public var presencePenalty: Double?
    /// Same seed and same request give the same text. nil: a random seed.
    public var seed: UInt32?
    public var mirostat: Mirostat?

    public struct Mirostat: Sendable, Codable, Equatable {
        /// 1 or 2.
        public var version: Int
        public var tau: Double
        public var eta: Double

        public init(version: Int, tau: Double = 5.0, eta: Double = 0.1) {
            self.version = version
            self.tau = tau
            self.eta = eta
        }
    }

    public init(
        temperature: Double? = nil, topK: Int? = nil, topP: Double? = nil, minP: Double? = nil,
        repeatPenalty: Double? = nil, repeatLastN: Int? = nil, frequencyPenalty: Double? = nil,
        presencePenalty: Double? = nil, seed: UInt32? = nil, mirostat: Mirostat? = nil
    ) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.minP = minP
        self.repeatPenalty = repeatPenalty
        self.repeatLastN = repeatLastN
        self.frequencyPenalty = frequencyPenalty
        self.presencePenalty = presencePenalty
        self.seed = seed
        self.mirostat = mirostat
    }

    /// Greedy decoding: the same output every time.
    public static let greedy = Sampling(temperature: 0)

    /// `self`, with every nil field taken from `defaults`.
    public func merged(over defaults: Sampling) -> Sampling {
        Sampling(
            temperature: temperature ?? defaults.temperature,
            topK: topK ?? defaults.topK,
            topP: topP ?? defaults.topP,
            minP: minP ?? defaults.minP,
            repeatPenalty: repeatPenalty ?? defaults.repeatPenalty,
            repeatLastN: repeatLastN ?? defaults.repeatLastN,
            frequencyPenalty: frequencyPenalty ?? defaults.frequencyPenalty,
            presencePenalty: presencePenalty ?? defaults.presencePenalty,
            seed: seed ?? defaults.seed,
            mirostat: mirostat ?? defaults.mirostat)
    }
}
