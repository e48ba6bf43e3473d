public import Manifest
internal import Worker

/// What differs between the manifest that runs and a new one, in the terms `runner serve` acts on: which
/// workers start, stop or restart, which endpoints' servers start, stop or restart, and which endpoints
/// only expose a different set of models (their registry changes; the listener stays up).
public struct DeploymentChanges: Sendable, Equatable {
    /// A model or endpoint that changes, with the fields that made it.
    public struct Change: Sendable, Equatable {
        public var name: String
        public var fields: [Action.FieldChange]
    }

    public var addedModels: [String] = []
    public var removedModels: [String] = []
    /// Models whose worker must restart: their definition or the runtime their engine uses changed.
    public var restartedModels: [Change] = []
    /// Models that keep their worker; aliases and served details may still have changed.
    public var keptModels: [String] = []

    public var addedEndpoints: [String] = []
    public var removedEndpoints: [String] = []
    /// Endpoints whose server restarts: the address, APIs, auth, CORS or body limit changed.
    public var restartedEndpoints: [Change] = []
    public var keptEndpoints: [String] = []

    /// The clock policy, when it or the SoC changed (always on a first apply).
    public var clocks: ClockPolicy?

    public var clocksChanged: Bool { clocks != nil }

    public var changesWorkers: Bool { !addedModels.isEmpty || !removedModels.isEmpty || !restartedModels.isEmpty }

    /// Compares by canonical name. With no running manifest, everything is added.
    public static func between(running: ResolvedManifest?, desired: ResolvedManifest) -> DeploymentChanges {
        var changes = DeploymentChanges()
        let before = running?.models ?? []
        for model in desired.models {
            guard let running, let old = running.model(exactly: model.name) else {
                changes.addedModels.append(model.name)
                continue
            }
            let fields = FieldDiff.between(restartKey(old, running.runtimes), restartKey(model, desired.runtimes))
            if fields.isEmpty {
                changes.keptModels.append(model.name)
            } else {
                changes.restartedModels.append(Change(name: model.name, fields: fields))
            }
        }
        changes.removedModels = before.map(\.name).filter { desired.model(exactly: $0) == nil }

        let endpoints = running?.endpoints ?? []
        for endpoint in desired.endpoints {
            guard let old = endpoints.first(where: { $0.name == endpoint.name }) else {
                changes.addedEndpoints.append(endpoint.name)
                continue
            }
            let fields = FieldDiff.between(serverKey(old), serverKey(endpoint))
            if fields.isEmpty {
                changes.keptEndpoints.append(endpoint.name)
            } else {
                changes.restartedEndpoints.append(Change(name: endpoint.name, fields: fields))
            }
        }
        changes.removedEndpoints = endpoints.map(\.name).filter { name in !desired.endpoints.contains { $0.name == name } }
        let clocksChanged = running.map { $0.clocks != desired.clocks || $0.soc != desired.soc } ?? true
        changes.clocks = clocksChanged ? desired.clocks : nil
        return changes
    }

    /// What a worker depends on: the model as its worker runs it (`workerShape`), and the runtime its engine
    /// loads.
    static func restartKey(_ model: ResolvedModel, _ runtimes: ResolvedRuntimes) -> WorkerDefinition {
        let model = model.workerShape
        var used = runtimes
        if model.engine != .rkllm {
            used.rkllmLibrary = nil
            used.rkllmABI = .auto
        }
        if model.engine != .llamacpp { used.llamaLibrary = nil }
        if model.engine != .axllm { used.axllmBinary = nil }
        return WorkerDefinition(model: model, runtimes: used)
    }

    /// What an endpoint's listener depends on: everything but the models it exposes.
    static func serverKey(_ endpoint: ResolvedEndpoint) -> ResolvedEndpoint {
        var endpoint = endpoint
        endpoint.models = []
        return endpoint
    }
}

extension DeploymentChanges: CustomStringConvertible {
    /// One line for the log, e.g. `models: +qwen ~smollm2 (context) -gemma; endpoints: ~lan (listen)`.
    public var description: String {
        func names(_ prefix: String, _ list: [String]) -> [String] { list.map { prefix + $0 } }
        func changed(_ list: [Change]) -> [String] {
            list.map { "~\($0.name) (\($0.fields.map(\.field).joined(separator: ", ")))" }
        }
        let models = names("+", addedModels) + changed(restartedModels) + names("-", removedModels)
        let endpoints = names("+", addedEndpoints) + changed(restartedEndpoints) + names("-", removedEndpoints)
        var parts: [String] = []
        if !models.isEmpty { parts.append("models: " + models.joined(separator: " ")) }
        if !endpoints.isEmpty { parts.append("endpoints: " + endpoints.joined(separator: " ")) }
        if let clocks { parts.append("clocks: \(clocks.rawValue)") }
        return parts.isEmpty ? "no worker or endpoint changes" : parts.joined(separator: "; ")
    }
}

extension ResolvedModel {
    /// What its worker runs: the model without its aliases (the gateway resolves those) and without when it
    /// is loaded and unloaded (the scheduler's business). A change outside this restarts nothing.
    var workerShape: ResolvedModel {
        var model = self
        model.aliases = []
        model.lifecycle.preload = true
        model.lifecycle.idleTimeout = nil
        model.lifecycle.pinned = false
        return model
    }
}
