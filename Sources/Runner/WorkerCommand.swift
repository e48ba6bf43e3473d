import ArgumentParser
import Engine
import Foundation
import Logging
import Manifest
import Reconciler
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
            let host = WorkerHost(
                model: model, runtimes: runtimes,
                cacheDirectory: directory.promptCaches.appendingPathComponent(model.name).path,
                socketPath: directory.workerSocket(model.name).path, logger: logger)
            do {
                try await host.run(until: [ParentWatch()])
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
