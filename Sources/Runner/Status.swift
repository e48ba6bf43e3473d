import ArgumentParser
import Foundation
import Manifest
import Reconciler

extension RunnerCommand {
    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show what the last apply made real and which workers are running.")

        @OptionGroup var state: StateOptions

        func run() throws {
            let directory = state.stateDirectory
            let observer = StateObserver(state: directory, hub: HubCacheLayout(hub: directory.hubCache()))
            guard let applied = try observer.readAppliedManifest() else {
                Console.out("nothing applied yet (state: \(directory.root.path))")
                return
            }
            let observed = try observer.observe(desired: applied)
            Console.out("manifest '\(applied.name)' (state: \(directory.root.path))")
            for model in applied.models {
                let worker = observed.runningWorkers[model.name].map { "running, pid \($0.pid)" } ?? "not running"
                Console.out("  model \(model.name) [\(model.engine.rawValue)]: \(worker)")
            }
            for endpoint in applied.endpoints {
                Console.out(
                    "  endpoint \(endpoint.name): \(endpoint.listen.text) (\(endpoint.apis.map(\.rawValue).joined(separator: ", ")))"
                )
            }
        }
    }
}
