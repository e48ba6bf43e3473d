import CLlama
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// libllama opened with dlopen and every function the engine calls resolved once, as typed C function
/// pointers (types from `CLlama/shim.h`, so they follow the header the package was built against).
///
/// `@unchecked Sendable`: after `load` returns, every stored property is an immutable C function pointer or
/// the dlopen handle, which never change and are safe to read from any thread. The functions themselves are
/// only called on the engine thread.
struct LlamaLibrary: @unchecked Sendable {
    let path: String
    let version: String

    let backendInit: llama_backend_init_fn
    let versionString: llama_version_fn
    let logSet: llama_log_set_fn

    let modelDefaultParams: llama_model_default_params_fn
    let contextDefaultParams: llama_context_default_params_fn
    let modelLoadFromFile: llama_model_load_from_file_fn
    let modelFree: llama_model_free_fn
    let initFromModel: llama_init_from_model_fn
    let free: llama_free_fn
    let modelGetVocab: llama_model_get_vocab_fn
    let modelChatTemplate: llama_model_chat_template_fn
    let modelEmbeddingSize: llama_model_n_embd_out_fn
    /// Width of the vectors the model takes as input (what an image projector must produce).
    let modelInputEmbeddingSize: llama_model_n_embd_inp_fn
    let contextSizePerSequence: llama_n_ctx_seq_fn
    let batchSize: llama_n_batch_fn
    let getMemory: llama_get_memory_fn
    let poolingType: llama_pooling_type_fn

    let memoryClear: llama_memory_clear_fn
    let memorySequenceRemove: llama_memory_seq_rm_fn

    let stateSequenceSaveFile: llama_state_seq_save_file_fn
    let stateSequenceLoadFile: llama_state_seq_load_file_fn

    let batchInit: llama_batch_init_fn
    let batchFree: llama_batch_free_fn
    let decode: llama_decode_fn
    let embeddingsForSequence: llama_get_embeddings_seq_fn

    let vocabTokenCount: llama_vocab_n_tokens_fn
    let vocabIsEndOfGeneration: llama_vocab_is_eog_fn
    let tokenize: llama_tokenize_fn
    let tokenToPiece: llama_token_to_piece_fn
    let chatApplyTemplate: llama_chat_apply_template_fn

    let samplerChainDefaultParams: llama_sampler_chain_default_params_fn
    let samplerChainInit: llama_sampler_chain_init_fn
    let samplerChainAdd: llama_sampler_chain_add_fn
    let samplerFree: llama_sampler_free_fn
    let samplerAccept: llama_sampler_accept_fn
    let samplerSample: llama_sampler_sample_fn
    let samplerApply: llama_sampler_apply_fn
    let logitsAt: llama_get_logits_ith_fn
    let samplerGreedy: llama_sampler_init_greedy_fn
    let samplerDistribution: llama_sampler_init_dist_fn
    let samplerTopK: llama_sampler_init_top_k_fn
    let samplerTopP: llama_sampler_init_top_p_fn
    let samplerMinP: llama_sampler_init_min_p_fn
    let samplerTemperature: llama_sampler_init_temp_fn
    let samplerPenalties: llama_sampler_init_penalties_fn
    let samplerMirostat: llama_sampler_init_mirostat_fn
    let samplerMirostatV2: llama_sampler_init_mirostat_v2_fn
    let samplerGrammar: llama_sampler_init_grammar_fn

    /// Opens the library at `path` and resolves every symbol. Throws `libraryNotFound` with dlerror's
    /// text, or `symbolMissing` naming every symbol the library lacks (a llama.cpp too old or too new).
    static func load(path: String) throws(EngineError) -> LlamaLibrary {
        var symbols = try DynamicSymbolTable(opening: path, what: "llama.cpp library")
        let library = LlamaLibrary(path: path, symbols: &symbols)
        guard symbols.missing.isEmpty else {
            // No dlclose: ggml's libraries install a process-wide terminate handler when loaded and assert
            // if they are ever loaded a second time, so a library once opened stays open.
            throw EngineError(
                .symbolMissing,
                "\(path) lacks \(symbols.missing.joined(separator: ", ")); it does not match the llama.h this "
                    + "build was compiled against")
        }
        initializeBackendOnce(library)
        return library
    }

