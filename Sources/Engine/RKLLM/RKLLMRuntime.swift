import CRKLLM
import Foundation
import Logging

/// The engine-thread side of the rkllm engine: owns the runtime handle, the queue, the conversation the
/// runtime's cache holds, and which tools and prompt cache are set. One `step` is one whole `rkllm_run`.
final class RKLLMRuntime: SteppedRuntime {
    let configuration: RKLLMEngine.Configuration
    let handle: RKLLMHandle
    let shared: RKLLMShared
    let logger: Logger
    private var queue: [RKLLMJob] = []
    private var conversation = RKLLMConversation()
    /// The tools (as the JSON sent) and system text last given to rkllm_set_function_tools; nil: never set.
    private var appliedTools: (tools: String, system: String)?
    var presets: [String: RKLLMPreset] = [:]
    /// The preset whose file is loaded into the runtime.
    var loadedPreset: String?
    /// The vision encoder, for models that take images.
    private let vision: RKLLMVision?

    init(configuration: RKLLMEngine.Configuration, file: RKLLMLibraryFile, shared: RKLLMShared) throws(EngineError) {
        self.configuration = configuration
        self.shared = shared
        self.logger = configuration.logger
        let started = ContinuousClock.now
        let options = RKLLMInitOptions(
            modelPath: configuration.modelPath, maxContext: configuration.context,
            maxNewTokens: configuration.maxNewTokens ?? -1,
            sampling: RKLLMSamplingValues(configuration.sampling), domain: configuration.domain,
            embedFlash: configuration.embedFlash, cpus: configuration.cpus, batch: max(1, configuration.batch),
            imageTags: configuration.vision.map { RKLLMImages.Tags(start: $0.start, end: $0.end, content: $0.content) })
        handle = try RKLLMHandle.open(file, options: options)
        // The LLM first, then the encoder, as the vendor's demo loads them.
        vision = try configuration.vision.map { vision throws(EngineError) in try RKLLMVision(vision) }
        if let template = configuration.chatTemplate,
            handle.setChatTemplate(system: template.system, prefix: template.prefix, postfix: template.postfix) != 0
        {
            throw EngineError(.templateFailed, "rkllm_set_chat_template refused the manifest's chatTemplate")
        }
        for lora in configuration.loras where handle.loadLoRA(path: lora.path, name: lora.name, scale: lora.scale) != 0 {
            throw EngineError(.modelLoadFailed, "rkllm_load_lora failed for adapter \(lora.name) (\(lora.path))")
        }
        let loadMs = milliseconds(ContinuousClock.now - started)
        let sizes = handle.kvCacheSizes()
        let version = file.version ?? "\(file.abi.rawValue).x"
        shared.update { state in
            state.handle = self.handle
            state.runtimeVersion = version
            state.loadMs = loadMs
            state.kvSizes = sizes
        }
        logger.info(
            "rkllm runtime ready",
            metadata: [
                "library": "\(file.path)", "version": "\(version)", "abi": "\(file.abi.rawValue)", "loadMs": "\(Int(loadMs))",
            ])
    }

    var hasWork: Bool { !queue.isEmpty }

    func enqueue(_ job: RKLLMJob) { queue.append(job) }

    /// The cache was cleared or reused for something else.
    func forgetConversation() { conversation.forget() }

    func step() {
        let first = takeJob()
        guard let first else { return }
        if handle.batch > 1 {
            runBatch(startingWith: first)
        } else {
            runSingle(first)
        }
    }

    func shutdown() {
        for job in queue { job.finish(Completion(reason: .cancelled)) }
        queue.removeAll()
        handle.destroy()
        shared.update { $0.handle = nil }
    }

    private func takeJob() -> RKLLMJob? {
        while !queue.isEmpty {
            let job = queue.removeFirst()
            shared.dequeued()
            guard job.isCancelled else { return job }
            job.finish(Completion(reason: .cancelled))
        }
        return nil
    }

    // MARK: One request

