import CRKLLM
import Foundation
import Synchronization

/// A generation request waiting for, or taking part in, a run.
final class RKLLMJob: Sendable {
    let request: GenerationRequest
    /// The request's images, decoded.
    let images: [DecodedImage]
    let continuation: AsyncThrowingStream<GenerationEvent, any Error>.Continuation
    let enqueued = ContinuousClock.now
    private let cancelled = Atomic<Bool>(false)

    init(
        request: GenerationRequest, images: [DecodedImage] = [],
        continuation: AsyncThrowingStream<GenerationEvent, any Error>.Continuation
    ) {
        self.request = request
        self.images = images
        self.continuation = continuation
    }

    /// Set from any thread when the consumer goes away; read by the callback between tokens.
    var isCancelled: Bool { cancelled.load(ordering: .relaxed) }
    func cancel() { cancelled.store(true, ordering: .relaxed) }

    func finish(_ completion: Completion) {
        continuation.yield(.done(completion))
        continuation.finish()
    }
}

/// The callback side of one generation run: turns each batch index's results into events for its job.
///
/// Lives on the engine thread before and after `rkllm_run`; during the run only the runtime's callbacks
/// touch it (one at a time, while the engine thread is blocked in the run), so it needs no lock.
final class RKLLMRun: RKLLMRunSink {
    struct Slot {
        /// nil for an index that only pads the batch.
        let job: RKLLMJob?
        let maxTokens: Int
        var text: TextStream
        var router: OutputRouter
        var tokens = 0
        /// Set once this index needs nothing more (its own stop, length or cancellation).
        var outcome: Completion.Reason?
        /// What the client saw as the answer, for the conversation record.
        var content = ""
        var toolCalls: [ToolCall] = []
        var firstToken: ContinuousClock.Instant?
        var lastToken: ContinuousClock.Instant?
        var perf: RKLLMPerfStat?
        /// Image tokens in this index's input, and the encoder's work for them.
        var imageTokens = 0
        var encodedImages = 0
        var encodeMs = 0.0
    }

    var slots: [Slot]
    let started = ContinuousClock.now
    private(set) var finished = false
    private(set) var runtimeError = false
    /// Pause the run once no index needs more tokens. Off when building a prompt cache: the runtime writes
    /// the file only once the run has finished, so it must end on its own, with FINISH.
    var pausesWhenDone = true
    /// The `max_new_tokens` the runtime was given for this run (1.3), if any. An index that reaches it is
    /// left for the runtime to end, so the run finishes with FINISH and its perf stats.
    var runtimeCap: Int?

    init(_ slots: [Slot]) { self.slots = slots }

    func receive(_ results: UnsafeMutablePointer<RKLLMResult>, state: LLMCallState) -> Int32 {
        switch state {
        case RKLLM_RUN_FINISH:
            finished = true
            for index in slots.indices { slots[index].perf = results[index].perf }
            return 0
        case RKLLM_RUN_ERROR:
            runtimeError = true
            return 0
        default:
            break
        }
        let now = ContinuousClock.now
        var live = false
        for index in slots.indices {
            handle(results[index], at: index, now: now)
            if slots[index].job != nil && slots[index].outcome == nil { live = true }
        }
        // Every request has what it needs: pause, the runtime's way to stop from inside the callback.
        return live || !pausesWhenDone ? 0 : 1
    }

