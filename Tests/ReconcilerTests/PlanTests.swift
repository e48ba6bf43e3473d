import Foundation
import Manifest
import Testing

@testable import Reconciler

/// Builds resolved manifests from YAML, the way users write them.
func resolve(_ yaml: String) throws -> ResolvedManifest {
    let result = ManifestLoader(environment: .init(fileExists: { _ in true })).load(
        text: yaml, file: "test.yaml", baseDirectory: "/m")
    #expect(!result.diagnostics.hasErrors, "\(result.diagnostics)")
    return try #require(result.resolved)
}

let baseManifest = """
    apiVersion: rockchipllama/v1
    kind: Device
    metadata: {name: board}
    models:
      - source: {path: /models/SmolLM2-135M-Instruct.Q4_1.gguf}
        promptCaches: [{name: support, system: You help.}]
      - source: {huggingface: {repo: org/qwen, file: Qwen_Qwen3-0.6B-w8a8-opt0-hybrid0-npu3-ctx16384-rk3588.rkllm}}
    endpoints:
      - {name: lan, listen: "0.0.0.0:8080"}
    """

struct PlanTests {
    func lines(_ plan: Plan) -> [String] { plan.actions.map { "\($0.change.rawValue) \($0.resource.rawValue) \($0.name)" } }

    @Test func firstApplyCreatesEverythingAndDownloadsWhatIsMissing() throws {
        let desired = try resolve(baseManifest)
        let observed = ObservedState(modelFiles: ["smollm2-135m-instruct": "/models/SmolLM2-135M-Instruct.Q4_1.gguf"])
        let plan = Planner.plan(desired: desired, observed: observed)
        #expect(
            lines(plan) == [
                "= device clocks", "= model smollm2-135m-instruct", "+ model qwen3-0.6b", "+ cache smollm2-135m-instruct/support",
                "+ worker smollm2-135m-instruct", "+ worker qwen3-0.6b", "+ endpoint lan",
            ])
        #expect(
            plan.actions[2].detail == "download org/qwen/Qwen_Qwen3-0.6B-w8a8-opt0-hybrid0-npu3-ctx16384-rk3588.rkllm at main")
        #expect(plan.problems.isEmpty && plan.hasChanges)
    }

    @Test func appliedAndRunningIsUnchanged() throws {
        let desired = try resolve(baseManifest)
        let plan = Planner.plan(desired: desired, observed: Self.converged(desired))
        #expect(!plan.hasChanges)
        #expect(plan.count(.keep) == 7)
    }

    @Test func aModelLoadedOnDemandGetsNoWorkerAtApplyAndItsLoadPolicyRestartsNothing() throws {
        let onDemand = baseManifest.replacingOccurrences(
            of: "promptCaches: [{name: support, system: You help.}]",
            with: "promptCaches: [{name: support, system: You help.}]\n    lifecycle: {preload: false, idleTimeout: 10m}")
        let desired = try resolve(onDemand)
        let first = Planner.plan(desired: desired, observed: ObservedState())
        let worker = try #require(first.actions.first { $0.resource == .worker && $0.name == "smollm2-135m-instruct" })
        #expect(worker.change == .keep)
        #expect(worker.detail == "on demand: llamacpp, context 4096, 4 slots, stops after 10m idle")
        // Running, and only when it unloads changes: nothing to restart.
        let before = try resolve(baseManifest)
        let after = try resolve(onDemand.replacingOccurrences(of: "10m", with: "1h"))
        let plan = Planner.plan(desired: after, observed: Self.converged(before))
        #expect(plan.actions.first { $0.resource == .worker && $0.name == "smollm2-135m-instruct" }?.change == .keep)
    }

    @Test func changedSettingsRestartTheWorkerAndShowTheFields() throws {
        let before = try resolve(baseManifest)
        let after = try resolve(
            baseManifest.replacingOccurrences(
                of: "promptCaches: [{name: support, system: You help.}]",
                with: "context: 8192\n    promptCaches: [{name: support, system: You assist.}]"))
        let plan = Planner.plan(desired: after, observed: Self.converged(before))
        let worker = try #require(plan.actions.first { $0.resource == .worker && $0.name == "smollm2-135m-instruct" })
        #expect(worker.change == .update)
        #expect(worker.fields.contains(Action.FieldChange(field: "context", from: "4096", to: "8192")))
        let cache = try #require(plan.actions.first { $0.resource == .cache })
        #expect(cache.change == .update && cache.detail == "rebuild: prompt changed")
        #expect(plan.actions.first { $0.resource == .worker && $0.name == "qwen3-0.6b" }?.change == .keep)
    }

    @Test func removedModelsAndEndpointsAreStopped() throws {
        let before = try resolve(baseManifest)
        let after = try resolve(
            """
            apiVersion: rockchipllama/v1
            kind: Device
            metadata: {name: board}
            device: {soc: rk3588, clocks: pinned}
            models:
              - source: {path: /models/SmolLM2-135M-Instruct.Q4_1.gguf}
            endpoints:
              - {name: local, listen: "127.0.0.1:8080"}
            """)
        let plan = Planner.plan(desired: after, observed: Self.converged(before))
        #expect(
            lines(plan) == [
                "~ device clocks", "= model smollm2-135m-instruct", "- cache smollm2-135m-instruct/support",
                "~ worker smollm2-135m-instruct",
                "- worker qwen3-0.6b", "+ endpoint local", "- endpoint lan",
            ])
        // The worker holds its presets, so dropping one restarts it.
        #expect(plan.actions[3].fields.map(\.field) == ["promptCaches"])
    }

    @Test func aCrashedWorkerIsStartedAgain() throws {
        let desired = try resolve(baseManifest)
        var observed = Self.converged(desired)
        observed.runningWorkers["qwen3-0.6b"] = nil
        let plan = Planner.plan(desired: desired, observed: observed)
        #expect(plan.actions.first { $0.resource == .worker && $0.name == "qwen3-0.6b" }?.change == .create)
    }

    @Test func aMissingLocalFileIsAProblemNotAnAction() throws {
        let desired = try resolve(baseManifest)
        let plan = Planner.plan(desired: desired, observed: .empty)
        #expect(
            plan.problems == ["model smollm2-135m-instruct: local file /models/SmolLM2-135M-Instruct.Q4_1.gguf does not exist"])
        #expect(!plan.actions.contains { $0.resource == .model && $0.name == "smollm2-135m-instruct" })
    }

    /// The observed state right after a successful apply of `manifest`.
    static func converged(_ manifest: ResolvedManifest) -> ObservedState {
        var observed = ObservedState(applied: manifest)
        for model in manifest.models {
            observed.modelFiles[model.name] = "/somewhere/\(model.name)"
            observed.runningWorkers[model.name] = WorkerRecord(
                model: model.name, pid: 1, socket: "/s", startedAt: Date(timeIntervalSince1970: 0))
            for preset in model.promptCaches { observed.promptCaches.insert("\(model.name)/\(preset.name)") }
        }
        return observed
    }
}
