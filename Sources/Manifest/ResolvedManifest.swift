/// A validated manifest with every default applied and every name derived: what a device runs.
/// It is also what `runner apply` records as applied state, so it is `Codable` and compared for plans.
public struct ResolvedManifest: Codable, Sendable, Equatable {
    public var name: String
    public var labels: [String: String]
    public var selector: DeviceSelector?
    public var soc: SoC
    public var clocks: ClockPolicy
    public var runtimes: ResolvedRuntimes
    public var models: [ResolvedModel]
    public var endpoints: [ResolvedEndpoint]
    public var git: ResolvedGitSource?
    public var memory = ResolvedMemory()

    /// The model a request names: by name or alias, case-insensitively, with Ollama's `:latest` ignored.
    public func model(named requested: String) -> ResolvedModel? {
        let key = ModelNaming.lookupKey(requested)
        return models.first { $0.lookupKeys.contains(key) }
    }
}

extension ResolvedManifest {
    // Written by hand only so that `applied.json` files recorded before `memory` existed still decode.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        labels = try container.decode([String: String].self, forKey: .labels)
        selector = try container.decodeIfPresent(DeviceSelector.self, forKey: .selector)
        soc = try container.decode(SoC.self, forKey: .soc)
        clocks = try container.decode(ClockPolicy.self, forKey: .clocks)
        runtimes = try container.decode(ResolvedRuntimes.self, forKey: .runtimes)
        models = try container.decode([ResolvedModel].self, forKey: .models)
        endpoints = try container.decode([ResolvedEndpoint].self, forKey: .endpoints)
        git = try container.decodeIfPresent(ResolvedGitSource.self, forKey: .git)
        memory = try container.decodeIfPresent(ResolvedMemory.self, forKey: .memory) ?? ResolvedMemory()
    }
}

/// The memory the models may use together.
public struct ResolvedMemory: Codable, Sendable, Equatable {
    /// Bytes; nil: derived from the machine's available memory.
    public var budget: Int64?
    /// Bytes a derived budget leaves to the rest of the system; nil: the default reserve.
    public var reserve: Int64?

    public init(budget: Int64? = nil, reserve: Int64? = nil) {
        self.budget = budget
        self.reserve = reserve
    }
}

public struct ResolvedRuntimes: Codable, Sendable, Equatable {
    public var rkllmLibrary: String?
    public var rkllmABI: RKLLMABI
    public var llamaLibrary: String?
    public var axllmBinary: String?
    /// `librknnrt.so`, for rkllm models' vision encoders; nil: the engine's default.
    public var rknnLibrary: String?
}

public struct ResolvedModel: Codable, Sendable, Equatable {
    public var name: String
    public var aliases: [String]
    public var engine: EngineKind
    public var source: ResolvedSource
    public var context: Int
    public var maxTokens: Int?
    public var sampling: SamplingDefaults
    public var thinking: ThinkingMode
    public var chatTemplate: CustomChatTemplate?
    /// Set for rkllm models only.
    public var npu: ResolvedNPU?
    /// Set for llamacpp models only.
    public var llamacpp: ResolvedLlamaOptions?
    public var promptCaches: [ResolvedPromptCache]
    public var lora: [ResolvedLoRA]
    public var lifecycle: ResolvedLifecycle
    /// Set for models that take images.
    public var vision: ResolvedVision?
    /// Set for axllm models only.
    public var axllm: ResolvedAXLLMOptions?

    public var lookupKeys: [String] { ([name] + aliases).map(ModelNaming.lookupKey) }
}

public enum ResolvedSource: Codable, Sendable, Equatable {
    /// An absolute local path.
    case local(path: String)
    case huggingface(repo: String, file: String, revision: String, sha256: String?)
    case upstream(url: String, model: String)

    public var fileName: String? {
        switch self {
        case .local(let path): path.split(separator: "/").last.map(String.init)
        case .huggingface(_, let file, _, _): file.split(separator: "/").last.map(String.init)
        case .upstream: nil
        }
    }
}

public struct ResolvedNPU: Codable, Sendable, Equatable {
    /// nil: the runtime's default cores for the detected SoC.
    public var cpus: [Int]?
    public var domain: Int
    public var embedFlash: Bool
    public var batch: Int
}

public struct ResolvedLlamaOptions: Codable, Sendable, Equatable {
    /// nil: one thread per core.
    public var threads: Int?
    public var parallel: Int
    public var gpuLayers: Int
}

public struct ResolvedPromptCache: Codable, Sendable, Equatable {
    public enum Prompt: Codable, Sendable, Equatable {
        case text(String)
        /// An absolute path to a text file, read when the cache is built.
        case file(String)
    }

    public var name: String
    public var prompt: Prompt
}

public struct ResolvedLoRA: Codable, Sendable, Equatable {
    public var name: String
    public var source: ResolvedSource
    public var scale: Double
}