    private func handle(_ result: RKLLMResult, at index: Int, now: ContinuousClock.Instant) {
        guard slots[index].outcome == nil, let job = slots[index].job else { return }
        if job.isCancelled {
            slots[index].outcome = .cancelled
            return
        }
        guard result.token_id >= 0 else {
            // The runtime finished this index (end of generation or its own cap).
            slots[index].outcome = slots[index].tokens >= slots[index].maxTokens ? .length : .stop
            return
        }
        slots[index].tokens += 1
        if slots[index].firstToken == nil { slots[index].firstToken = now }
        slots[index].lastToken = now
        // WAITING results carry the first bytes of a character that the next result completes; the text
        // stream holds incomplete characters either way, so both states are appended alike.
        if let text = result.text {
            let length = strlen(text)
            let (delta, stopped) = text.withMemoryRebound(to: UInt8.self, capacity: length) {
                slots[index].text.append(UnsafeBufferPointer(start: $0, count: length))
            }
            emit(delta, at: index)
            if stopped || slots[index].router.ended { slots[index].outcome = .stop }
        }
        if slots[index].outcome == nil, slots[index].tokens >= slots[index].maxTokens, runtimeCap != slots[index].maxTokens {
            slots[index].outcome = .length
        }
    }

    private func emit(_ text: String, at index: Int) {
        var events: [GenerationEvent] = []
        slots[index].router.route(text, into: &events)
        deliver(events, at: index)
    }

    private func deliver(_ events: [GenerationEvent], at index: Int) {
        for event in events {
            switch event {
            case .text(let text, .content): slots[index].content += text
            case .toolCall(let call): slots[index].toolCalls.append(call)
            default: break
            }
            slots[index].job?.continuation.yield(event)
        }
    }

    /// After the run: the rest of each index's text, then its `done`. `status` is what rkllm_run returned;
    /// `kvBefore`/`kvAfter` the cache lengths around the run, for usage when there are no perf stats;
    /// `loadMs` the time spent loading a prompt-cache preset for it.
    func complete(
        status: Int32, queueStart: (RKLLMJob) -> ContinuousClock.Instant, kvBefore: [Int], kvAfter: [Int], loadMs: Double
    ) {
        for index in slots.indices {
            guard let job = slots[index].job else { continue }
            var reason = slots[index].outcome
            if reason == nil {
                if runtimeError || status != 0 {
                    reason = .error
                } else if job.isCancelled {
                    reason = .cancelled
                } else {
                    reason = slots[index].tokens >= slots[index].maxTokens ? .length : .stop
                }
            }
            var events: [GenerationEvent] = []
            if reason != .cancelled && reason != .error {
                slots[index].router.route(slots[index].text.flush(), into: &events)
                slots[index].router.finish(into: &events)
                deliver(events, at: index)
            }
            let slot = slots[index]
            let computed = slot.perf.map { Int($0.prefill_tokens) }
            let after = index < kvAfter.count ? kvAfter[index] : 0
            let before = index < kvBefore.count ? kvBefore[index] : 0
            let prompt = max(0, after - slot.tokens, before)
            let prefillTokens = computed ?? max(0, prompt - before)
            let usage = Usage(
                promptTokens: max(prompt, prefillTokens), completionTokens: slot.tokens,
                cachedPromptTokens: max(0, prompt - prefillTokens), imageTokens: slot.imageTokens)
            let timings = Timings(
                queueMs: milliseconds(started - queueStart(job)), loadMs: loadMs,
                prefillMs: milliseconds((slot.firstToken ?? .now) - started),
                prefillTokens: prefillTokens,
                decodeMs: slot.firstToken.map { milliseconds((slot.lastToken ?? $0) - $0) } ?? 0,
                decodeTokens: max(0, slot.tokens - 1), encodeMs: slot.encodeMs, encodedImages: slot.encodedImages)
            let error =
                reason == .error
                ? EngineError(
                    .decodeFailed, runtimeError ? "the rkllm runtime reported an error" : "rkllm_run failed (\(status))")
                : nil
            job.finish(Completion(reason: reason!, usage: usage, timings: timings, error: error))
        }
    }

    /// True when the run ended as the runtime intended (not paused, aborted or failed): only then does its
    /// cache hold a whole answer.
    var endedCleanly: Bool { finished && !runtimeError && slots.allSatisfy { $0.outcome != .cancelled } }
}

func milliseconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
}
