import Foundation
import Manifest
import Reconciler

extension PlanText {
    /// The memory section: the budget and where it comes from, each model's estimate, and whether they fit.
    static func renderMemory(_ memory: MemoryPlan) -> [String] {
        func size(_ bytes: Int64) -> String { ByteSize(bytes: bytes).readable }
        var lines: [String] = []
        switch (memory.budget, memory.budgetSource) {
        case (let budget?, .manifest):
            lines.append("Memory budget: \(size(budget)) (device.memory.budget)")
        case (let budget?, .machine):
            let held = (memory.held ?? 0) > 0 ? " + \(size(memory.held ?? 0)) held by running workers" : ""
            lines.append(
                "Memory budget: \(size(budget)) (available memory \(size(memory.available ?? 0))\(held) - reserve \(size(memory.reserve ?? 0)))"
            )
        case (nil, _):
            lines.append("Memory budget: unknown (this machine's memory could not be read)")
        }
        let width = memory.models.map(\.name.count).max() ?? 0
        for model in memory.models {
            var detail = model.estimate.map { "~\(size($0))" } ?? model.note ?? "unknown"
            if memory.tooLarge.contains(model.name) { detail += ", more than the budget: it can never load" }
            if model.pinned { detail += " (pinned)" }
            lines.append("  \(model.name.padding(toLength: width, withPad: " ", startingAt: 0))  \(detail)")
        }
        if let summary = summary(memory) { lines.append("  \(summary)") }
        return lines
    }

    static func summary(_ memory: MemoryPlan) -> String? {
        func size(_ bytes: Int64) -> String { ByteSize(bytes: bytes).readable }
        let count = memory.models.count
        guard count > 0 else { return nil }
        let unknown = memory.models.filter { $0.estimate == nil }.count
        let need =
            unknown > 0
            ? "the models estimated so far need \(size(memory.total)) together" : "the models need \(size(memory.total)) together"
        guard let budget = memory.budget else { return "\(need); the budget is unknown" }
        switch memory.fitsAtOnce {
        case true?:
            return count == 1
                ? "the model fits in the budget \(size(budget))" : "all \(count) models fit at once in the budget \(size(budget))"
        case false?:
            let others = "the others load on demand and evict idle ones"
            let loaded =
                switch memory.loadedAtOnce.count {
                case 0: "none of them fits"
                case 1: "only \(memory.loadedAtOnce[0]) fits at once; \(others)"
                default: "at most \(list(memory.loadedAtOnce)) load at once; \(others)"
                }
            return "\(need); the budget is \(size(budget)): \(loaded)"
        case nil:
            return "\(need), within the budget \(size(budget)); \(unknown) \(unknown == 1 ? "is" : "are") not known yet"
        }
    }

    /// `a`, `a and b`, `a, b and c`.
    static func list(_ names: [String]) -> String {
        names.count <= 1 ? names.joined() : names.dropLast().joined(separator: ", ") + " and " + names.last!
    }
}
