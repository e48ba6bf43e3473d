import CRKLLM
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What `rkllm_init` is given, as plain values; `RKLLMHandle` writes them into the struct of the
/// library's ABI.
struct RKLLMInitOptions {
    var modelPath: String
    var maxContext: Int
    /// -1: until the context is full.
    var maxNewTokens: Int
    /// KV entries kept at the front when the window shifts; -1 keeps the system prompt.
    var keepTokens: Int = -1
    var sampling: RKLLMSamplingValues
    var domain: Int
    var embedFlash: Bool
    /// nil: the runtime's default cores.
    var cpus: [Int]?
    var batch: Int
    /// 1.2 takes a vision model's image tags at init (1.3 takes them per run).
    var imageTags: RKLLMImages.Tags?
}

/// Sampling as the runtime takes it (init parameters, and per run on 1.3).
struct RKLLMSamplingValues: Equatable {
    var topK: Int32 = 40
    var topP: Float = 0.9
    var temperature: Float = 0.8
    var repeatPenalty: Float = 1.1
    var frequencyPenalty: Float = 0
    var presencePenalty: Float = 0
    var mirostat: Int32 = 0
    var mirostatTau: Float = 5
    var mirostatEta: Float = 0.1

    /// The runtime's documented defaults, overridden by whatever `sampling` sets. The runtime has no
    /// min-p and no seed; `temperature: 0` becomes top-k 1 (greedy), which the runtime honours exactly.
    init(_ sampling: Sampling = Sampling()) {
        if let value = sampling.topK { topK = Int32(clamping: value) }
        if let value = sampling.topP { topP = Float(value) }
        if let value = sampling.temperature { temperature = Float(value) }
        if let value = sampling.repeatPenalty { repeatPenalty = Float(value) }
        if let value = sampling.frequencyPenalty { frequencyPenalty = Float(value) }
        if let value = sampling.presencePenalty { presencePenalty = Float(value) }
        if let mirostat = sampling.mirostat {
            self.mirostat = Int32(mirostat.version)
            mirostatTau = Float(mirostat.tau)
            mirostatEta = Float(mirostat.eta)
        }
        if temperature <= 0 { topK = 1 }
    }
}

/// One input of a run: PROMPT text (the runtime applies its chat template) under a role, or MULTIMODAL text
/// with one `<image>` per image and the images' embeddings.
struct RKLLMRunInput: Equatable {
    /// "user", or "tool" for tool results.
    var role: String
    var thinking: Bool
    var text: String
    /// The images the `<image>` tags of `text` stand for, in order (files, before encoding).
    var images: [ImageInput] = []
    /// Their embeddings, filled in by the engine before the run.
    var embeddings: RKLLMImages?

    /// What the runtime expands into an image's start tag, embeddings and end tag.
    static let imageTag = "<image>"
}

/// The encoded images of one input: `count` × `tokens` × `width` floats, back to back.
struct RKLLMImages: Equatable {
    struct Tags: Equatable {
        var start: String
        var end: String
        var content: String
    }

    var embeddings: [Float]
    var count: Int
    var tokens: Int
    /// The encoder's input size (the runtime uses it for M-RoPE positions).
    var imageWidth: Int
    var imageHeight: Int
    var tags: Tags
}

struct RKLLMRunOptions {
    var mode: RKLLMInferMode = RKLLM_INFER_GENERATE
    var keepHistory: Bool
    var lora: String?
    /// Write the prefill state of this run to this path.
    var savePromptCache: String?
    /// 1.3 only; nil keeps the init-time sampling.
    var sampling: RKLLMSamplingValues?
    /// 1.3 only; 0 keeps the init-time cap.
    var maxNewTokens: Int = 0
}

/// Receives the result callbacks of one run (on the runtime's thread).
protocol RKLLMRunSink: AnyObject {
    /// `results` holds one result per batch index. The return value goes back to the runtime: 0 continue,
    /// 1 pause, 2 (1.3) free the output buffer now.
    func receive(_ results: UnsafeMutablePointer<RKLLMResult>, state: LLMCallState) -> Int32
}

