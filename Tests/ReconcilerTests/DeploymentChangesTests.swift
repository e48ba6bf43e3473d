import Foundation
import Manifest
import Testing

@testable import Reconciler

/// What `runner serve` restarts for a new manifest: only what a change touches.
struct DeploymentChangesTests {
    let base = """
        apiVersion: rockchipllama/v1
        kind: Device
        metadata: {name: board}
        runtimes: {rkllm: {library: /usr/lib/librkllmrt.so}}
        models:
          - name: small
            source: {path: /models/SmolLM2-135M-Instruct.Q4_1.gguf}
            aliases: [default]
          - name: npu
            engine: rkllm
            source: {path: /models/Qwen_Qwen3-0.6B-w8a8-opt0-hybrid0-npu3-ctx16384-rk3588.rkllm}
        endpoints:
          - {name: lan, listen: "0.0.0.0:8080"}
          - {name: admin, listen: "127.0.0.1:8081", apis: [admin]}
        """

    func changes(to edited: String) throws -> DeploymentChanges {
        DeploymentChanges.between(running: try resolve(base), desired: try resolve(edited))
    }

    @Test func theSameManifestChangesNothing() throws {
        let same = try changes(to: base)
        #expect(!same.changesWorkers && !same.clocksChanged)
        #expect(same.keptModels == ["small", "npu"] && same.keptEndpoints == ["lan", "admin"])
        #expect(same.description == "no worker or endpoint changes")
    }

    @Test func firstApplyAddsEverything() throws {
        let first = DeploymentChanges.between(running: nil, desired: try resolve(base))
        #expect(first.addedModels == ["small", "npu"] && first.addedEndpoints == ["lan", "admin"] && first.clocksChanged)
    }

    @Test func aChangedModelRestartsAloneAndSaysWhy() throws {
        let edited = base.replacingOccurrences(of: "    aliases: [default]", with: "    aliases: [default]\n    context: 1024")
        let result = try changes(to: edited)
        #expect(result.restartedModels.map(\.name) == ["small"])
        #expect(result.restartedModels.first?.fields.map(\.field) == ["model.context"])
        #expect(result.keptModels == ["npu"])
        #expect(result.description == "models: ~small (model.context)")
    }

    @Test func aliasesAndEndpointModelListsChangeNoProcess() throws {
        let edited =
            base
            .replacingOccurrences(of: "aliases: [default]", with: "aliases: [default, tiny]")
            .replacingOccurrences(of: #"listen: "0.0.0.0:8080"}"#, with: #"listen: "0.0.0.0:8080", models: [npu]}"#)
        let result = try changes(to: edited)
        #expect(!result.changesWorkers)
        #expect(result.restartedEndpoints.isEmpty && result.keptEndpoints == ["lan", "admin"])
    }

    @Test func aRuntimeChangeRestartsOnlyTheModelsOfThatEngine() throws {
        let edited = base.replacingOccurrences(of: "/usr/lib/librkllmrt.so", with: "/opt/rkllm/librkllmrt.so")
        let result = try changes(to: edited)
        #expect(result.restartedModels.map(\.name) == ["npu"])
        #expect(result.keptModels == ["small"])
    }

    @Test func addedRemovedAndMovedEndpoints() throws {
        let edited =
            base
            .replacingOccurrences(of: "  - name: npu\n    engine: rkllm", with: "  - name: other\n    engine: rkllm")
            .replacingOccurrences(of: "0.0.0.0:8080", with: "0.0.0.0:9090")
            .replacingOccurrences(of: #"  - {name: admin, listen: "127.0.0.1:8081", apis: [admin]}"#, with: "")
        let result = try changes(to: edited)
        #expect(result.addedModels == ["other"] && result.removedModels == ["npu"] && result.keptModels == ["small"])
        #expect(result.restartedEndpoints.map(\.name) == ["lan"] && result.removedEndpoints == ["admin"])
        #expect(result.description == "models: +other -npu; endpoints: ~lan (listen) -admin")
    }

    @Test func clocksChangeIsNoticed() throws {
        let result = try changes(
            to: base.replacingOccurrences(
                of: "metadata: {name: board}", with: "metadata: {name: board}\ndevice: {clocks: pinned}"))
        #expect(result.clocksChanged && !result.changesWorkers)
        #expect(result.description == "clocks: pinned")
    }
}

/// Restart delays and crash-loop detection.
struct RestartBackoffTests {
    @Test func delaysDoubleUpToTheCeiling() {
        let backoff = RestartBackoff()
        #expect((0..<7).map { backoff.delay(afterRestarts: $0) } == [1, 2, 4, 8, 16, 30, 30].map { Duration.seconds($0) })
    }

    @Test func fiveRestartsInsideTheWindowAreACrashLoop() {
        let backoff = RestartBackoff(crashLoopRestarts: 5, crashLoopWindow: .seconds(300))
        let now = ContinuousClock.now
        let spread = (0..<5).map { now - .seconds(100 * $0) }  // 0, 100, … 400 s ago: one is outside
        #expect(backoff.recent(spread, now: now).count == 3)
        #expect(!backoff.isCrashLoop(backoff.recent(spread, now: now)))
        let fast = (0..<5).map { now - .seconds(10 * $0) }
        #expect(backoff.isCrashLoop(backoff.recent(fast, now: now)))
    }
}
