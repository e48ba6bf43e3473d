import ArgumentParser
import Engine
import Foundation
import Logging
import Manifest
import Reconciler
import ServiceLifecycle
import UnixSignals
import Worker

extension RunnerCommand {
    struct WorkerCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "worker",
            abstract: "Host one model's engine behind the internal API (apply starts these; rarely run by hand).")

        @Option(help: "The model to host (name or alias).")
        var model: String

        @Option(help: "The manifest that declares it.")
        var manifest: String?

        @Option(help: "The worker definition `runner serve` wrote (instead of --manifest).")
        var definition: String?

        @OptionGroup var state: StateOptions

        func validate() throws {
            guard (manifest == nil) != (definition == nil) else {
                throw ValidationError("give exactly one of --manifest and --definition")
            }
        }

        func run() async throws {
            let (declared, runtimes) = try loadModel()
            var logger = Logger(label: "worker")
            logger[metadataKey: "model"] = .string(declared.name)
            let directory = state.stateDirectory
            // Hugging Face sources become their snapshot paths in the hub cache, which apply filled.
            let model: ResolvedModel
            do {
                model = try ModelFiles.withLocalFiles(declared, hub: HubCacheLayout(hub: directory.hubCache()))
            } catch {
                Console.error("error: worker \(declared.name): \(error)")
                throw ExitCode.failure
            }
            let cacheDirectory = directory.promptCaches.appendingPathComponent(model.name).path
            let socketPath = directory.workerSocket(model.name).path
            do {
                if let cpus = model.npu?.cpus, !cpus.isEmpty {
                    // Before the engine starts its threads, which inherit the mask.
                    if let problem = CPUAffinity.pinProcess(to: cpus) { logger.warning("CPU affinity not set: \(problem)") }
                }
                let engine = try await EngineFactory.make(
                    model, runtimes: runtimes, cacheDirectory: cacheDirectory, logger: logger)
                // A preset that cannot be built is reported and retried; the model serves without it.
                let warmup = PresetWarmup(
                    engine: engine,
                    presets: model.promptCaches.map { preset in .init(name: preset.name, text: { try preset.text() }) },
                    directory: cacheDirectory, logger: logger)
                await warmup.buildAll()
                let retries = Task { await warmup.retryFailed() }
                defer { retries.cancel() }
                try FileManager.default.createDirectory(atPath: directory.workers.path, withIntermediateDirectories: true)
                // A socket file left by a worker that died cannot be bound again.
                try? FileManager.default.removeItem(atPath: socketPath)
                let app = WorkerServer.application(
                    engine: engine, modelName: model.name, cacheDirectory: cacheDirectory, warmup: warmup, socketPath: socketPath,
                    logger: logger)
                let group = ServiceGroup(
                    configuration: .init(
                        services: [
                            .init(service: app),
                            .init(service: ParentWatch(), successTerminationBehavior: .gracefullyShutdownGroup),
                        ],
                        gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
                try await group.run()
                retries.cancel()
                await engine.shutdown()
                try? FileManager.default.removeItem(atPath: socketPath)
            } catch let error as EngineError {
                Console.error("error: worker \(model.name): \(error.message)")
                throw ExitCode.failure
            }
        }

        /// The model and runtimes, from the definition file or the manifest.
        func loadModel() throws -> (ResolvedModel, ResolvedRuntimes) {
            if let definition {
                do {
                    let loaded = try WorkerDefinition.read(from: URL(fileURLWithPath: definition))
                    return (loaded.model, loaded.runtimes)
                } catch {
                    Console.error("error: \(error)")
                    throw ExitCode.failure
                }
            }
            let manifest = manifest ?? ""
            let (_, resolved) = try loadManifestOrExit(manifest)
            guard let declared = resolved.model(named: model) else {
                Console.error("error: \(manifest) declares no model '\(self.model)'")
                throw ExitCode.failure
            }
            return (declared, resolved.runtimes)
        }
    }
}

/// Builds the engine a manifest model asks for.
enum EngineFactory {
    static func make(_ model: ResolvedModel, runtimes: ResolvedRuntimes, cacheDirectory: String, logger: Logger) async throws
        -> any Engine
    {
        switch (model.engine, model.source) {
        case (.llamacpp, .local(let path)):
            let options = model.llamacpp
            let configuration = LlamaEngine.Configuration(
                libraryPath: LlamaLibraryLocator.locate(manifestLibrary: runtimes.llamaLibrary), modelPath: path,
                modelName: model.name, context: model.context, parallel: options?.parallel ?? 4, threads: options?.threads,
                sampling: Sampling(model.sampling), chatTemplate: model.chatTemplate.map(ChatTemplate.init),
                promptCacheDirectory: cacheDirectory, logger: logger)
            return try await LlamaEngine.load(configuration)
        case (.rkllm, .local(let path)):
            return try await RKLLMEngine.load(
                rkllmConfiguration(model, path: path, runtimes: runtimes, cacheDirectory: cacheDirectory, logger: logger))
        case (.llamacpp, _), (.rkllm, _):
            // `ModelFiles.withLocalFiles` has already turned a downloaded file into its local path.
            throw EngineError(.modelLoadFailed, "model \(model.name): its file has not been downloaded (run runner apply)")
        default:
            throw EngineError(.unsupported, "engine \(model.engine.rawValue) is not implemented yet")
        }
    }

    static func rkllmConfiguration(
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
            promptCacheDirectory: cacheDirectory,
            onStuck: { message in
                // A runtime that ignores rkllm_abort cannot be recovered in process: exit, and the supervisor
                // starts a fresh worker.
                logger.critical("\(message); exiting so the supervisor restarts this worker")
                exit(75)
            }, logger: logger)
    }
}

extension Bool {
    /// `thinking: auto` leaves it to the engine.
    init?(_ mode: ThinkingMode) {
        switch mode {
        case .auto: return nil
        case .on: self = true
        case .off: self = false
        }
    }
}

extension Sampling {
    init(_ defaults: SamplingDefaults) {
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
    init(_ custom: CustomChatTemplate) {
        self.init(system: custom.system ?? "", prefix: custom.prefix ?? "", postfix: custom.postfix ?? "")
    }
}

extension ResolvedPromptCache {
    func text() throws -> String {
        switch prompt {
        case .text(let text): return text
        case .file(let path): return try String(contentsOfFile: path, encoding: .utf8)
        }
    }
}