public struct ResolvedVision: Codable, Sendable, Equatable {
    /// llamacpp: the `mmproj` GGUF; rkllm: the RKNN vision encoder.
    public var file: ResolvedSource
    /// rkllm only: the tags around and inside an image's embeddings.
    public var tags: ImageTags?
    /// rkllm only: NPU cores for the encoder; nil: the runtime chooses.
    public var npuCores: [Int]?
}

public struct ImageTags: Codable, Sendable, Equatable {
    public var start: String
    public var end: String
    public var content: String

    public init(start: String, end: String, content: String) {
        self.start = start
        self.end = end
        self.content = content
    }
}

public struct ResolvedLifecycle: Codable, Sendable, Equatable {
    public var preload: Bool
    public var idleTimeout: ManifestDuration?
    public var restart: RestartPolicy
    /// Never evicted under the memory budget and never stopped for being idle.
    public var pinned = false
}

extension ResolvedLifecycle {
    // Written by hand only so that `applied.json` files recorded before `pinned` existed still decode.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        preload = try container.decode(Bool.self, forKey: .preload)
        idleTimeout = try container.decodeIfPresent(ManifestDuration.self, forKey: .idleTimeout)
        restart = try container.decode(RestartPolicy.self, forKey: .restart)
        pinned = try container.decodeIfPresent(Bool.self, forKey: .pinned) ?? false
    }
}

public struct ResolvedEndpoint: Codable, Sendable, Equatable {
    public var name: String
    public var listen: ListenAddress
    public var apis: [APIKind]
    /// Canonical model names.
    public var models: [String]
    /// Absolute path.
    public var tokensFile: String?
    public var corsOrigins: [String]
    public var maxBodyBytes: Int
    /// nil: image URLs are refused.
    public var remoteImages: ResolvedRemoteImages?
}

public struct ResolvedRemoteImages: Codable, Sendable, Equatable {
    /// Lower-cased; `*` allows any host.
    public var hosts: [String]
    public var timeout: ManifestDuration
    public var maxBytes: Int

    public static let defaultTimeout = ManifestDuration.seconds(10)
    public static let defaultMaxBytes = 20 << 20
}

public struct ResolvedGitSource: Codable, Sendable, Equatable {
    public var url: String
    public var branch: String
    public var path: String
    public var interval: ManifestDuration
}

extension ImageTags {
    /// The tags of the vision-language families Rockchip converts, told by a file name (the vendor's
    /// documentation names them per family; MiniCPM-V's come from rkllama's model files).
    public static func family(ofFile fileName: String) -> ImageTags? {
        let name = fileName.lowercased()
        if name.contains("qwen"), name.contains("vl") || name.contains("qwen3.5") || name.contains("qwen3_5") {
            return ImageTags(start: "<|vision_start|>", end: "<|vision_end|>", content: "<|image_pad|>")
        }
        if name.contains("internvl") { return ImageTags(start: "<img>", end: "</img>", content: "<IMG_CONTEXT>") }
        if name.contains("minicpm") { return ImageTags(start: "<image>", end: "</image>", content: "<unk>") }
        if name.contains("deepseekocr") || name.contains("deepseek-ocr") {
            return ImageTags(start: "", end: "", content: "<\u{FF5C}\u{2581}pad\u{2581}\u{FF5C}>")
        }
        return nil
    }
}

/// An axllm model's server, with the binary and generation decided.
public struct ResolvedAXLLMOptions: Codable, Sendable, Equatable {
    public var server: AXLLMServerKind
    /// Absolute.
    public var binary: String
    public var args: [String]
    public var port: Int?
    public var tokenizer: [String]?
    public var devices: [Int]?
    public var startTimeout: ManifestDuration
    public var hangTimeout: ManifestDuration

    public static let defaultStartTimeout = ManifestDuration.seconds(300)
    public static let defaultHangTimeout = ManifestDuration.seconds(60)

    public init(
        server: AXLLMServerKind, binary: String, args: [String] = [], port: Int? = nil, tokenizer: [String]? = nil,
        devices: [Int]? = nil, startTimeout: ManifestDuration = defaultStartTimeout,
        hangTimeout: ManifestDuration = defaultHangTimeout
    ) {
        self.server = server
        self.binary = binary
        self.args = args
        self.port = port
        self.tokenizer = tokenizer
        self.devices = devices
        self.startTimeout = startTimeout
        self.hangTimeout = hangTimeout
    }

    private enum CodingKeys: String, CodingKey {
        case server, binary, args, port, tokenizer, devices, startTimeout, hangTimeout
    }

    /// A state file written before `hangTimeout` existed reads as the default.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            server: try c.decode(AXLLMServerKind.self, forKey: .server), binary: try c.decode(String.self, forKey: .binary),
            args: try c.decode([String].self, forKey: .args), port: try c.decodeIfPresent(Int.self, forKey: .port),
            tokenizer: try c.decodeIfPresent([String].self, forKey: .tokenizer),
            devices: try c.decodeIfPresent([Int].self, forKey: .devices),
            startTimeout: try c.decode(ManifestDuration.self, forKey: .startTimeout),
            hangTimeout: try c.decodeIfPresent(ManifestDuration.self, forKey: .hangTimeout) ?? Self.defaultHangTimeout)
    }
}
