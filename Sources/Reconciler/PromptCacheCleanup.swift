internal import Engine
internal import Foundation
internal import Manifest

/// The plan's prompt-cache removals (`- cache`, and the caches of a removed worker): a preset the applied
/// manifest had and the desired one drops loses its files. Building caches is the workers' part (each builds
/// its presets when it starts), so every cache action a plan prints is carried out by someone.
enum PromptCacheCleanup {
    static func removeDropped(applied: ResolvedManifest?, desired: ResolvedManifest, in state: StateDirectory) {
        let files = FileManager.default
        for old in applied?.models ?? [] {
            guard let model = desired.model(exactly: old.name) else {
                try? files.removeItem(at: state.promptCaches.appendingPathComponent(old.name))
                continue
            }
            for preset in old.promptCaches where !model.promptCaches.contains(where: { $0.name == preset.name }) {
                for path in state.promptCache(model: old.name, preset: preset.name).all { try? files.removeItem(atPath: path) }
            }
        }
    }
}
