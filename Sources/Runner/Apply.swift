import ArgumentParser
import Foundation
import Manifest
import Reconciler

extension RunnerCommand {
    struct Apply: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Make this device match the manifest, then keep it reconciled.")

        @Argument(help: "The manifest.")
        var file: String

        @OptionGroup var state: StateOptions

        func run() throws {
            let (_, resolved) = try loadManifestOrExit(file)
            guard try deviceIsSelected(resolved, options: state) else { return }
            let directory = state.stateDirectory
            let observed = try StateObserver(state: directory, hub: HubCacheLayout(hub: directory.hubCache())).observe(
                desired: resolved)
            let plan = Planner.plan(desired: resolved, observed: observed)
            Console.out(PlanText.render(plan, stateDirectory: directory.root.path))
            Console.error(
                "error: executing a plan is not implemented yet (workers: issue #3, downloads and clocks: issue #6); nothing was changed"
            )
            throw ExitCode.failure
        }
    }

    struct Serve: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Serve the HTTP APIs for the applied manifest without reconciling.")

        @OptionGroup var state: StateOptions

        func run() throws {
            Console.error("error: serve is not implemented yet (issue #4); nothing was started")
            throw ExitCode.failure
        }
    }

    struct Worker: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Host one model's engine behind the internal API (started by apply).")

        @Option(help: "The model to host.")
        var model: String

        @Option(help: "The manifest that declares it.")
        var manifest: String

        @OptionGroup var state: StateOptions

        func run() throws {
            Console.error("error: worker is not implemented yet (issue #3)")
            throw ExitCode.failure
        }
    }
}
