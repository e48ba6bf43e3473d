public import AXLLM
public import Engine
internal import Foundation
public import Logging
public import Manifest

/// Builds the engine a manifest model asks for.
public enum EngineFactory {
    public static func make(_ model: ResolvedModel, runtimes: ResolvedRuntimes, cacheDirectory: String, logger: Logger)
        async throws
        -> any Engine
    {
        switch (model.engine, model.source) {
        case (.llamacpp, .local(let path)):
            return try await LlamaEngine.load(
                llamaConfiguration(model, path: path, runtimes: runtimes, cacheDirectory: cacheDirectory, logger: logger))
        case (.rkllm, .local(let path)):
            return try await RKLLMEngine.load(
                rkllmConfiguration(model, path: path, runtimes: runtimes, cacheDirectory: cacheDirectory, logger: logger))
        case (.axllm, .local(let path)):
            return try await AXLLMEngine.load(axllmConfiguration(model, directory: path, logger: logger))
        case (.llamacpp, _), (.rkllm, _):
            // `ModelFiles.withLocalFiles` has already turned a downloaded file into its local path.
            throw EngineError(.modelLoadFailed, "model \(model.name): its file has not been downloaded (run runner apply)")
        default:
            throw EngineError(.unsupported, "engine \(model.engine.rawValue) is not implemented yet")
        }
    }

    /// Every llama.cpp setting the manifest declares for the model, as the engine's configuration.
    public static func llamaConfiguration(
        _ model: ResolvedModel, path: String, runtimes: ResolvedRuntimes, cacheDirectory: String, logger: Logger
    ) -> LlamaEngine.Configuration {
        let options = model.llamacpp
        var projector: String?
        if case .local(let path)? = model.vision?.file { projector = path }
        return LlamaEngine.Configuration(
            libraryPath: LlamaLibraryLocator.locate(manifestLibrary: runtimes.llamaLibrary), modelPath: path,
            projectorPath: projector, modelName: model.name, context: model.context, parallel: options?.parallel ?? 4,
            threads: options?.threads,
            sampling: Sampling(model.sampling), chatTemplate: model.chatTemplate.map(ChatTemplate.init),
            thinking: Bool(model.thinking), gpuLayers: options?.gpuLayers ?? 0, promptCacheDirectory: cacheDirectory,
            logger: logger)
    }

    /// An axllm model's server as the engine starts it. A server that dies or hangs cannot be recovered in
    /// process: the worker exits and its supervisor starts a fresh worker, and with it a fresh server.
    public static func axllmConfiguration(_ model: ResolvedModel, directory: String, logger: Logger) throws
        -> AXLLMEngine.Configuration
    {
        guard let options = model.axllm else {
            throw EngineError(.modelLoadFailed, "model \(model.name): the axllm server is not resolved")
        }
        return AXLLMEngine.Configuration(
            binary: options.binary, server: AXLLMEngine.Server(options.server), modelDirectory: directory,
            modelName: model.name, context: model.context, maxTokens: model.maxTokens, sampling: Sampling(model.sampling),
            thinking: Bool(model.thinking), arguments: options.args, port: options.port, tokenizer: options.tokenizer,
            devices: options.devices, startTimeout: options.startTimeout.duration, hangTimeout: options.hangTimeout.duration,
            onFailure: { _ in
                // The engine has logged what failed.
                logger.critical("exiting so the supervisor restarts this worker and its AXERA server")
                exit(75)
            }, logger: logger)
    }

    public static func rkllmConfiguration(
        _ model: ResolvedModel, path: String, runtimes: ResolvedRuntimes, cacheDirectory: String, logger: Logger
    ) -> RKLLMEngine.Configuration {
        let npu = model.npu
        let loras = model.lora.compactMap { lora -> RKLLMEngine.Configuration.LoRA? in
            guard case .local(let path) = lora.source else { return nil }
            return .init(name: lora.name, path: path, scale: lora.scale)
        }
        return RKLLMEngine.Configuration(
            libraryPath: runtimes.rkllmLibrary ?? RKLLMEngine.Configuration.defaultLibraryPath,
            abi: RKLLMRuntimeABI(runtimes.rkllmABI), modelPath: path, modelName: model.name, context: model.context,
            maxNewTokens: model.maxTokens, sampling: Sampling(model.sampling),
            chatTemplate: model.chatTemplate.map(ChatTemplate.init), thinking: Bool(model.thinking), cpus: npu?.cpus,
            domain: npu?.domain ?? 0, embedFlash: npu?.embedFlash ?? true, batch: npu?.batch ?? 1, loras: loras,
            vision: rkllmVision(model, runtimes: runtimes),
            promptCacheDirectory: cacheDirectory,
            onStuck: { message in
                // A runtime that ignores rkllm_abort cannot be recovered in process: exit, and the supervisor
                // starts a fresh worker.
                logger.critical("\(message); exiting so the supervisor restarts this worker")
                exit(75)
            }, logger: logger)
    }
}

extension EngineFactory {
    /// An rkllm model's encoder (its file already local) and tags, as the engine takes them.
    static func rkllmVision(_ model: ResolvedModel, runtimes: ResolvedRuntimes) -> RKLLMEngine.Configuration.Vision? {
        guard let vision = model.vision, case .local(let path) = vision.file, let tags = vision.tags else { return nil }
        return RKLLMEngine.Configuration.Vision(
            encoderPath: path, libraryPath: runtimes.rknnLibrary ?? RKLLMEngine.Configuration.Vision.defaultLibraryPath,
            decoderLibraryPath: LlamaLibraryLocator.locate(manifestLibrary: runtimes.llamaLibrary), start: tags.start,
            end: tags.end, content: tags.content, cores: vision.npuCores)
    }
}

extension Bool {
    /// `thinking: auto` leaves it to the engine.
    public init?(_ mode: ThinkingMode) {
        switch mode {
        case .auto: return nil
        case .on: self = true
        case .off: self = false
        }
    }
}

extension Sampling {
    public init(_ defaults: SamplingDefaults) {
        self.init(
            temperature: defaults.temperature, topK: defaults.topK, topP: defaults.topP, minP: defaults.minP,
            repeatPenalty: defaults.repeatPenalty, frequencyPenalty: defaults.frequencyPenalty,
            presencePenalty: defaults.presencePenalty, seed: defaults.seed.map { UInt32(truncatingIfNeeded: $0) },
            mirostat: defaults.mirostat.flatMap {
                $0 == 0 ? nil : Mirostat(version: $0, tau: defaults.mirostatTau ?? 5, eta: defaults.mirostatEta ?? 0.1)
            })
    }
}

extension ChatTemplate {
    public init(_ custom: CustomChatTemplate) {
        self.init(system: custom.system ?? "", prefix: custom.prefix ?? "", postfix: custom.postfix ?? "")
    }
}

extension ResolvedPromptCache {
    public func text() throws -> String {
        switch prompt {
        case .text(let text): return text
        case .file(let path): return try String(contentsOfFile: path, encoding: .utf8)
        }
    }
}

extension AXLLMEngine.Server {
    /// The manifest's `axllm.server`.
    public init(_ kind: AXLLMServerKind) {
        switch kind {
        case .serve: self = .serve
        case .legacy: self = .legacy
        }
    }
}

extension RKLLMRuntimeABI {
    /// The manifest's `runtimes.rkllm.abi`; nil for `auto`: read it from the library.
    public init?(_ abi: RKLLMABI) {
        switch abi {
        case .auto: return nil
        case .v1Dot2: self = .v1Dot2
        case .v1Dot3: self = .v1Dot3
        }
    }
}
