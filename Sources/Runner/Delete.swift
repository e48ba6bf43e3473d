import ArgumentParser
import Foundation
import Logging
import Manifest
import Reconciler

extension RunnerCommand {
    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Stop what the manifest started and restore the clocks; downloaded files stay unless --purge.",
            discussion: "A running `runner apply` or `runner serve` on the same state directory is asked to stop first.")

        @Argument(help: "The manifest that was applied.")
        var file: String

        @Flag(help: "Also remove the models' downloaded files from the Hugging Face cache.")
        var purge = false

        @OptionGroup var state: StateOptions

        func run() async throws {
            let (_, resolved) = try loadManifestOrExit(file)
            let directory = state.stateDirectory
            let teardown = Teardown(state: directory, clocks: state.clockPinning, logger: Logger(label: "runner"))
            do {
                guard let applied = try state.observer.readAppliedManifest() else {
                    Console.out("nothing applied (state: \(directory.root.path)); nothing to delete")
                    return
                }
                guard applied.name == resolved.name else {
                    Console.error(
                        "error: \(directory.root.path) holds manifest '\(applied.name)', not '\(resolved.name)' from \(file); nothing was changed"
                    )
                    throw ExitCode.failure
                }
                let lock = try await teardown.takeOver()
                // What the supervisor left, read again now that it has stopped.
                let observed = try state.observer.observe(desired: applied)
                for line in try await teardown.run(applied: applied, observed: observed, purge: purge) { Console.out(line) }
                withExtendedLifetime(lock) {}
            } catch let error as ExitCode {
                throw error
            } catch {
                Console.error("error: \(error)")
                throw ExitCode.failure
            }
            Console.out("deleted '\(resolved.name)'")
        }
    }
}
