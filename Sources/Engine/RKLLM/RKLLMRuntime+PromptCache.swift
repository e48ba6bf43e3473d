import CRKLLM
import Foundation
import Logging

/// A prompt-cache preset the runtime can load: the text it was built from and its file.
struct RKLLMPreset {
    var system: String
    var path: String
    var tokens: Int
}

/// What an rkllm prompt-cache file was built from. The format is the vendor's and undocumented, so any
/// difference (model file, runtime library or version, prompt, context) makes the file stale: rebuilt,
/// never loaded.
struct RKLLMPromptCacheSidecar: Codable, Equatable {
    var format = 1
    var name: String
    var model: FileIdentity
    var library: FileIdentity
    var runtimeVersion: String
    var abi: String
    /// FNV-1a 64 of the prompt text (the runtime tokenizes it itself).
    var promptHash: String
    var context: Int
    var tokens: Int
}

extension RKLLMRuntime {
    /// Builds `<directory>/<name>.rkllm-cache` unless a valid one is there, and makes the preset usable.
    /// The cache holds the prefill of `system` as the start of a user turn, which is where a fresh
    /// conversation puts the system text, so requests whose system prompt starts with it reuse it.
    func buildPromptCache(name: String, system: String, directory: String) throws(EngineError) -> PromptCacheInfo {
        let files = PromptCachePaths(directory: directory, name: name)
        let (path, sidecarPath) = (files.rkllmCache, files.sidecar)
        var expected = RKLLMPromptCacheSidecar(
            name: name, model: try FileIdentity.of(path: configuration.modelPath),
            library: try FileIdentity.of(path: handle.file.path), runtimeVersion: handle.file.version ?? "",
            abi: handle.file.abi.rawValue, promptHash: FNV1a.hex(Array(system.utf8)), context: configuration.context,
            tokens: 0)
        if let data = FileManager.default.contents(atPath: sidecarPath),
            let existing = try? JSONDecoder().decode(RKLLMPromptCacheSidecar.self, from: data),
            FileManager.default.fileExists(atPath: path)
        {
            expected.tokens = existing.tokens
            if existing == expected {
                register(name, RKLLMPreset(system: system, path: path, tokens: existing.tokens))
                return PromptCacheInfo(name: name, path: path, tokens: existing.tokens, rebuilt: false, buildMs: 0)
            }
        }

        let started = ContinuousClock.now
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw EngineError(.promptCacheFailed, "cannot create \(directory): \(error)")
        }
        let temporary = path + ".tmp"
        try? FileManager.default.removeItem(atPath: temporary)
        releasePreset()
        handle.clearKVCache(keepSystemPrompt: true)
        forgetConversation()
        // The vendor documents the file as written after inference, so the run is left to finish on its
        // own and only then is the file looked for: nothing is inferred from a paused or aborted run, which
        // the documentation does not say writes it. On 1.3 the run's own max_new_tokens ends it after one
        // token; 1.2 has no per-run cap, so its run goes on to the end of its answer (or the init cap), with
        // the answer dropped.
        let sink = RKLLMRun([
            RKLLMRun.Slot(
                job: nil, maxTokens: 1, text: TextStream(stopStrings: []), router: OutputRouter(thinking: false, tools: false))
        ])
        sink.pausesWhenDone = false
        let input = RKLLMRunInput(role: "user", thinking: false, text: system)
        let status = handle.run(
            Array(repeating: input, count: handle.batch),
            options: RKLLMRunOptions(keepHistory: false, savePromptCache: temporary, maxNewTokens: 1), sink: sink)
        let kvSizes = handle.kvCacheSizes()
        shared.end(kvSizes: kvSizes)
        let problem: String? =
            if status != 0 || sink.runtimeError {
                "rkllm_run failed (it returned \(status)\(sink.runtimeError ? " after an ERROR callback" : ""))"
            } else if !sink.finished {
                "the run ended without FINISH, so the runtime did not write the cache"
            } else if !FileManager.default.fileExists(atPath: temporary) {
                "the run finished but the runtime wrote no file at \(temporary)"
            } else {
                nil
            }
        if let problem {
            try? FileManager.default.removeItem(atPath: temporary)
            throw EngineError(
                .promptCacheFailed, "the rkllm runtime did not write prompt cache \(name): \(problem)")
        }
        do {
            if FileManager.default.fileExists(atPath: path) { try FileManager.default.removeItem(atPath: path) }
            try FileManager.default.moveItem(atPath: temporary, toPath: path)
            expected.tokens = sink.slots.first?.perf.map { Int($0.prefill_tokens) } ?? 0
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(expected).write(to: URL(fileURLWithPath: sidecarPath), options: .atomic)
        } catch {
            throw EngineError(.promptCacheFailed, "cannot publish prompt cache \(name): \(error)")
        }
        register(name, RKLLMPreset(system: system, path: path, tokens: expected.tokens))
        return PromptCacheInfo(
            name: name, path: path, tokens: expected.tokens, rebuilt: true, buildMs: milliseconds(ContinuousClock.now - started))
    }

    private func register(_ name: String, _ preset: RKLLMPreset) {
        presets[name] = preset
        let names = presets.keys.sorted()
        shared.update { $0.presets = names }
    }

    /// Before a fresh conversation: loads the preset the request names, or the one its text starts with,
    /// unless it is loaded already. Returns the milliseconds spent loading and the preset's tokens (0 when
    /// none applies).
    func usePreset(for text: String, named requested: String?) -> (loadMs: Double, tokens: Int) {
        let name =
            requested
            ?? presets.filter { text.hasPrefix($0.value.system) }.max { $0.value.system.count < $1.value.system.count }?.key
        guard let name, let preset = presets[name] else { return (0, 0) }
        guard loadedPreset != name else { return (0, preset.tokens) }
        let started = ContinuousClock.now
        releasePreset()
        guard handle.loadPromptCache(preset.path) == 0 else {
            logger.warning("rkllm_load_prompt_cache failed; answering without it", metadata: ["preset": "\(name)"])
            return (milliseconds(ContinuousClock.now - started), 0)
        }
        loadedPreset = name
        return (milliseconds(ContinuousClock.now - started), preset.tokens)
    }

    /// The runtime is told to drop a loaded cache before another is loaded (and before a rebuild).
    func releasePreset() {
        guard loadedPreset != nil else { return }
        handle.releasePromptCache()
        loadedPreset = nil
    }
}
