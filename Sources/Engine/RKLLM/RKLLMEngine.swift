import Foundation
import Synchronization

/// The rkllm engine: one model on Rockchip's NPU runtime (librkllmrt.so 1.2.x or 1.3.x, or RKLLMSim).
/// The runtime does one run per handle at a time, so requests wait in a bounded queue; with `batch` > 1,
/// waiting requests run together as one multi-batch run. Every runtime call except `rkllm_abort` happens on
/// one dedicated thread (`EngineThread`).
public final class RKLLMEngine: Engine {
    public let configuration: Configuration
    /// The interface of the runtime in use, read from the library at load.
    let abi: RKLLMRuntimeABI
    private let thread: EngineThread<RKLLMRuntime>
    private let shared: RKLLMShared
    /// llama.cpp's libmtmd, which decodes images for a vision model's encoder.
    private let imageDecoder: MultimodalLibrary?

    private init(
        configuration: Configuration, abi: RKLLMRuntimeABI, thread: EngineThread<RKLLMRuntime>, shared: RKLLMShared,
        imageDecoder: MultimodalLibrary?
    ) {
        self.configuration = configuration
        self.abi = abi
        self.thread = thread
        self.shared = shared
        self.imageDecoder = imageDecoder
    }

    deinit { thread.requestStop() }

    /// Checks the library file, opens it, loads the model and starts the engine thread. Throws
    /// `EngineError` (`libraryNotFound`, `symbolMissing`, `unsupported` for an ABI it cannot tell or
    /// does not speak, `modelLoadFailed`).
    public static func load(_ configuration: Configuration) async throws -> RKLLMEngine {
        let file = try RKLLMLibraryFile.inspect(path: configuration.libraryPath, requested: configuration.abi)
        let imageDecoder = try configuration.vision.map { vision throws(EngineError) in
            try MultimodalLibrary.load(nextTo: vision.decoderLibraryPath)
        }
        let shared = RKLLMShared()
        let thread = try await EngineThread<RKLLMRuntime>.start(name: "rkllm:\(configuration.modelName)") {
            try RKLLMRuntime(configuration: configuration, file: file, shared: shared)
        }
        return RKLLMEngine(
            configuration: configuration, abi: file.abi, thread: thread, shared: shared, imageDecoder: imageDecoder)
    }

    public func generate(_ request: GenerationRequest) async throws -> AsyncThrowingStream<GenerationEvent, any Error> {
        try validate(request)
        let images =
            try imageDecoder.map { decoder throws(EngineError) in try DecodedImage.all(in: request, library: decoder) } ?? []
        guard shared.admit(limit: configuration.queueLimit) else {
            throw EngineError(
                .busy, "\(configuration.queueLimit) requests are already waiting for model \(configuration.modelName)")
        }
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: GenerationEvent.self)
        let job = RKLLMJob(request: request, images: images, continuation: continuation)
        let shared = self.shared
        let grace = configuration.abortGrace
        let onStuck = configuration.onStuck
        continuation.onTermination = { termination in
            guard case .cancelled = termination else { return }
            job.cancel()
            shared.abortIfOnlyCancelled(grace: grace, onStuck: onStuck)
        }
        let accepted = thread.submit { runtime in runtime.enqueue(job) }
        guard accepted else {
            shared.dequeued()
            throw EngineError(.unavailable, "the engine is shutting down")
        }
        return stream
    }

    /// Refusals that need no runtime: what the rkllm runtime cannot do, and prompts that cannot fit.
    private func validate(_ request: GenerationRequest) throws(EngineError) {
        if let format = request.responseFormat, format.kind != .text {
            throw EngineError(
                .unsupported, "the rkllm runtime cannot constrain its output, so response_format \(format.kind) is not supported")
        }
        if request.toolChoice != .auto {
            throw EngineError(
                .unsupported, "the rkllm runtime cannot constrain its output, so a required tool call cannot be enforced")
        }
        if request.logprobs != nil {
            throw EngineError(.unsupported, "the rkllm runtime does not report token probabilities (logprobs)")
        }
        if let refusal = RKLLMSamplingSupport.refusal(request.sampling, loaded: configuration.sampling, abi: abi) {
            throw EngineError(.unsupported, refusal)
        }
        if configuration.vision == nil, case .messages(let messages) = request.input,
            messages.contains(where: { !$0.images.isEmpty })
        {
            throw EngineError(.unsupported, "model \(configuration.modelName) does not take images")
        }
        if let name = request.lora, !configuration.loras.contains(where: { $0.name == name }) {
            let declared = configuration.loras.map(\.name)
            throw EngineError(
                .invalidRequest,
                "model \(configuration.modelName) has no LoRA adapter '\(name)'"
                    + (declared.isEmpty ? "" : " (it has \(declared.joined(separator: ", ")))"))
        }
        if let name = request.promptCache, !shared.presetNames.contains(name) {
            throw EngineError(.unknownPromptCache, "model \(configuration.modelName) has no prompt cache named '\(name)'")
        }
        // The runtime exposes no tokenizer, so the length is estimated from the text: about four bytes per
        // token for the languages these models are trained on. Only prompts that clearly cannot fit are
        // refused here; the runtime refuses the rest with an error event.
        let text: Int
        switch request.input {
        case .prompt(let prompt): text = prompt.utf8.count
        case .messages(let messages): text = messages.reduce(0) { $0 + $1.text.utf8.count }
        }
        let estimated = text / 4
        if estimated >= configuration.context {
            throw EngineError(
                .promptTooLong,
                "the prompt is about \(estimated) tokens, more than model \(configuration.modelName)'s context of "
                    + "\(configuration.context)")
        }
    }

    public func embed(_ inputs: [String]) async throws -> Embeddings {
        try await thread.run { runtime in try runtime.embed(inputs) }
    }

    public func tokenize(_ text: String) async throws -> [Int] {
        throw EngineError(.unsupported, "the rkllm runtime does not expose its tokenizer")
    }

    public func status() async -> EngineStatus {
        shared.status(configuration)
    }

    public func buildPromptCache(name: String, system: String, directory: String) async throws -> PromptCacheInfo {
        try await thread.run { runtime in try runtime.buildPromptCache(name: name, system: system, directory: directory) }
    }

    public func shutdown() async {
        await thread.stop()
    }
}

