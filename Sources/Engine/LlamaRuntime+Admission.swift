import CLlama
import Logging

/// Putting queued requests into slots, reusing as much KV cache as possible: the slot whose history shares
/// the longest prefix with the prompt, or a prompt-cache preset restored from disk when that is longer.
extension LlamaRuntime {
    func admitWaiting() {
        while !waitingBuilds.isEmpty, let slot = leastRecentlyUsedIdleSlot() {
            waitingBuilds.removeFirst()(slot)
        }
        while !queue.isEmpty, slots.contains(where: { $0.request == nil }) {
            start(queue.removeFirst())
        }
    }

    func leastRecentlyUsedIdleSlot() -> LlamaSlot? {
        slots.filter { $0.request == nil }.min { $0.lastUsed < $1.lastUsed }
    }

    private func start(_ pending: PendingRequest) {
        let assigned = ContinuousClock.now
        let tokens = pending.tokens
        // At least the last prompt token is always decoded: its logits give the first answer token.
        let limit = tokens.count - 1
        var best: (slot: LlamaSlot, reuse: Int)?
        for slot in slots where slot.request == nil {
            let reuse = pending.reusable(min(Self.commonPrefixLength(slot.history, tokens), limit))
            if best == nil || reuse > best!.reuse || (reuse == best!.reuse && slot.lastUsed < best!.slot.lastUsed) {
                best = (slot, reuse)
            }
        }
        var (slot, reuse) = best!
        if reuse < min(64, tokens.count / 2), let fresh = leastRecentlyUsedIdleSlot(), fresh !== slot {
            // Sharing a few tokens (a template header) is not worth evicting that slot's conversation:
            // take the least recently used slot instead, and keep whatever prefix it happens to share.
            slot = fresh
            reuse = pending.reusable(min(Self.commonPrefixLength(slot.history, tokens), limit))
        }
        var prefillStart = assigned
        if let preset = longestPreset(prefixOf: tokens), min(preset.tokens.count, limit) > reuse {
            // Restore into the least valuable idle slot rather than over a slot with a useful history.
            slot = leastRecentlyUsedIdleSlot()!
            reuse = restore(preset, into: slot) ? min(preset.tokens.count, limit) : 0
            prefillStart = ContinuousClock.now
        }
        if !library.memorySequenceRemove(model.memory, slot.id, Int32(reuse), -1) {
            // A cache that cannot drop a tail (recurrent models) is cleared whole.
            model.removeSequence(slot.id)
            reuse = 0
        }
        slot.history.removeSubrange(min(reuse, slot.history.count)...)
        useCounter += 1
        slot.lastUsed = useCounter

        let sampler: SamplerChain
        do {
            sampler = try SamplerChain(
                pending.sampling, grammar: pending.grammar, library: library, vocab: model.vocab,
                vocabSize: model.vocabSize)
        } catch {
            pending.continuation.yield(.done(Completion(reason: .error, error: error)))
            pending.continuation.finish()
            return
        }
        if let penalties = sampler.penalties {
            // Penalties look at the recent text, prompt included, as llama-server does.
            for token in tokens.suffix(pending.sampling.repeatLastN ?? 64) where token >= 0 {
                library.samplerAccept(penalties, token)
            }
        }
        slot.request = ActiveRequest(
            pending: pending, sampler: sampler, cachedTokens: reuse, assigned: assigned, prefillStart: prefillStart)
    }

    private func longestPreset(prefixOf tokens: [Int32]) -> PromptCachePreset? {
        presets.values.filter { $0.tokens.count <= tokens.count && tokens.starts(with: $0.tokens) }
            .max { $0.tokens.count < $1.tokens.count }
    }

    /// Loads a preset's KV state into `slot`. On failure the preset is dropped (its file no longer matches
    /// this context) and the slot is left empty.
    private func restore(_ preset: PromptCachePreset, into slot: LlamaSlot) -> Bool {
        model.removeSequence(slot.id)
        slot.history.removeAll()
        var restored = [Int32](repeating: 0, count: preset.tokens.count)
        var count = 0
        let read = library.stateSequenceLoadFile(
            model.context, preset.path, slot.id, &restored, restored.count, &count)
        guard read > 0, count == preset.tokens.count, restored == preset.tokens else {
            logger.error("prompt cache could not be restored; dropping it", metadata: ["cache": "\(preset.name)"])
            model.removeSequence(slot.id)
            presets[preset.name] = nil
            return false
        }
        slot.history = preset.tokens
        return true
    }

    static func commonPrefixLength(_ a: [Int32], _ b: [Int32]) -> Int {
        let n = min(a.count, b.count)
        var i = 0
        while i < n && a[i] == b[i] { i += 1 }
        return i
    }
}
