import ArgumentParser
import Foundation
import Manifest
import Reconciler

extension RunnerCommand {
    struct Plan: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show what apply would do: + create, ~ change, - remove, = unchanged.",
            discussion:
                "Exits 1 when the manifest is invalid or something apply cannot fix is found (e.g. a missing local model file).")

        @Argument(help: "The manifest.")
        var file: String

        @Flag(help: "Print the plan as JSON.")
        var json = false

        @OptionGroup var state: StateOptions

        func run() throws {
            let (_, resolved) = try loadManifestOrExit(file)
            guard try deviceIsSelected(resolved, options: state) else { return }
            let directory = state.stateDirectory
            let observer = state.observer
            let observed: ObservedState
            do {
                observed = try observer.observe(desired: resolved)
            } catch {
                Console.error("error: \(error)")
                throw ExitCode.failure
            }
            let plan = Planner.plan(desired: resolved, observed: observed)
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                Console.out(String(decoding: try encoder.encode(plan), as: UTF8.self))
            } else {
                Console.out(PlanText.render(plan, stateDirectory: directory.root.path))
            }
            for problem in plan.problems { Console.error("error: \(problem)") }
            if !plan.problems.isEmpty { throw ExitCode.failure }
        }
    }
}

/// The human form of a plan, aligned like terraform's.
enum PlanText {
    static func render(_ plan: Reconciler.Plan, stateDirectory: String) -> String {
        var lines = ["Plan for '\(plan.manifest)' (state: \(stateDirectory)):"]
        let width = plan.actions.map { "\($0.resource.rawValue) \($0.name)".count }.max() ?? 0
        for action in plan.actions {
            let subject = "\(action.resource.rawValue) \(action.name)"
            lines.append(
                "  \(action.change.rawValue) \(subject.padding(toLength: width, withPad: " ", startingAt: 0))  \(action.detail)")
            for field in action.fields {
                lines.append("      \(field.field): \(field.from) → \(field.to)")
            }
        }
        lines.append(
            "Plan: \(plan.count(.create)) to add, \(plan.count(.update)) to change, \(plan.count(.delete)) to remove, \(plan.count(.keep)) unchanged."
        )
        if let memory = plan.memory { lines += renderMemory(memory) }
        return lines.joined(separator: "\n")
    }
}
