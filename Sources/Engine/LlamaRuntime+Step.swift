import CLlama
import Logging

/// Continuous batching: every step decodes, in ONE llama_decode, the last sampled token of every
/// generating slot plus a chunk of prompt of the prefilling ones, then samples each slot that got logits.
extension LlamaRuntime {
    func step() {
        admitWaiting()
        evaluateImages()
        batch.n_tokens = 0
        var generating = 0
        var prefilling = 0
        for slot in slots {
            guard let request = slot.request else { continue }
            request.tokensInBatch = 0
            request.outputIndex = -1
            guard request.phase == .generating else {
                prefilling += 1
                continue
            }
            request.outputIndex = batch.n_tokens
            add(token: request.nextToken, position: slot.history.count, sequence: slot.id, output: true)
            request.tokensInBatch = 1
            generating += 1
        }
        // Prompt chunks: small while streams are running (they wait for this step), as large as a batch
        // otherwise. Oldest request first, so a prompt finishes prefilling before the next one starts.
        var budget = model.batchCapacity - Int(batch.n_tokens)
        if generating > 0 { budget = min(budget, configuration.prefillChunk) }
        for slot in prefilling > 0 ? prefillOrder() : [] where budget > 0 {
            let request = slot.request!
            let prompt = request.pending.tokens
            let take = min(request.pending.textEnd(from: request.cursor) - request.cursor, budget)
            for offset in 0..<take {
                let index = request.cursor + offset
                let last = index == prompt.count - 1
                if last { request.outputIndex = batch.n_tokens }
                add(token: prompt[index], position: slot.history.count + offset, sequence: slot.id, output: last)
            }
            request.tokensInBatch = take
            budget -= take
        }
        guard batch.n_tokens > 0 else { return }

        let result = library.decode(model.context, batch)
        guard result == 0 else {
            failBatch(result)
            return
        }
        for slot in slots {
            guard let request = slot.request, request.tokensInBatch > 0 else { continue }
            if request.phase == .generating {
                slot.history.append(request.nextToken)
            } else {
                slot.history.append(contentsOf: request.pending.tokens[request.cursor..<(request.cursor + request.tokensInBatch)])
                request.cursor += request.tokensInBatch
            }
            if request.outputIndex >= 0 {
                accept(request.sampler.sample(model.context, at: request.outputIndex), in: slot)
            }
        }
    }

    /// Puts into the KV cache every image a prefilling request has reached (all text before it is decoded).
    /// Images go one request at a time, outside the shared batch: libmtmd decodes them with its own batches.
    private func evaluateImages() {
        guard let vision else { return }
        for slot in slots {
            guard let request = slot.request, request.phase == .prefilling else { continue }
            while let image = request.pending.image(at: request.cursor) {
                do {
                    if let encodeTime = try vision.evaluate(
                        image, sequence: slot.id, position: slot.history.count, batchSize: model.batchCapacity)
                    {
                        request.encodedImages += 1
                        request.encodeMs += encodeTime.milliseconds
                    }
                } catch {
                    // Part of the image may be in the cache: forget the sequence rather than trust it.
                    finish(slot, .error, error: error)
                    model.removeSequence(slot.id)
                    slot.history.removeAll()
                    break
                }
                slot.history.append(contentsOf: request.pending.tokens[image.start..<image.end])
                request.cursor = image.end
            }
        }
    }

    private func prefillOrder() -> [LlamaSlot] {
        slots.filter { $0.request?.phase == .prefilling }.sorted { $0.request!.pending.id < $1.request!.pending.id }
    }

    func add(token: Int32, position: Int, sequence: Int32, output: Bool) {
        let i = Int(batch.n_tokens)
        batch.token[i] = token
        batch.pos[i] = Int32(position)
        batch.n_seq_id[i] = 1
        batch.seq_id[i]![0] = sequence
        batch.logits[i] = output ? 1 : 0
        batch.n_tokens += 1
    }

    /// Handles one sampled token: end of generation, text out, stop strings, limits.
    private func accept(_ token: Int32, in slot: LlamaSlot) {
        let request = slot.request!
        let now = ContinuousClock.now
        if request.phase == .prefilling {
            request.phase = .generating
            request.firstToken = now
        }
        request.lastToken = now
        request.sampled += 1
        if model.isEndOfGeneration(token) {
            finish(slot, .stop)
            return
        }
        request.completionTokens += 1
        if let top = request.pending.logprobs, let logits = library.logitsAt(model.context, request.outputIndex) {
            let entry = Logits.logprob(logits, count: Int(model.vocabSize), token: token, top: top) { [model] in
                Array(model.piece($0))
            }
            events.append(.logprobs([entry]))
        }
        let (text, stopped) = request.text.append(model.piece(token))
        if !text.isEmpty { request.router.route(text, into: &events) }
        if !events.isEmpty { flushEvents(request) }
        if stopped || request.router.ended {
            finish(slot, .stop)
        } else if let limit = request.pending.maxTokens, request.completionTokens >= limit {
            finish(slot, .length)
        } else if slot.history.count >= model.contextPerSlot {
            finish(slot, .length)  // no KV cell left for the token just sampled
        } else {
            request.nextToken = token
        }
    }

    private func flushEvents(_ request: ActiveRequest) {
        for event in events { request.pending.continuation.yield(event) }
        events.removeAll(keepingCapacity: true)
    }

    /// Ends the slot's request with `done` and frees the slot. Its KV cache stays (for prefix reuse).
    func finish(_ slot: LlamaSlot, _ reason: Completion.Reason, error: EngineError? = nil) {
        guard let request = slot.request else { return }
        if reason == .stop || reason == .length {
            let rest = request.text.flush()
            request.router.route(rest, into: &events)
            request.router.finish(into: &events)
            flushEvents(request)
        }
        request.pending.continuation.yield(.done(request.completion(reason, error: error)))
        request.pending.continuation.finish()
        slot.request = nil
    }

    /// A failed decode leaves the sequences in an unknown state: end those requests and forget their cache.
    private func failBatch(_ code: Int32) {
        let error = EngineError(.decodeFailed, "llama_decode failed with status \(code)")
        logger.error("decode failed", metadata: ["status": "\(code)", "tokens": "\(batch.n_tokens)"])
        for slot in slots where (slot.request?.tokensInBatch ?? 0) > 0 {
            finish(slot, .error, error: error)
            model.removeSequence(slot.id)
            slot.history.removeAll()
        }
    }
}