/// Holds the sink of the run in progress; its address is the userdata of every callback.
private final class RKLLMSinkBox {
    let sink: any RKLLMRunSink
    init(_ sink: any RKLLMRunSink) { self.sink = sink }
}

/// The one result callback handed to the runtime, for either ABI (its signature did not change).
private let rkllmResultCallback: LLMResultCallback = { result, userdata, state in
    guard let result, let userdata else { return 0 }
    return Unmanaged<RKLLMSinkBox>.fromOpaque(userdata).takeUnretainedValue().sink.receive(result, state: state)
}

/// One initialised runtime instance (`LLMHandle`) and the library it came from. Every ABI difference is
/// confined to this type: callers pass plain values and it builds the structs of the library's version.
///
/// `@unchecked Sendable`: `abort()` is the runtime's thread-safe way to stop a run and may be called from
/// any thread; every other method is called only from the engine thread that owns the handle.
final class RKLLMHandle: @unchecked Sendable {
    let file: RKLLMLibraryFile
    let batch: Int
    private let symbols: RKLLMSymbols
    private let handle: LLMHandle
    /// Strings rkllm_init was given (the runtime may keep the pointers), and the 1.3 callback struct.
    private let initStrings: CStringArena
    private let callbacks: UnsafeMutablePointer<RKLLM13Callback>?
    private var destroyed = false

    /// Opens the library (its symbols must all be there) and initialises one instance: loads the model.
    static func open(_ file: RKLLMLibraryFile, options: RKLLMInitOptions) throws(EngineError) -> RKLLMHandle {
        let symbols = try RKLLMSymbols.load(file.path)
        let strings = CStringArena()
        var handle: LLMHandle?
        var callbacks: UnsafeMutablePointer<RKLLM13Callback>?
        let status: Int32
        switch file.abi {
        case .v1Dot2:
            let create = unsafeBitCast(symbols.createDefaultParam, to: rkllm12_createDefaultParam_fn.self)
            var param = create()
            param.apply(options, strings)
            if let tags = options.imageTags {
                param.img_start = strings.c(tags.start)
                param.img_end = strings.c(tags.end)
                param.img_content = strings.c(tags.content)
            }
            let initialize = unsafeBitCast(symbols.initialize, to: rkllm12_init_fn.self)
            status = initialize(&handle, &param, rkllmResultCallback)
        case .v1Dot3:
            let create = unsafeBitCast(symbols.createDefaultParam, to: rkllm13_createDefaultParam_fn.self)
            var param = create()
            param.apply(options, strings)
            param.ignore_eos_token = false
            let pointer = UnsafeMutablePointer<RKLLM13Callback>.allocate(capacity: 1)
            pointer.initialize(to: RKLLM13Callback())
            pointer.pointee.result_callback = rkllmResultCallback
            callbacks = pointer
            let initialize = unsafeBitCast(symbols.initialize, to: rkllm13_init_fn.self)
            status = initialize(&handle, &param, pointer)
        }
        guard status == 0, let handle else {
            callbacks?.deallocate()
            throw EngineError(
                .modelLoadFailed,
                "rkllm_init failed (\(status)) for \(options.modelPath) with \(file.path); the runtime's own log "
                    + "(RKLLM_LOG_LEVEL=1) says why")
        }
        return RKLLMHandle(
            file: file, batch: options.batch, symbols: symbols, handle: handle, initStrings: strings, callbacks: callbacks)
    }

    private init(
        file: RKLLMLibraryFile, batch: Int, symbols: RKLLMSymbols, handle: LLMHandle, initStrings: CStringArena,
        callbacks: UnsafeMutablePointer<RKLLM13Callback>?
    ) {
        self.file = file
        self.batch = batch
        self.symbols = symbols
        self.handle = handle
        self.initStrings = initStrings
        self.callbacks = callbacks
    }

    deinit {
        destroy()
        callbacks?.deallocate()
    }

    // MARK: Runs

