public struct Model: Codable, Sendable, Equatable {
    public var name: String?
    public var aliases: [String]?
    public var engine: EngineKind?
    public var source: ModelSource?
    public var upstream: Upstream?
    public var context: Int?
    public var maxTokens: Int?
    public var sampling: SamplingDefaults?
    public var thinking: ThinkingMode?
    public var chatTemplate: CustomChatTemplate?
    public var npu: NPUOptions?
    public var llamacpp: LlamaOptions?
    public var promptCaches: [PromptCache]?
    public var lora: [LoRA]?
    public var lifecycle: Lifecycle?
    public var vision: Vision?
    public var axllm: AXLLMOptions?
}

public enum EngineKind: String, ManifestEnum {
    case rkllm, llamacpp, axllm, upstream

    /// The model file extension an engine loads, when it loads one file.
    public var fileExtension: String? {
        switch self {
        case .rkllm: "rkllm"
        case .llamacpp: "gguf"
        case .axllm, .upstream: nil
        }
    }
}

/// Where a model file comes from: exactly one of `path` and `huggingface`.
public struct ModelSource: Codable, Sendable, Equatable {
    /// A local file; relative paths are relative to the manifest's directory.
    public var path: String?
    public var huggingface: HuggingFaceSource?
}

public struct HuggingFaceSource: Codable, Sendable, Equatable {
    public var repo: String
    public var file: String
    public var revision: String?
    public var sha256: String?
}

/// An existing OpenAI-compatible server this model is proxied to.
public struct Upstream: Codable, Sendable, Equatable {
    public var url: String
    /// The model's name on that server; defaults to this model's name.
    public var model: String?
}

public struct SamplingDefaults: Codable, Sendable, Equatable {
    public var temperature: Double?
    public var topK: Int?
    public var topP: Double?
    public var minP: Double?
    public var repeatPenalty: Double?
    public var frequencyPenalty: Double?
    public var presencePenalty: Double?
    public var seed: Int?
    public var mirostat: Int?
    public var mirostatTau: Double?
    public var mirostatEta: Double?
}

public enum ThinkingMode: String, ManifestEnum {
    case auto, on, off

    // YAML 1.1 reads bare on/off/yes/no as booleans; accept the boolean spellings too.
    public static var aliases: [String: ThinkingMode] { ["true": .on, "yes": .on, "false": .off, "no": .off] }
}

/// A prompt template for models whose own template is missing or unsupported: the prompt is
/// `system` (once, before the first user turn) + for each user turn `prefix` + text + `postfix`.
public struct CustomChatTemplate: Codable, Sendable, Equatable {
    public var system: String?
    public var prefix: String?
    public var postfix: String?
}

public struct NPUOptions: Codable, Sendable, Equatable {
    /// CPU cores the runtime's host-side threads may use (rkllm `enabled_cpus_mask`).
    public var cpus: [Int]?
    /// IOMMU domain (rkllm `base_domain_id`); give large models on one board different domains.
    public var domain: Int?
    /// Keep the embedding table in flash instead of RAM.
    public var embedFlash: Bool?
    /// Requests decoded together in one forward pass (rkllm `n_batch`).
    public var batch: Int?
}

/// How an `axllm` model's vendor server is started.
public struct AXLLMOptions: Codable, Sendable, Equatable {
    /// `serve` (`axllm serve`) or `legacy` (`main_api_*`); told from the binary's name when absent.
    public var server: AXLLMServerKind?
    /// The server binary; `runtimes.axllm.binary` when absent.
    public var binary: String?
    /// Legacy: the command-line flags, as the vendor's run script passes them.
    public var args: [String]?
    /// Legacy: the port the binary listens on (8000 in the vendor's builds).
    public var port: Int?
    /// Legacy: the tokenizer service's command; the runner appends `--port N`.
    public var tokenizer: [String]?
    /// AXCL cards the server uses.
    public var devices: [Int]?
    /// How long the server may take to answer after it starts.
    public var startTimeout: ManifestDuration?
    /// How long the running server may leave the runner waiting before it counts as hung and is killed.
    public var hangTimeout: ManifestDuration?
}

public enum AXLLMServerKind: String, ManifestEnum {
    case serve, legacy
}

public struct LlamaOptions: Codable, Sendable, Equatable {
    public var threads: Int?
    /// Sequence slots served concurrently from one context.
    public var parallel: Int?
    public var gpuLayers: Int?
}

/// A system prompt whose KV cache is built once and restored at request time: exactly one of `system`
/// (the text) and `file` (a text file holding it, relative to the manifest).
public struct PromptCache: Codable, Sendable, Equatable {
    public var name: String
    public var system: String?
    public var file: String?
}

public struct LoRA: Codable, Sendable, Equatable {
    public var name: String
    public var source: ModelSource
    public var scale: Double?
}

/// The part of a vision-language model that turns images into the model's input embeddings.
public struct Vision: Codable, Sendable, Equatable {
    /// llamacpp: the multimodal projector (`mmproj` GGUF) made for this model.
    public var projector: ModelSource?
    /// rkllm: the vision encoder converted for the NPU (`.rknn`), run by the RKNN runtime.
    public var encoder: ModelSource?
    /// rkllm: the text of the model's image start, end and per-token content tags.
    public var imageStart: String?
    public var imageEnd: String?
    public var imageContent: String?
    /// rkllm: NPU cores the encoder runs on (`rknn_set_core_mask`).
    public var npuCores: [Int]?
}

public struct Lifecycle: Codable, Sendable, Equatable {
    /// Load the model when the worker starts rather than on the first request.
    public var preload: Bool?
    /// Stop the worker after this long without requests; it starts again on the next one.
    public var idleTimeout: ManifestDuration?
    public var restart: RestartPolicy?
    /// Never evicted to make room for another model and never stopped for being idle.
    public var pinned: Bool?
}

public enum RestartPolicy: String, ManifestEnum {
    case always
    case onFailure = "on-failure"
    case never
}
