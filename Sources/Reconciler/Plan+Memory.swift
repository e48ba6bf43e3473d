public import Manifest

/// The models' estimated memory against the budget, and whether they can all be loaded at once.
public struct MemoryPlan: Codable, Sendable, Equatable {
    public enum BudgetSource: String, Codable, Sendable {
        /// `device.memory.budget`.
        case manifest
        /// Derived from the machine's available memory.
        case machine
    }

    public struct Model: Codable, Sendable, Equatable {
        public var name: String
        /// Estimated bytes; nil when there is no estimate, see `note`.
        public var estimate: Int64?
        /// Why there is no estimate (e.g. "unknown until downloaded").
        public var note: String?
        public var pinned: Bool
    }

    /// Bytes the models may use together; nil when it is derived and the machine's memory could not be read.
    public var budget: Int64?
    public var budgetSource: BudgetSource
    /// For a derived budget: the machine's available memory, what our running workers hold, the reserve.
    public var available: Int64?
    public var held: Int64?
    public var reserve: Int64?
    /// The models that run on this device (upstream models, proxied elsewhere, are left out).
    public var models: [Model]
    /// The known estimates added up.
    public var total: Int64
    /// Whether every model fits in the budget at once; nil when the budget or an estimate is unknown and the
    /// known ones fit.
    public var fitsAtOnce: Bool?
    /// When they do not all fit: the models loaded together, pinned ones first, then the preloaded ones, then
    /// the rest, in declaration order, each while it still fits.
    public var loadedAtOnce: [String]
    /// Models whose estimate alone is above the budget: they can never load.
    public var tooLarge: [String]
}

extension Planner {
    /// Pure, like the plan: the footprints and the machine's memory were read with the observed state.
    public static func memoryPlan(desired: ResolvedManifest, memory: ObservedMemory) -> MemoryPlan {
        let budget: Int64?
        var reserve: Int64?
        if let fixed = desired.memory.budget {
            budget = fixed
        } else if let machine = memory.machine {
            budget = MemoryBudget.bytes(desired.memory, machine: machine, held: memory.held)
            reserve = desired.memory.reserve ?? MemoryBudget.defaultReserve(total: machine.total)
        } else {
            budget = nil
            reserve = desired.memory.reserve
        }
        let local = desired.models.filter { $0.engine != .upstream }
        let models = local.map { model in
            let estimate = memory.footprints[model.name]
            var note: String?
            if estimate == nil {
                switch (model.engine, model.source) {
                case (.axllm, _): note = "no estimate for engine axllm"
                case (_, .huggingface): note = "unknown until downloaded"
                default: note = "unknown until the file exists"
                }
            }
            return MemoryPlan.Model(name: model.name, estimate: estimate, note: note, pinned: model.lifecycle.pinned)
        }
        let total = models.reduce(0) { $0 + ($1.estimate ?? 0) }
        let allKnown = models.allSatisfy { $0.estimate != nil }
        var fits: Bool?
        var loaded: [String] = []
        var tooLarge: [String] = []
        if let budget {
            fits = total > budget ? false : allKnown ? true : nil
            tooLarge = models.filter { ($0.estimate ?? 0) > budget }.map(\.name)
            if fits == false {
                let order =
                    local.filter(\.lifecycle.pinned) + local.filter { !$0.lifecycle.pinned && $0.lifecycle.preload }
                    + local.filter { !$0.lifecycle.pinned && !$0.lifecycle.preload }
                var used: Int64 = 0
                for model in order {
                    guard let estimate = memory.footprints[model.name], used + estimate <= budget else { continue }
                    used += estimate
                    loaded.append(model.name)
                }
            }
        }
        let derived = desired.memory.budget == nil
        return MemoryPlan(
            budget: budget, budgetSource: derived ? .machine : .manifest, available: derived ? memory.machine?.available : nil,
            held: derived ? memory.held : nil, reserve: derived ? reserve : nil, models: models, total: total, fitsAtOnce: fits,
            loadedAtOnce: loaded, tooLarge: tooLarge)
    }
}
