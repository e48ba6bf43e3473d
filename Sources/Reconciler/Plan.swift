public import Manifest

/// The actions `runner apply` would take to bring the observed state to the desired one, in the order it
/// takes them: device, model files, prompt caches, workers, endpoints.
public struct Plan: Codable, Sendable, Equatable {
    public var manifest: String
    public var actions: [Action]
    /// Things apply cannot fix by itself (e.g. a local model file that is missing).
    public var problems: [String]
    /// The models' estimated memory against the budget; nil when memory was not observed.
    public var memory: MemoryPlan? = nil

    public var hasChanges: Bool { actions.contains { $0.change != .keep } }

    public func count(_ change: Action.Change) -> Int { actions.filter { $0.change == change }.count }
}

public struct Action: Codable, Sendable, Equatable {
    public enum Change: String, Codable, Sendable {
        case create = "+"
        case update = "~"
        case delete = "-"
        case keep = "="
    }

    public enum Resource: String, Codable, Sendable {
        case device, model, cache, worker, endpoint
    }

    public struct FieldChange: Codable, Sendable, Equatable {
        public var field: String
        public var from: String
        public var to: String
    }

    public var change: Change
    public var resource: Resource
    public var name: String
    public var detail: String
    public var fields: [FieldChange]

    public init(_ change: Change, _ resource: Resource, _ name: String, _ detail: String, fields: [FieldChange] = []) {
        self.change = change
        self.resource = resource
        self.name = name
        self.detail = detail
        self.fields = fields
    }
}

/// Computes plans. Pure: all I/O happened when the observed state was read.
public enum Planner {
    public static func plan(desired: ResolvedManifest, observed: ObservedState) -> Plan {
        var actions: [Action] = []
        var problems: [String] = []
        let applied = observed.applied

        if let clocks = observed.clocks {
            actions += clockActions(clocks)
        } else {
            actions.append(deviceAction(desired: desired, applied: applied))
        }
        for model in desired.models {
            let (action, problem) = modelFileAction(model, observed: observed)
            if let action { actions.append(action) }
            if let problem { problems.append(problem) }
            actions += companionFileActions(model, observed: observed)
        }
        for model in desired.models {
            let before = applied?.model(exactly: model.name)
            for preset in model.promptCaches {
                let key = "\(model.name)/\(preset.name)"
                let previous = before?.promptCaches.first { $0.name == preset.name }
                if !observed.promptCaches.contains(key) {
                    actions.append(Action(.create, .cache, key, "build prompt cache"))
                } else if previous != preset || before?.source != model.source {
                    actions.append(
                        Action(.update, .cache, key, previous != preset ? "rebuild: prompt changed" : "rebuild: model changed"))
                } else {
                    actions.append(Action(.keep, .cache, key, "built"))
                }
            }
            for preset in before?.promptCaches ?? [] where !model.promptCaches.contains(where: { $0.name == preset.name }) {
                actions.append(Action(.delete, .cache, "\(model.name)/\(preset.name)", "remove prompt cache"))
            }
        }
        for model in desired.models { actions.append(workerAction(model, applied: applied, observed: observed)) }
        for old in applied?.models ?? [] where desired.model(exactly: old.name) == nil {
            actions.append(Action(.delete, .worker, old.name, "stop worker and remove its prompt caches"))
        }
        for endpoint in desired.endpoints {
            guard let before = applied?.endpoints.first(where: { $0.name == endpoint.name }) else {
                actions.append(Action(.create, .endpoint, endpoint.name, describe(endpoint)))
                continue
            }
            let fields = FieldDiff.between(before, endpoint)
            actions.append(Action(fields.isEmpty ? .keep : .update, .endpoint, endpoint.name, describe(endpoint), fields: fields))
        }
        for old in applied?.endpoints ?? [] where !desired.endpoints.contains(where: { $0.name == old.name }) {
            actions.append(Action(.delete, .endpoint, old.name, "stop listening on \(old.listen.text)"))
        }
        return Plan(
            manifest: desired.name, actions: actions, problems: problems,
            memory: observed.memory.map { memoryPlan(desired: desired, memory: $0) })
    }

