import ArgumentParser
import Foundation
import Manifest
import Reconciler

extension RunnerCommand {
    struct Validate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check manifests and report every problem as file:line:col: error: message.",
            discussion: "Exits 1 when any file has an error. Warnings are printed but do not fail.")

        @Argument(help: "Manifest files to check.")
        var files: [String]

        func run() throws {
            var failed = false
            let loader = ManifestLoader()
            for file in files {
                let result = loader.load(file: file)
                var diagnostics = result.diagnostics
                if let resolved = result.resolved {
                    diagnostics = (diagnostics + MemoryCheck.warnings(resolved, file: file, positions: result.modelPositions))
                        .sortedByPosition()
                }
                for diagnostic in diagnostics { Console.error(diagnostic.description) }
                let errors = diagnostics.filter { $0.severity == .error }.count
                let warnings = diagnostics.count - errors
                if let resolved = result.resolved {
                    let counts =
                        "\(resolved.models.count) model\(resolved.models.count == 1 ? "" : "s"), \(resolved.endpoints.count) endpoint\(resolved.endpoints.count == 1 ? "" : "s")"
                    Console.out(
                        "\(file): valid (\(counts)\(warnings > 0 ? ", \(warnings) warning\(warnings == 1 ? "" : "s")" : ""))")
                } else {
                    failed = true
                    Console.out(
                        "\(file): \(errors) error\(errors == 1 ? "" : "s")\(warnings > 0 ? ", \(warnings) warning\(warnings == 1 ? "" : "s")" : "")"
                    )
                }
            }
            if failed { throw ExitCode.failure }
        }
    }
}

/// Models that can never load because their estimated memory alone is above the budget: the manifest's
/// budget, else the one this machine gives (its /proc/meminfo, or `RUNNER_SYSFS_ROOT`'s). Model files are
/// looked for where `plan` would find them (Hugging Face files in the default state directory's cache).
enum MemoryCheck {
    static func warnings(_ resolved: ResolvedManifest, file: String, positions: [(line: Int, column: Int)]) -> [Diagnostic] {
        let state = StateDirectory.resolve(explicit: nil)
        let observer = StateObserver(state: state, hub: HubCacheLayout(hub: state.hubCache()))
        let memInfo = StateOptions.deviceRoot(explicit: nil).appendingPathComponent("proc/meminfo")
        let memory = observer.observeMemory(desired: resolved, memInfo: memInfo)
        let plan = Planner.memoryPlan(desired: resolved, memory: memory)
        guard let budget = plan.budget else { return [] }
        let derived = plan.budgetSource == .machine ? " (derived from this machine's memory)" : ""
        return resolved.models.enumerated().compactMap { index, model in
            guard plan.tooLarge.contains(model.name), let estimate = memory.footprints[model.name] else { return nil }
            let position = index < positions.count ? positions[index] : (line: 1, column: 1)
            return Diagnostic(
                .warning, file: file, line: position.line, column: position.column,
                message:
                    "model \(model.name) needs ~\(ByteSize(bytes: estimate).readable), more than the memory budget \(ByteSize(bytes: budget).readable)\(derived): it can never load"
            )
        }
    }
}