    /// Blocks until the run ends. `inputs` has exactly `batch` entries. Returns rkllm_run's status.
    func run(_ inputs: [RKLLMRunInput], options: RKLLMRunOptions, sink: any RKLLMRunSink) -> Int32 {
        precondition(inputs.count == batch, "a run takes one input per batch index")
        let strings = CStringArena()
        let box = RKLLMSinkBox(sink)
        let userdata = Unmanaged.passUnretained(box).toOpaque()
        var lora = RKLLMLoraParam(lora_adapter_name: options.lora.map(strings.c))
        var cache = RKLLMPromptCacheParam(
            save_prompt_cache: options.savePromptCache == nil ? 0 : 1, prompt_cache_path: options.savePromptCache.map(strings.c))
        return withExtendedLifetime(box) {
            withUnsafeMutablePointer(to: &lora) { lora in
                withUnsafeMutablePointer(to: &cache) { cache in
                    switch file.abi {
                    case .v1Dot2:
                        var infer = RKLLM12InferParam()
                        infer.mode = options.mode
                        infer.lora_params = options.lora == nil ? nil : lora
                        infer.prompt_cache_params = options.savePromptCache == nil ? nil : cache
                        infer.keep_history = options.keepHistory ? 1 : 0
                        var array = inputs.map { RKLLM12Input.prompt($0, strings) }
                        let run = unsafeBitCast(symbols.run, to: rkllm12_run_fn.self)
                        return run(handle, &array, &infer, userdata)
                    case .v1Dot3:
                        var sampling = options.sampling.map(Self.samplingParam) ?? RKLLM13SamplingParam()
                        return withUnsafeMutablePointer(to: &sampling) { sampling in
                            var infer = RKLLM13InferParam()
                            infer.mode = options.mode
                            infer.lora_params = options.lora == nil ? nil : lora
                            infer.prompt_cache_params = options.savePromptCache == nil ? nil : cache
                            infer.sampling_params = options.sampling == nil ? nil : sampling
                            infer.keep_history = options.keepHistory ? 1 : 0
                            infer.max_new_tokens = Int32(clamping: options.maxNewTokens)
                            var array = inputs.map { RKLLM13Input.prompt($0, strings) }
                            let run = unsafeBitCast(symbols.run, to: rkllm13_run_fn.self)
                            return run(handle, &array, &infer, userdata)
                        }
                    }
                }
            }
        }
    }

    /// Asks the run in progress to stop. Any thread.
    func abort() { _ = symbols.abort(handle) }

    // MARK: State

    @discardableResult
    func clearKVCache(keepSystemPrompt: Bool) -> Int32 {
        symbols.clearKVCache(handle, keepSystemPrompt ? 1 : 0, nil, nil)
    }

    /// The KV length of each batch index.
    func kvCacheSizes() -> [Int] {
        var sizes = [Int32](repeating: 0, count: batch)
        guard symbols.getKVCacheSize(handle, &sizes) == 0 else { return [] }
        return sizes.map(Int.init)
    }

    func setChatTemplate(system: String, prefix: String, postfix: String) -> Int32 {
        symbols.setChatTemplate(handle, system, prefix, postfix)
    }

    func setFunctionTools(system: String, tools: String, responseTag: String) -> Int32 {
        symbols.setFunctionTools(handle, system, tools, responseTag)
    }

    func loadPromptCache(_ path: String) -> Int32 { symbols.loadPromptCache(handle, path) }

    func releasePromptCache() { _ = symbols.releasePromptCache(handle) }

    func loadLoRA(path: String, name: String, scale: Double) -> Int32 {
        let strings = CStringArena()
        var adapter = RKLLMLoraAdapter(
            lora_adapter_path: strings.c(path), lora_adapter_name: strings.c(name), scale: Float(scale))
        return symbols.loadLora(handle, &adapter)
    }

    func destroy() {
        guard !destroyed else { return }
        destroyed = true
        _ = symbols.destroy(handle)
    }

    // MARK: Struct filling shared by both generations

