import CLlama
import Logging

/// The llama.cpp side of `LlamaEngine`: model, context, slots, queue, presets. Created on, used on and
/// freed on the engine thread only (`EngineThread`), so it needs no locks.
final class LlamaRuntime: SteppedRuntime {
    let configuration: LlamaEngine.Configuration
    let logger: Logger
    let model: LlamaModel
    /// Library, model and context, warm-up included.
    private(set) var loadMs: Double = 0
    var slots: [LlamaSlot]
    var queue: [PendingRequest] = []
    var presets: [String: PromptCachePreset] = [:]
    /// Preset builds waiting for an idle slot.
    var waitingBuilds: [(LlamaSlot) -> Void] = []
    var batch: llama_batch
    var useCounter: UInt64 = 0
    var embedder: LlamaEmbedder?
    /// The projector, for models that take images.
    let vision: LlamaVision?
    /// Grammars compiled from JSON schemas, by schema text.
    var grammars: [String: String] = [:]
    /// Scratch list of events for one token, reused to avoid an allocation per token.
    var events: [GenerationEvent] = []

    var library: LlamaLibrary { model.library }

    init(configuration: LlamaEngine.Configuration) throws(EngineError) {
        guard configuration.parallel >= 1, configuration.context >= 16, configuration.batchSize >= 1 else {
            throw EngineError(.invalidRequest, "parallel, context and batchSize must be positive")
        }
        let start = ContinuousClock.now
        self.configuration = configuration
        logger = configuration.logger
        let library = try LlamaLibrary.load(path: configuration.libraryPath)
        LlamaLog.install(library: library, logger: configuration.logger)
        model = try LlamaModel(configuration: configuration, library: library, logger: configuration.logger)
        if let projector = configuration.projectorPath {
            vision = try LlamaVision(projectorPath: projector, model: model, configuration: configuration)
        } else {
            vision = nil
        }
        slots = (0..<configuration.parallel).map { LlamaSlot(id: Int32($0)) }
        batch = library.batchInit(Int32(model.batchCapacity), 0, 1)
        warmUp()
        loadMs = (ContinuousClock.now - start).milliseconds
        logger.info(
            "model loaded",
            metadata: [
                "model": "\(configuration.modelPath)", "llama": "\(library.version)", "loadMs": "\(Int(loadMs))",
                "slots": "\(configuration.parallel)", "contextPerSlot": "\(model.contextPerSlot)",
                "template": "\(model.template.source.name)",
                "projector": "\(configuration.projectorPath ?? "none")",
            ])
    }

    /// One throwaway decode, so that the first request does not pay for llama.cpp's lazy setup.
    private func warmUp() {
        batch.n_tokens = 0
        add(token: 0, position: 0, sequence: 0, output: true)
        _ = library.decode(model.context, batch)
        library.memoryClear(model.memory, true)
    }

    var hasWork: Bool {
        !queue.isEmpty || !waitingBuilds.isEmpty || slots.contains { $0.request != nil }
    }

    func shutdown() {
        for request in queue {
            request.continuation.yield(.done(Completion(reason: .cancelled)))
            request.continuation.finish()
        }
        queue.removeAll()
        for slot in slots where slot.request != nil { finish(slot, .cancelled) }
        embedder = nil
        library.batchFree(batch)
    }

    /// Validates and queues a request. Everything that can be refused is refused here, before any decoding.
    func submit(
        _ request: GenerationRequest, id: UInt64, submitted: ContinuousClock.Instant,
        continuation: AsyncThrowingStream<GenerationEvent, any Error>.Continuation
    ) throws(EngineError) {
        if let maxTokens = request.maxTokens, maxTokens < 1 {
            throw EngineError(.invalidRequest, "maxTokens must be at least 1 (nil means no limit)")
        }
        let (text, images) = try promptText(for: request)
        var prompt = MultimodalPrompt()
        if let vision, !images.isEmpty {
            prompt = try vision.prompt(text, images: images)
        } else {
            prompt.tokens = model.tokenize(text)
        }
        let tokens = prompt.tokens
        guard !tokens.isEmpty else { throw EngineError(.invalidRequest, "the prompt is empty") }
        guard tokens.count < model.contextPerSlot else {
            throw EngineError(
                .promptTooLong,
                "the prompt is \(tokens.count) tokens but a request may use at most \(model.contextPerSlot) "
                    + "(prompt and answer together); shorten it or raise the model's context")
        }
        if let logprobs = request.logprobs, !(0...TokenLogprob.maxAlternatives).contains(logprobs) {
            throw EngineError(
                .invalidRequest, "logprobs asks for \(logprobs) alternatives; 0 to \(TokenLogprob.maxAlternatives) are allowed")
        }
        // A required tool call is the whole answer, so its grammar replaces a response format's.
        var grammar = try grammar(for: request.toolChoice, tools: request.tools, single: !request.parallelToolCalls)
        if grammar == nil { grammar = try self.grammar(for: request.responseFormat) }
        let thinking = request.thinking ?? configuration.thinking ?? model.template.supportsThinking
        queue.append(
            PendingRequest(
                id: id, tokens: tokens, images: prompt.images,
                sampling: request.sampling.merged(over: configuration.sampling)
                    .merged(over: LlamaEngine.Configuration.builtinSampling),
                stop: request.stop, maxTokens: request.maxTokens, grammar: grammar,
                routeThinking: thinking,
                routeTools: !request.tools.isEmpty, singleToolCall: !request.parallelToolCalls, logprobs: request.logprobs,
                continuation: continuation,
                submitted: submitted))
    }