    private static let backendInitialized = Mutex(false)

    /// `llama_backend_init` must run once per process, however many engines are created.
    private static func initializeBackendOnce(_ library: LlamaLibrary) {
        backendInitialized.withLock { done in
            guard !done else { return }
            library.backendInit()
            done = true
        }
    }

    private init(path: String, symbols s: inout DynamicSymbolTable) {
        self.path = path
        backendInit = s.resolve("llama_backend_init")
        versionString = s.resolve("llama_version")
        logSet = s.resolve("llama_log_set")
        modelDefaultParams = s.resolve("llama_model_default_params")
        contextDefaultParams = s.resolve("llama_context_default_params")
        modelLoadFromFile = s.resolve("llama_model_load_from_file")
        modelFree = s.resolve("llama_model_free")
        initFromModel = s.resolve("llama_init_from_model")
        free = s.resolve("llama_free")
        modelGetVocab = s.resolve("llama_model_get_vocab")
        modelChatTemplate = s.resolve("llama_model_chat_template")
        modelEmbeddingSize = s.resolve("llama_model_n_embd_out")
        modelInputEmbeddingSize = s.resolve("llama_model_n_embd_inp")
        contextSizePerSequence = s.resolve("llama_n_ctx_seq")
        batchSize = s.resolve("llama_n_batch")
        getMemory = s.resolve("llama_get_memory")
        poolingType = s.resolve("llama_pooling_type")
        memoryClear = s.resolve("llama_memory_clear")
        memorySequenceRemove = s.resolve("llama_memory_seq_rm")
        stateSequenceSaveFile = s.resolve("llama_state_seq_save_file")
        stateSequenceLoadFile = s.resolve("llama_state_seq_load_file")
        batchInit = s.resolve("llama_batch_init")
        batchFree = s.resolve("llama_batch_free")
        decode = s.resolve("llama_decode")
        embeddingsForSequence = s.resolve("llama_get_embeddings_seq")
        vocabTokenCount = s.resolve("llama_vocab_n_tokens")
        vocabIsEndOfGeneration = s.resolve("llama_vocab_is_eog")
        tokenize = s.resolve("llama_tokenize")
        tokenToPiece = s.resolve("llama_token_to_piece")
        chatApplyTemplate = s.resolve("llama_chat_apply_template")
        samplerChainDefaultParams = s.resolve("llama_sampler_chain_default_params")
        samplerChainInit = s.resolve("llama_sampler_chain_init")
        samplerChainAdd = s.resolve("llama_sampler_chain_add")
        samplerFree = s.resolve("llama_sampler_free")
        samplerAccept = s.resolve("llama_sampler_accept")
        samplerSample = s.resolve("llama_sampler_sample")
        samplerApply = s.resolve("llama_sampler_apply")
        logitsAt = s.resolve("llama_get_logits_ith")
        samplerGreedy = s.resolve("llama_sampler_init_greedy")
        samplerDistribution = s.resolve("llama_sampler_init_dist")
        samplerTopK = s.resolve("llama_sampler_init_top_k")
        samplerTopP = s.resolve("llama_sampler_init_top_p")
        samplerMinP = s.resolve("llama_sampler_init_min_p")
        samplerTemperature = s.resolve("llama_sampler_init_temp")
        samplerPenalties = s.resolve("llama_sampler_init_penalties")
        samplerMirostat = s.resolve("llama_sampler_init_mirostat")
        samplerMirostatV2 = s.resolve("llama_sampler_init_mirostat_v2")
        samplerGrammar = s.resolve("llama_sampler_init_grammar")
        version = s.missing.isEmpty ? versionString().map { String(cString: $0) } ?? "unknown" : "unknown"
    }
}
