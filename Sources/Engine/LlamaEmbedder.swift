import CLlama

/// A second context on the same model weights, with embeddings on and pooling, for `/embed`. Kept apart
/// from the generation context so embedding never disturbs the slots' KV caches.
final class LlamaEmbedder {
    private let library: LlamaLibrary
    private let context: OpaquePointer
    private var batch: llama_batch
    private let dimensions: Int
    let maxTokens: Int

    init(model: LlamaModel, maxTokens: Int, threads: Int32) throws(EngineError) {
        let library = model.library
        self.library = library
        func makeContext(_ pooling: llama_pooling_type) -> OpaquePointer? {
            var params = library.contextDefaultParams()
            params.n_ctx = UInt32(maxTokens)
            // Pooling needs a whole input in one micro-batch.
            params.n_batch = UInt32(maxTokens)
            params.n_ubatch = UInt32(maxTokens)
            params.n_seq_max = 1
            params.n_threads = threads
            params.n_threads_batch = threads
            params.embeddings = true
            params.pooling_type = pooling
            params.no_perf = true
            return library.initFromModel(model.model, params)
        }
        guard var context = makeContext(LLAMA_POOLING_TYPE_UNSPECIFIED) else {
            throw EngineError(.contextFailed, "llama.cpp could not create an embedding context")
        }
        if library.poolingType(context) == LLAMA_POOLING_TYPE_NONE {
            // A generative model declares no pooling; the mean of its token states is the usual choice.
            library.free(context)
            guard let mean = makeContext(LLAMA_POOLING_TYPE_MEAN) else {
                throw EngineError(.contextFailed, "llama.cpp could not create an embedding context")
            }
            context = mean
        }
        self.context = context
        self.maxTokens = maxTokens
        dimensions = Int(library.modelEmbeddingSize(model.model))
        batch = library.batchInit(Int32(maxTokens), 0, 1)
    }

    deinit {
        library.batchFree(batch)
        library.free(context)
    }

    /// The pooled, L2-normalised embedding of `tokens`.
    func embed(_ tokens: [Int32]) throws(EngineError) -> [Float] {
        guard !tokens.isEmpty else { throw EngineError(.invalidRequest, "cannot embed an empty input") }
        guard tokens.count <= maxTokens else {
            throw EngineError(.promptTooLong, "the input is \(tokens.count) tokens; embeddings take at most \(maxTokens)")
        }
        library.memoryClear(library.getMemory(context), true)
        batch.n_tokens = Int32(tokens.count)
        for (i, token) in tokens.enumerated() {
            batch.token[i] = token
            batch.pos[i] = Int32(i)
            batch.n_seq_id[i] = 1
            batch.seq_id[i]![0] = 0
            batch.logits[i] = 1
        }
        let status = library.decode(context, batch)
        guard status == 0, let pooled = library.embeddingsForSequence(context, 0) else {
            throw EngineError(.decodeFailed, "llama.cpp could not compute the embedding (status \(status))")
        }
        var vector = Array(UnsafeBufferPointer(start: pooled, count: dimensions))
        let norm = vector.reduce(Float(0)) { $0 + $1 * $1 }.squareRoot()
        if norm > 0 {
            for i in vector.indices { vector[i] /= norm }
        }
        return vector
    }
}
