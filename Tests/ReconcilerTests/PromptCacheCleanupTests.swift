import Engine
import Foundation
import Manifest
import Testing

@testable import Reconciler

/// The plan's `- cache` actions are carried out: a dropped preset's files go, a kept one's stay, and a
/// removed model's caches go with it; after that the plan sees what is really there.
struct PromptCacheCleanupTests {
    @Test func droppedPresetsAndRemovedModelsLoseTheirFiles() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("cleanup-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let state = StateDirectory(root: root)
        let applied = try resolve(
            baseManifest.replacingOccurrences(
                of: "promptCaches: [{name: support, system: You help.}]",
                with: "promptCaches: [{name: support, system: You help.}, {name: old, system: Gone soon.}]"))
        let desired = try resolve(baseManifest)
        func make(_ model: String, _ preset: String) throws -> [String] {
            let paths = state.promptCache(model: model, preset: preset)
            try FileManager.default.createDirectory(
                atPath: (paths.sidecar as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            for path in [paths.state, paths.sidecar] { try Data("x".utf8).write(to: URL(fileURLWithPath: path)) }
            return [paths.state, paths.sidecar]
        }
        let kept = try make("smollm2-135m-instruct", "support")
        let dropped = try make("smollm2-135m-instruct", "old")
        let orphan = try make("retired", "support")
        var withRetired = applied
        var retired = applied.models[0]
        retired.name = "retired"
        withRetired.models.append(retired)

        let before = Planner.plan(desired: desired, observed: ObservedState(applied: withRetired))
        #expect(
            before.actions.contains { $0.change == .delete && $0.resource == .cache && $0.name == "smollm2-135m-instruct/old" })

        PromptCacheCleanup.removeDropped(applied: withRetired, desired: desired, in: state)
        #expect(kept.allSatisfy { FileManager.default.fileExists(atPath: $0) })
        #expect(!dropped.contains { FileManager.default.fileExists(atPath: $0) })
        #expect(!orphan.contains { FileManager.default.fileExists(atPath: $0) })
        #expect(!FileManager.default.fileExists(atPath: state.promptCaches.appendingPathComponent("retired").path))
    }
}