/// What the engine thread and async callers share: the queue count, the run in progress (for aborts), and
/// a status snapshot. Everything behind one lock; nothing here calls into the runtime except `abort`.
final class RKLLMShared: Sendable {
    struct State {
        var queued = 0
        var running: [RKLLMJob] = []
        var runID = 0
        var handle: RKLLMHandle?
        var kvSizes: [Int] = []
        var runtimeVersion = ""
        var loadMs = 0.0
        var presets: [String] = []
    }

    private let state = Mutex(State())

    var presetNames: [String] { state.withLock { $0.presets } }

    func admit(limit: Int) -> Bool {
        state.withLock { state in
            guard state.queued < limit else { return false }
            state.queued += 1
            return true
        }
    }

    func dequeued() { state.withLock { $0.queued -= 1 } }

    func update(_ body: (inout State) -> Void) { state.withLock { body(&$0) } }

    /// Marks a run as started; returns its id.
    func begin(_ jobs: [RKLLMJob]) -> Int {
        state.withLock { state in
            state.runID += 1
            state.running = jobs
            return state.runID
        }
    }

    func end(kvSizes: [Int]) {
        state.withLock { state in
            state.running = []
            state.kvSizes = kvSizes
        }
    }

    /// When every request of the run in progress has gone away, aborts the run (it may be prefilling, when
    /// no callback comes to stop it) and watches that it really stops.
    func abortIfOnlyCancelled(grace: Duration, onStuck: @escaping @Sendable (String) -> Void) {
        let (handle, runID) = state.withLock { state -> (RKLLMHandle?, Int) in
            guard !state.running.isEmpty, state.running.allSatisfy(\.isCancelled) else { return (nil, 0) }
            return (state.handle, state.runID)
        }
        guard let handle else { return }
        handle.abort()
        let seconds = Double(grace.components.seconds) + Double(grace.components.attoseconds) / 1e18
        DispatchQueue.global().asyncAfter(deadline: .now() + seconds) { [self] in
            let stuck = state.withLock { $0.runID == runID && !$0.running.isEmpty }
            if stuck { onStuck("an aborted rkllm run did not stop within \(seconds) s") }
        }
    }

    func status(_ configuration: RKLLMEngine.Configuration) -> EngineStatus {
        state.withLock { state in
            let busy = !state.running.isEmpty
            let slots = (0..<max(1, configuration.batch)).map { index in
                EngineStatus.Slot(
                    id: index, state: busy && index < state.running.count ? .generating : .idle,
                    cachedTokens: index < state.kvSizes.count ? state.kvSizes[index] : 0)
            }
            return EngineStatus(
                engine: "rkllm", model: configuration.modelName, runtimeVersion: state.runtimeVersion,
                loadMs: state.loadMs, contextPerSlot: configuration.context, slots: slots, queued: state.queued,
                promptCaches: state.presets)
        }
    }
}