    /// The grammar of a required tool call (`nil` when the model may answer in text), compiled once per tool list.
    /// `single`: one call even when several tools may be called.
    private func grammar(for choice: ToolChoice, tools: [ToolDefinition], single: Bool) throws(EngineError) -> String? {
        let called: [ToolDefinition]
        switch choice {
        case .auto: return nil
        case .required: called = tools
        case .function(let name):
            called = tools.filter { $0.name == name }
            guard !called.isEmpty else {
                throw EngineError(.invalidRequest, "the tool choice names '\(name)', which is not a tool")
            }
        }
        let one = single || choice != .required
        let key = "tools:\(choice):\(one):" + called.map { "\($0.name)\u{0}\($0.parameters)" }.joined(separator: "\u{0}")
        return try cachedGrammar(key) { () throws(EngineError) -> String in
            try JSONSchemaGrammar.compileToolCalls(called, single: one)
        }
    }

    /// The grammar a response format asks for: "some JSON object", or a schema's own (compiled once per schema
    /// text, and checked by llama.cpp here, so a grammar it cannot parse is refused before anything runs).
    private func grammar(for format: ResponseFormat?) throws(EngineError) -> String? {
        guard let format, format.kind != .text else { return nil }
        guard format.kind == .jsonSchema, let schema = format.schema else { return JSONGrammar.object }
        return try cachedGrammar(schema) { () throws(EngineError) -> String in try JSONSchemaGrammar.compile(schema) }
    }

    /// `compile`'s grammar for `key`, made once and checked by llama.cpp before it is kept.
    private func cachedGrammar(_ key: String, _ compile: () throws(EngineError) -> String) throws(EngineError) -> String {
        if let known = grammars[key] { return known }
        let grammar = try compile()
        guard let sampler = library.samplerGrammar(model.vocab, grammar, "root") else {
            throw EngineError(.unsupported, "llama.cpp could not use the grammar made for this request")
        }
        library.samplerFree(sampler)
        if grammars.count >= 64 { grammars.removeAll() }
        grammars[key] = grammar
        return grammar
    }

    /// The prompt as text, each image standing as the projector's marker, and the images in that order.
    private func promptText(for request: GenerationRequest) throws(EngineError) -> (String, [ImageInput]) {
        if let lora = request.lora {
            throw EngineError(.unsupported, "the llama.cpp engine does not load LoRA adapters yet (asked for '\(lora)')")
        }
        switch request.input {
        case .prompt(let text):
            if let name = request.promptCache, presets[name] == nil {
                throw EngineError(.unknownPromptCache, "no prompt cache named \(name)")
            }
            return (text, [])
        case .messages(var messages):
            let images = messages.flatMap(\.images)
            if !images.isEmpty {
                guard let vision else { throw EngineError(.unsupported, "this model does not take images") }
                // Images go before their turn's text, in the order given.
                for index in messages.indices where !messages[index].images.isEmpty {
                    let markers = messages[index].images.map { _ in vision.marker }.joined(separator: "\n")
                    messages[index].text = markers + (messages[index].text.isEmpty ? "" : "\n" + messages[index].text)
                }
            }
            if let name = request.promptCache {
                guard let preset = presets[name] else {
                    throw EngineError(.unknownPromptCache, "no prompt cache named \(name)")
                }
                // Naming a preset means "start from its system prompt" unless the request brings its own.
                if !messages.contains(where: { $0.role == .system }) {
                    messages.insert(.system(preset.system), at: 0)
                }
            }
            let turns = ChatFormatter.turns(for: messages, tools: request.tools)
            guard var text = model.template.render(turns, addAssistant: true) else {
                throw EngineError(.templateFailed, "llama.cpp could not apply the chat template")
            }
            if model.template.supportsThinking && (request.thinking ?? configuration.thinking) == false {
                // What thinking templates (Qwen3) render for enable_thinking=false: an empty, closed block.
                text += "<think>\n\n</think>\n\n"
            }
            return (text, images)
        }
    }

    /// Ends request `id` wherever it is (queued or running); its slot is free for the next step.
    func cancel(_ id: UInt64) {
        if let index = queue.firstIndex(where: { $0.id == id }) {
            let request = queue.remove(at: index)
            request.continuation.yield(
                .done(Completion(reason: .cancelled, usage: Usage(promptTokens: request.tokens.count))))
            request.continuation.finish()
            return
        }
        if let slot = slots.first(where: { $0.request?.pending.id == id }) {
            finish(slot, .cancelled)
        }
    }

    func tokenize(_ text: String) -> [Int] {
        model.tokenize(text, addSpecial: false).map(Int.init)
    }

    func status() -> EngineStatus {
        EngineStatus(
            engine: "llamacpp", model: configuration.modelName, runtimeVersion: library.version, loadMs: loadMs,
            contextPerSlot: model.contextPerSlot,
            slots: slots.map { slot in
                EngineStatus.Slot(
                    id: Int(slot.id),
                    state: slot.request.map { $0.phase == .prefilling ? .prefilling : .generating } ?? .idle,
                    cachedTokens: slot.history.count)
            },
            queued: queue.count, promptCaches: presets.keys.sorted())
    }
}

extension PromptTemplate.Source {
    var name: String {
        switch self {
        case .gguf: "gguf"
        case .fallback: "configured"
        case .chatML: "chatml"
        }
    }
}