    static func deviceAction(desired: ResolvedManifest, applied: ResolvedManifest?) -> Action {
        let detail = desired.clocks == .pinned ? "pin CPU, NPU and DDR clocks (soc \(desired.soc.rawValue))" : "clocks untouched"
        guard let applied else {
            return Action(desired.clocks == .pinned ? .create : .keep, .device, "clocks", detail)
        }
        if applied.clocks == desired.clocks && applied.soc == desired.soc { return Action(.keep, .device, "clocks", detail) }
        let change = desired.clocks == .untouched ? "restore the governors found before pinning" : detail
        return Action(
            .update, .device, "clocks", change, fields: FieldDiff.between(applied.clocks, desired.clocks, field: "clocks"))
    }

    /// One line per clock knob, from what the device reads now.
    static func clockActions(_ plan: ClockPlan) -> [Action] {
        var actions = plan.actions.map { knob -> Action in
            let values = [knob.from, knob.to].compactMap { $0 }.joined(separator: " → ")
            let detail = values.isEmpty ? knob.reason : "\(values) (\(knob.reason))"
            switch knob.change {
            case .set: return Action(.update, .device, knob.knob, "pin: \(detail)")
            case .restore: return Action(.update, .device, knob.knob, "restore: \(detail)")
            case .keep: return Action(.keep, .device, knob.knob, detail)
            case .skip: return Action(.keep, .device, knob.knob, "skipped: \(knob.reason)")
            }
        }
        if actions.isEmpty { actions.append(Action(.keep, .device, "clocks", "untouched")) }
        if let warning = plan.soc.warning { actions.insert(Action(.keep, .device, "soc", warning), at: 0) }
        return actions
    }

    static func modelFileAction(_ model: ResolvedModel, observed: ObservedState) -> (Action?, String?) {
        switch model.source {
        case .upstream: return (nil, nil)
        case .local(let path):
            if observed.modelFiles[model.name] != nil { return (Action(.keep, .model, model.name, "present: \(path)"), nil) }
            return (nil, "model \(model.name): local file \(path) does not exist")
        case .huggingface(let repo, let file, let revision, _):
            if let path = observed.modelFiles[model.name] { return (Action(.keep, .model, model.name, "cached: \(path)"), nil) }
            return (Action(.create, .model, model.name, "download \(repo)/\(file) at \(revision)"), nil)
        }
    }

    /// Hugging Face LoRA adapters and projectors, by companion key (local ones are checked by validation).
    static func companionFileActions(_ model: ResolvedModel, observed: ObservedState) -> [Action] {
        ModelFiles.companions(of: model).compactMap { companion in
            guard case .huggingface(let repo, let file, let revision, _) = companion.source else { return nil }
            if let path = observed.modelFiles[companion.key] { return Action(.keep, .model, companion.key, "cached: \(path)") }
            return Action(.create, .model, companion.key, "download \(companion.kind) \(repo)/\(file) at \(revision)")
        }
    }

    static func workerAction(_ model: ResolvedModel, applied: ResolvedManifest?, observed: ObservedState) -> Action {
        let detail = describe(model)
        let running = observed.runningWorkers[model.name] != nil
        guard let before = applied?.model(exactly: model.name), running else {
            // Apply starts no worker for it: the scheduler does, on its first request.
            guard model.lifecycle.preload else { return Action(.keep, .worker, model.name, "on demand: \(detail)") }
            return Action(.create, .worker, model.name, "start: \(detail)")
        }
        let fields = FieldDiff.between(before.workerShape, model.workerShape)
        return fields.isEmpty
            ? Action(.keep, .worker, model.name, "running: \(detail)")
            : Action(.update, .worker, model.name, "restart: \(detail)", fields: fields)
    }

    static func describe(_ model: ResolvedModel) -> String {
        var parts = [model.engine.rawValue, "context \(model.context)"]
        if let llama = model.llamacpp { parts.append("\(llama.parallel) slots") }
        if let npu = model.npu { parts.append("npu domain \(npu.domain)") }
        if model.vision != nil { parts.append("images (\(ModelFiles.visionKind(model)))") }
        if model.lifecycle.pinned { parts.append("pinned") }
        if let idle = model.lifecycle.idleTimeout { parts.append("stops after \(idle.text) idle") }
        return parts.joined(separator: ", ")
    }

    static func describe(_ endpoint: ResolvedEndpoint) -> String {
        "listen \(endpoint.listen.text) (\(endpoint.apis.map(\.rawValue).joined(separator: ", ")))"
    }
}

extension ResolvedManifest {
    /// The model with exactly this canonical name (plans compare by name, not by alias).
    func model(exactly name: String) -> ResolvedModel? { models.first { $0.name == name } }
}