    fileprivate static func fill(_ extend: inout RKLLMExtendParam, _ options: RKLLMInitOptions) {
        extend.base_domain_id = Int32(clamping: options.domain)
        extend.embed_flash = options.embedFlash ? 1 : 0
        if let cpus = options.cpus, !cpus.isEmpty {
            extend.enabled_cpus_num = Int8(clamping: cpus.count)
            extend.enabled_cpus_mask = cpus.reduce(0) { $0 | (UInt32(1) << UInt32($1)) }
        }
        extend.n_batch = UInt8(clamping: options.batch)
        extend.use_cross_attn = 0
    }

    private static func samplingParam(_ values: RKLLMSamplingValues) -> RKLLM13SamplingParam {
        RKLLM13SamplingParam(
            top_k: values.topK, top_p: values.topP, temperature: values.temperature, repeat_penalty: values.repeatPenalty,
            frequency_penalty: values.frequencyPenalty, presence_penalty: values.presencePenalty, mirostat: values.mirostat,
            mirostat_tau: values.mirostatTau, mirostat_eta: values.mirostatEta)
    }
}

/// The init fields both generations share (same names and types, at different offsets): one place fills them.
/// The requirements carry the C field names, which is what lets the imported structs conform as they are.
// swift-format-ignore: AlwaysUseLowerCamelCase
private protocol RKLLMInitParam {
    var model_path: UnsafePointer<CChar>! { get set }
    var max_context_len: Int32 { get set }
    var max_new_tokens: Int32 { get set }
    var top_k: Int32 { get set }
    var n_keep: Int32 { get set }
    var top_p: Float { get set }
    var temperature: Float { get set }
    var repeat_penalty: Float { get set }
    var frequency_penalty: Float { get set }
    var presence_penalty: Float { get set }
    var mirostat: Int32 { get set }
    var mirostat_tau: Float { get set }
    var mirostat_eta: Float { get set }
    var skip_special_token: Bool { get set }
    var is_async: Bool { get set }
    var extend_param: RKLLMExtendParam { get set }
}

extension RKLLM12Param: RKLLMInitParam {}
extension RKLLM13Param: RKLLMInitParam {}

extension RKLLMInitParam {
    mutating func apply(_ options: RKLLMInitOptions, _ strings: CStringArena) {
        model_path = strings.c(options.modelPath)
        max_context_len = Int32(clamping: options.maxContext)
        max_new_tokens = Int32(clamping: options.maxNewTokens)
        n_keep = Int32(clamping: options.keepTokens)
        top_k = options.sampling.topK
        top_p = options.sampling.topP
        temperature = options.sampling.temperature
        repeat_penalty = options.sampling.repeatPenalty
        frequency_penalty = options.sampling.frequencyPenalty
        presence_penalty = options.sampling.presencePenalty
        mirostat = options.sampling.mirostat
        mirostat_tau = options.sampling.mirostatTau
        mirostat_eta = options.sampling.mirostatEta
        skip_special_token = true
        is_async = false
        RKLLMHandle.fill(&extend_param, options)
    }
}

extension RKLLM12Input {
    static func prompt(_ input: RKLLMRunInput, _ strings: CStringArena) -> RKLLM12Input {
        var value = RKLLM12Input()
        value.role = strings.c(input.role)
        value.enable_thinking = input.thinking
        if let images = input.embeddings {
            // The tags were given at init (RKLLM12Param.img_*).
            value.input_type = RKLLM_INPUT_MULTIMODAL
            value.payload.multimodal_input = RKLLM12MultiModalInput(
                prompt: strings.mutable(input.text), image_embed: strings.floats(images.embeddings),
                n_image_tokens: images.tokens, n_image: images.count, image_width: images.imageWidth,
                image_height: images.imageHeight)
        } else {
            value.input_type = RKLLM_INPUT_PROMPT
            value.payload.prompt_input = strings.c(input.text)
        }
        return value
    }
}

