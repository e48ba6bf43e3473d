import CLlama
import Foundation
import Logging

/// A prompt-cache preset ready to be restored: its tokens and its llama.cpp state file.
struct PromptCachePreset {
    let name: String
    let system: String
    let tokens: [Int32]
    let path: String
}

extension LlamaRuntime {
    /// Makes preset `name` available, reusing a valid file or building it in an idle slot (now, or as soon
    /// as one frees up). `done` gets the result on the engine thread.
    func buildPromptCache(
        name: String, system: String, directory: String,
        done: @escaping (Result<PromptCacheInfo, EngineError>) -> Void
    ) {
        let start = ContinuousClock.now
        let paths = PromptCachePaths(directory: directory, name: name)
        let tokens: [Int32]
        let expected: PromptCacheSidecar
        do throws(EngineError) {
            guard !name.isEmpty, !name.contains("/") else {
                throw EngineError(.invalidRequest, "a prompt cache name must be a plain file name: \(name)")
            }
            let turns = ChatFormatter.turns(for: [.system(system)], tools: [])
            guard let text = model.template.render(turns, addAssistant: false) else {
                throw EngineError(.templateFailed, "llama.cpp could not apply the chat template")
            }
            tokens = model.tokenize(text)
            guard tokens.count < model.contextPerSlot else {
                throw EngineError(.promptTooLong, "prompt cache \(name) is \(tokens.count) tokens, over the context")
            }
            expected = PromptCacheSidecar(
                name: name, model: try FileIdentity.of(path: configuration.modelPath),
                library: try FileIdentity.of(path: library.path), libraryVersion: library.version,
                promptHash: FNV1a.hex(tokens: tokens), tokenCount: tokens.count,
                contextPerSlot: model.contextPerSlot, slots: slots.count)
        } catch {
            done(.failure(error))
            return
        }
        let preset = PromptCachePreset(name: name, system: system, tokens: tokens, path: paths.state)
        if paths.readSidecar() == expected, FileManager.default.fileExists(atPath: paths.state) {
            presets[name] = preset
            done(.success(PromptCacheInfo(name: name, path: paths.state, tokens: tokens.count, rebuilt: false, buildMs: 0)))
            return
        }
        let build: (LlamaSlot) -> Void = { [unowned self] slot in
            do throws(EngineError) {
                try prefillAndSave(preset, sidecar: expected, paths: paths, directory: directory, in: slot)
                presets[name] = preset
                let ms = (ContinuousClock.now - start).milliseconds
                logger.info(
                    "prompt cache built", metadata: ["cache": "\(name)", "tokens": "\(tokens.count)", "ms": "\(Int(ms))"])
                done(.success(PromptCacheInfo(name: name, path: paths.state, tokens: tokens.count, rebuilt: true, buildMs: ms)))
            } catch {
                done(.failure(error))
            }
        }
        if let slot = leastRecentlyUsedIdleSlot() { build(slot) } else { waitingBuilds.append(build) }
    }

    /// Prefills the preset in `slot` (blocking this thread: running streams pause meanwhile, which is fine
    /// for a build done once at startup) and saves the state atomically: temp file, then rename.
    private func prefillAndSave(
        _ preset: PromptCachePreset, sidecar: PromptCacheSidecar, paths: PromptCachePaths, directory: String,
        in slot: LlamaSlot
    ) throws(EngineError) {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw EngineError(.promptCacheFailed, "cannot create \(directory): \(error)")
        }
        let reuse = min(Self.commonPrefixLength(slot.history, preset.tokens), preset.tokens.count)
        model.removeSequence(slot.id, from: reuse)
        slot.history.removeSubrange(reuse...)
        var cursor = reuse
        while cursor < preset.tokens.count {
            batch.n_tokens = 0
            let end = min(cursor + model.batchCapacity, preset.tokens.count)
            for index in cursor..<end {
                add(token: preset.tokens[index], position: index, sequence: slot.id, output: false)
            }
            let status = library.decode(model.context, batch)
            guard status == 0 else {
                model.removeSequence(slot.id)
                slot.history.removeAll()
                throw EngineError(.decodeFailed, "llama_decode failed with status \(status) building \(preset.name)")
            }
            slot.history.append(contentsOf: preset.tokens[cursor..<end])
            cursor = end
        }
        unlink(paths.sidecar)  // a crash from here on leaves no sidecar, so the next start rebuilds
        let temporary = paths.state + ".tmp"
        let written = library.stateSequenceSaveFile(
            model.context, temporary, slot.id, preset.tokens, preset.tokens.count)
        guard written > 0, rename(temporary, paths.state) == 0 else {
            unlink(temporary)
            throw EngineError(.promptCacheFailed, "llama.cpp could not save the state of \(preset.name) to \(paths.state)")
        }
        try paths.writeSidecar(sidecar)
        useCounter += 1
        slot.lastUsed = useCounter
    }
}