    /// A request on its own: continues the conversation the cache holds when it can.
    private func runSingle(_ job: RKLLMJob) {
        let request = job.request
        let thinking = request.thinking ?? configuration.thinking ?? true
        let messages: [ChatMessage]
        switch request.input {
        // The runtime always applies its chat template to text input (and cannot restore a model's own
        // template once replaced), so a raw prompt is sent as a user turn.
        case .prompt(let text): messages = [.user(text)]
        case .messages(let list): messages = list
        }
        if !applyTools(request.tools, system: RKLLMConversation.systemText(messages)) {
            job.finish(failure("rkllm_set_function_tools failed"))
            return
        }
        let input: RKLLMRunInput
        var kvBefore = [0]
        var loadMs = 0.0
        switch conversation.plan(messages, thinking: thinking, systemInTools: !request.tools.isEmpty) {
        case .continuation(let turn):
            input = turn
            kvBefore = handle.kvCacheSizes()
        case .fresh(let turn):
            input = turn
            handle.clearKVCache(keepSystemPrompt: true)
            let preset = usePreset(for: turn.text, named: request.promptCache)
            loadMs = preset.loadMs
            // For usage when the run is stopped early and reports no perf stats.
            kvBefore = [preset.tokens]
        }
        let run = RKLLMRun([slot(for: job, thinking: thinking)])
        var inputs = [input]
        guard attachImages(&inputs, to: run, from: job) else {
            conversation.forget()
            return
        }
        let status = execute(run, inputs: inputs, jobs: [job], keepHistory: true, request: request)
        let kvAfter = handle.kvCacheSizes()
        shared.end(kvSizes: kvAfter)
        if case .messages = request.input, run.endedCleanly, status == 0 {
            let slot = run.slots[0]
            conversation.record(messages, answer: ChatMessage(role: .assistant, text: slot.content, toolCalls: slot.toolCalls))
        } else {
            conversation.forget()
        }
        run.complete(
            status: status, queueStart: { $0.enqueued }, kvBefore: kvBefore, kvAfter: kvAfter, loadMs: loadMs)
    }

    // MARK: Several requests in one multi-batch run

    /// Up to `batch` waiting requests with the same sampling and tools, each as a fresh conversation
    /// (`keep_history` = 0: the runtime keeps one cache per index, but requests do not stay on an index).
    private func runBatch(startingWith first: RKLLMJob) {
        var jobs = [first]
        let key = batchKey(first)
        var index = 0
        while jobs.count < handle.batch, index < queue.count {
            if !queue[index].isCancelled, let key, batchKey(queue[index]) == key {
                jobs.append(queue.remove(at: index))
                shared.dequeued()
            } else {
                index += 1
            }
        }
        let request = first.request
        if !applyTools(request.tools, system: systemText(request)) {
            for job in jobs { job.finish(failure("rkllm_set_function_tools failed")) }
            return
        }
        var inputs = jobs.map { job in
            let thinking = job.request.thinking ?? configuration.thinking ?? true
            return RKLLMConversation.freshTurn(
                messages(of: job.request), thinking: thinking, systemInTools: !job.request.tools.isEmpty)
        }
        var slots = jobs.map { slot(for: $0, thinking: $0.request.thinking ?? configuration.thinking ?? true) }
        // The runtime takes exactly `batch` inputs: unused indices repeat the first request, and their
        // output is dropped.
        while inputs.count < handle.batch {
            inputs.append(inputs[0])
            slots.append(
                RKLLMRun.Slot(
                    job: nil, maxTokens: 0, text: TextStream(stopStrings: []), router: OutputRouter(thinking: false, tools: false)
                ))
        }
        handle.clearKVCache(keepSystemPrompt: true)
        conversation.forget()
        let run = RKLLMRun(slots)
        guard attachImages(&inputs, to: run, from: first) else { return }
        let status = execute(run, inputs: inputs, jobs: jobs, keepHistory: false, request: request)
        let kvAfter = handle.kvCacheSizes()
        shared.end(kvSizes: kvAfter)
        run.complete(status: status, queueStart: { $0.enqueued }, kvBefore: [], kvAfter: kvAfter, loadMs: 0)
    }

    /// Requests with the same key can share a run; nil: this one runs alone (it has images: the padding
    /// indices repeat its input, and only its own images are encoded).
    private func batchKey(_ job: RKLLMJob) -> String? {
        let request = job.request
        guard job.images.isEmpty else { return nil }
        return "\(request.sampling)|\(request.lora ?? "")|\(toolsJSON(request.tools))|\(systemText(request))"
    }