extension RKLLM13Input {
    static func prompt(_ input: RKLLMRunInput, _ strings: CStringArena) -> RKLLM13Input {
        var value = RKLLM13Input()
        value.role = strings.c(input.role)
        value.enable_thinking = input.thinking
        if let images = input.embeddings {
            value.input_type = RKLLM_INPUT_MULTIMODAL
            value.payload.multimodal_input.prompt = strings.mutable(input.text)
            value.payload.multimodal_input.image = RKLLM13ImageInput(
                image_embed: strings.floats(images.embeddings), n_image_tokens: images.tokens, n_image: images.count,
                image_start: strings.c(images.tags.start), image_end: strings.c(images.tags.end),
                image_content: strings.c(images.tags.content), image_width: images.imageWidth,
                image_height: images.imageHeight)
        } else {
            value.input_type = RKLLM_INPUT_PROMPT
            value.payload.prompt_input = strings.c(input.text)
        }
        return value
    }
}

/// C strings (and float arrays) that live as long as the arena: for struct fields that point at them. The
/// runtime's documentation does not say whether it copies what it is given, so it all outlives the run.
final class CStringArena {
    private var pointers: [UnsafeMutablePointer<CChar>] = []
    private var arrays: [UnsafeMutableBufferPointer<Float>] = []

    func c(_ text: String) -> UnsafePointer<CChar> {
        UnsafePointer(mutable(text))
    }

    func mutable(_ text: String) -> UnsafeMutablePointer<CChar> {
        let pointer = strdup(text)!
        pointers.append(pointer)
        return pointer
    }

    func floats(_ values: [Float]) -> UnsafeMutablePointer<Float> {
        let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: max(values.count, 1))
        _ = buffer.initialize(from: values)
        arrays.append(buffer)
        return buffer.baseAddress!
    }

    deinit {
        for pointer in pointers { free(pointer) }
        for array in arrays { array.deallocate() }
    }
}

/// The library's entry points. The three whose signature depends on the ABI stay raw and are cast at the
/// call; the rest have one type in both generations.
///
/// `@unchecked Sendable`: immutable C function pointers and addresses, resolved once.
private struct RKLLMSymbols: @unchecked Sendable {
    let createDefaultParam: UnsafeMutableRawPointer
    let initialize: UnsafeMutableRawPointer
    let run: UnsafeMutableRawPointer
    let abort: rkllm_abort_fn
    let destroy: rkllm_destroy_fn
    let clearKVCache: rkllm_clear_kv_cache_fn
    let getKVCacheSize: rkllm_get_kv_cache_size_fn
    let setChatTemplate: rkllm_set_chat_template_fn
    let setFunctionTools: rkllm_set_function_tools_fn
    let loadPromptCache: rkllm_load_prompt_cache_fn
    let releasePromptCache: rkllm_release_prompt_cache_fn
    let loadLora: rkllm_load_lora_fn

    static func load(_ path: String) throws(EngineError) -> RKLLMSymbols {
        // Never closed: vendor runtimes start threads that outlive their last handle.
        var table = try DynamicSymbolTable(opening: path, what: "the rkllm runtime")
        let symbols = RKLLMSymbols(
            createDefaultParam: table.resolve(RKLLM_SYM_CREATE_DEFAULT_PARAM),
            initialize: table.resolve(RKLLM_SYM_INIT),
            run: table.resolve(RKLLM_SYM_RUN),
            abort: table.resolve(RKLLM_SYM_ABORT),
            destroy: table.resolve(RKLLM_SYM_DESTROY),
            clearKVCache: table.resolve(RKLLM_SYM_CLEAR_KV_CACHE),
            getKVCacheSize: table.resolve(RKLLM_SYM_GET_KV_CACHE_SIZE),
            setChatTemplate: table.resolve(RKLLM_SYM_SET_CHAT_TEMPLATE),
            setFunctionTools: table.resolve(RKLLM_SYM_SET_FUNCTION_TOOLS),
            loadPromptCache: table.resolve(RKLLM_SYM_LOAD_PROMPT_CACHE),
            releasePromptCache: table.resolve(RKLLM_SYM_RELEASE_PROMPT_CACHE),
            loadLora: table.resolve(RKLLM_SYM_LOAD_LORA))
        guard table.missing.isEmpty else {
            throw EngineError(
                .symbolMissing,
                "\(path) lacks \(table.missing.joined(separator: ", ")); it is not a librkllmrt.so of runtime 1.2.1 or newer")
        }
        return symbols
    }
}
