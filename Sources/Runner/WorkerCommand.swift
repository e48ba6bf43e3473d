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