    /// Encodes the images the inputs name (those of `job`, the only request of a run with images) and
    /// records the work in the run's first slot. On failure the run's requests end with the error.
    private func attachImages(_ inputs: inout [RKLLMRunInput], to run: RKLLMRun, from job: RKLLMJob) -> Bool {
        guard let first = inputs.first, !first.images.isEmpty else { return true }
        do throws(EngineError) {
            guard let vision else { throw EngineError(.unsupported, "model \(configuration.modelName) does not take images") }
            let (images, encoded, encodeMs) = try vision.embed(first.images, decoded: job.images)
            for index in inputs.indices { inputs[index].embeddings = images }
            run.slots[0].imageTokens = images.count * images.tokens
            run.slots[0].encodedImages = encoded
            run.slots[0].encodeMs = encodeMs
            return true
        } catch {
            logger.error("image encoding failed", metadata: ["error": "\(error.message)"])
            for slot in run.slots { slot.job?.finish(Completion(reason: .error, error: error)) }
            return false
        }
    }

    // MARK: Shared steps

    private func execute(
        _ run: RKLLMRun, inputs: [RKLLMRunInput], jobs: [RKLLMJob], keepHistory: Bool, request: GenerationRequest
    ) -> Int32 {
        let isV13 = handle.file.abi == .v1Dot3
        let cap = run.slots.compactMap { $0.job == nil ? nil : $0.maxTokens }.max() ?? 0
        let options = RKLLMRunOptions(
            keepHistory: keepHistory, lora: request.lora,
            sampling: isV13 ? RKLLMSamplingValues(request.sampling.merged(over: configuration.sampling)) : nil,
            maxNewTokens: isV13 && cap < Int(Int32.max) ? cap : 0)
        if options.maxNewTokens > 0 { run.runtimeCap = options.maxNewTokens }
        _ = shared.begin(jobs)
        return handle.run(inputs, options: options, sink: run)
    }

    private func slot(for job: RKLLMJob, thinking: Bool) -> RKLLMRun.Slot {
        let request = job.request
        let cap = request.maxTokens ?? configuration.maxNewTokens ?? Int(Int32.max)
        return RKLLMRun.Slot(
            job: job, maxTokens: max(1, cap), text: TextStream(stopStrings: request.stop),
            router: OutputRouter(
                thinking: thinking, tools: !request.tools.isEmpty, singleCall: !request.parallelToolCalls))
    }

    /// Sets the tools (and the system text that goes with them) when they differ from what the runtime has.
    /// The runtime rebuilds its system prompt, so the conversation in the cache no longer counts.
    private func applyTools(_ tools: [ToolDefinition], system: String) -> Bool {
        let json = toolsJSON(tools)
        let wanted = (tools: json, system: tools.isEmpty ? "" : system)
        if let applied = appliedTools, applied == wanted { return true }
        if appliedTools == nil && tools.isEmpty { return true }
        conversation.forget()
        guard handle.setFunctionTools(system: wanted.system, tools: json, responseTag: "tool_response") == 0 else {
            appliedTools = nil
            return false
        }
        appliedTools = wanted
        return true
    }

    /// OpenAI's function-tool array, which is what the runtime takes; "" for none.
    private func toolsJSON(_ tools: [ToolDefinition]) -> String {
        guard !tools.isEmpty else { return "" }
        let array: [[String: Any]] = tools.map { tool in
            let parameters =
                (try? JSONSerialization.jsonObject(with: Data(tool.parameters.utf8))) ?? [String: Any]()
            return [
                "type": "function",
                "function": ["name": tool.name, "description": tool.description, "parameters": parameters],
            ]
        }
        let data = (try? JSONSerialization.data(withJSONObject: array, options: [.sortedKeys])) ?? Data("[]".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    private func messages(of request: GenerationRequest) -> [ChatMessage] {
        switch request.input {
        case .prompt(let text): [.user(text)]
        case .messages(let list): list
        }
    }

    private func systemText(_ request: GenerationRequest) -> String {
        RKLLMConversation.systemText(messages(of: request))
    }

    private func failure(_ message: String) -> Completion {
        Completion(reason: .error, error: EngineError(.decodeFailed, message))
    }
}
