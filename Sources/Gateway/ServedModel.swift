public import Engine
public import Foundation
internal import Manifest
internal import Synchronization

/// A model as the HTTP surfaces see it: what to say about it, and the engine that answers for it (a
/// `WorkerClient` in `runner apply`, an in-process engine in tests).
public struct ServedModel: Sendable {
    public var name: String
    public var aliases: [String]
    /// `llamacpp`, `rkllm`, …
    public var engineKind: String
    /// Tokens one request may use.
    public var context: Int
    /// The model file's size in bytes, when there is a file.
    public var sizeBytes: Int64
    public var modifiedAt: Date
    /// sha256 of the model file when known (Ollama's `digest`).
    public var digest: String?
    /// e.g. "llama", from the file name or metadata; "" when unknown.
    public var family: String
    /// e.g. "Q4_1"; "" when unknown.
    public var quantization: String
    /// e.g. "135M"; "" when unknown.
    public var parameterSize: String
    public var capabilities: Set<ModelCapability>
    /// The chat template the model's file carries, when it can be read (Ollama's `template`).
    public var chatTemplate: String?
    /// The model's default sampling and limits, for Ollama's `/api/show` parameters.
    public var defaults: Sampling
    public var maxTokens: Int?
    public var engine: any Engine
    /// Whether the engine answers now (a worker's health check); in-process engines always do.
    public var isReady: @Sendable () async -> Bool

    public init(
        name: String, aliases: [String] = [], engineKind: String, context: Int, sizeBytes: Int64 = 0,
        modifiedAt: Date = Date(timeIntervalSince1970: 0), digest: String? = nil, family: String = "",
        quantization: String = "", parameterSize: String = "", capabilities: Set<ModelCapability> = [.completion],
        chatTemplate: String? = nil,
        defaults: Sampling = Sampling(), maxTokens: Int? = nil, engine: any Engine,
        isReady: @escaping @Sendable () async -> Bool = { true }
    ) {
        self.name = name
        self.aliases = aliases
        self.engineKind = engineKind
        self.context = context
        self.sizeBytes = sizeBytes
        self.modifiedAt = modifiedAt
        self.digest = digest
        self.family = family
        self.quantization = quantization
        self.parameterSize = parameterSize
        self.capabilities = capabilities
        self.chatTemplate = chatTemplate
        self.defaults = defaults
        self.maxTokens = maxTokens
        self.engine = engine
        self.isReady = isReady
    }
}

/// The models one endpoint exposes, found by name or alias case-insensitively, with Ollama's `:latest`
/// tag ignored (the same rule as the manifest's). `runner serve` replaces the list when the manifest
/// changes, so the listeners stay up while models come and go; a request keeps the model it resolved.
public final class ModelRegistry: Sendable {
    private let current: Mutex<[ServedModel]>

    public init(_ models: [ServedModel]) { current = Mutex(models) }

    public var models: [ServedModel] { current.withLock { $0 } }

    public func replace(with models: [ServedModel]) { current.withLock { $0 = models } }

    public func resolve(_ requested: String) -> ServedModel? {
        let key = Self.lookupKey(requested)
        return models.first { model in ([model.name] + model.aliases).contains { Self.lookupKey($0) == key } }
    }

    /// The manifest's own rule, so the APIs resolve a name exactly as `runner plan` and `status` do.
    static func lookupKey(_ name: String) -> String { ModelNaming.lookupKey(name) }
}
