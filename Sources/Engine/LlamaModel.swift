import CLlama
import Foundation
import Logging

/// The loaded model and its generation context, with the small C conveniences (tokens, pieces, chat
/// template) the runtime needs. Lives on the engine thread only.
final class LlamaModel {
    let library: LlamaLibrary
    let model: OpaquePointer
    let context: OpaquePointer
    let vocab: OpaquePointer
    let memory: OpaquePointer
    /// Tokens one sequence may hold (what llama.cpp actually allocated per slot).
    let contextPerSlot: Int
    let batchCapacity: Int
    let vocabSize: Int32
    let threads: Int
    let template: PromptTemplate

    private var pieceBuffer: UnsafeMutablePointer<CChar>
    private var pieceCapacity: Int32 = 256

    init(configuration: LlamaEngine.Configuration, library: LlamaLibrary, logger: Logger) throws(EngineError) {
        self.library = library
        var modelParams = library.modelDefaultParams()
        modelParams.n_gpu_layers = Int32(clamping: configuration.gpuLayers)
        guard let model = library.modelLoadFromFile(configuration.modelPath, modelParams) else {
            throw EngineError(.modelLoadFailed, "llama.cpp could not load the model \(configuration.modelPath)")
        }
        self.threads = configuration.threads ?? ProcessInfo.processInfo.activeProcessorCount
        let threads = Int32(self.threads)
        var params = library.contextDefaultParams()
        params.n_seq_max = UInt32(configuration.parallel)
        // Per-slot context (see Configuration.context): separate KV streams of `context` cells each.
        params.kv_unified = false
        params.n_ctx = UInt32(configuration.context * configuration.parallel)
        params.n_batch = UInt32(configuration.batchSize)
        params.n_ubatch = UInt32(configuration.batchSize)
        params.n_threads = threads
        params.n_threads_batch = threads
        params.no_perf = true
        guard let context = library.initFromModel(model, params) else {
            library.modelFree(model)
            throw EngineError(
                .contextFailed,
                "llama.cpp could not create a context of \(configuration.parallel) × \(configuration.context) tokens")
        }
        self.model = model
        self.context = context
        guard let vocab = library.modelGetVocab(model), let memory = library.getMemory(context) else {
            library.free(context)
            library.modelFree(model)
            throw EngineError(.modelLoadFailed, "the model \(configuration.modelPath) has no vocabulary or KV cache")
        }
        self.vocab = vocab
        self.memory = memory
        contextPerSlot = Int(library.contextSizePerSequence(context))
        batchCapacity = Int(library.batchSize(context))
        vocabSize = library.vocabTokenCount(vocab)
        pieceBuffer = .allocate(capacity: Int(pieceCapacity))
        template = PromptTemplate.resolve(
            library: library, ggufTemplate: library.modelChatTemplate(model, nil).map { String(cString: $0) },
            fallback: configuration.chatTemplate, logger: logger)
    }

    deinit {
        pieceBuffer.deallocate()
        library.free(context)
        library.modelFree(model)
    }

    /// Tokens of `text`; special-token text (`<|im_start|>`) becomes the special token, and BOS is added
    /// when the model wants one.
    func tokenize(_ text: String, addSpecial: Bool = true) -> [Int32] {
        var utf8 = Array(text.utf8)
        let length = Int32(utf8.count)
        var tokens = [Int32](repeating: 0, count: utf8.count + 8)
        var count = utf8.withUnsafeMutableBufferPointer { bytes in
            bytes.withMemoryRebound(to: CChar.self) { chars in
                library.tokenize(vocab, chars.baseAddress, length, &tokens, Int32(tokens.count), addSpecial, true)
            }
        }
        if count < 0 {
            tokens = [Int32](repeating: 0, count: Int(-count))
            count = utf8.withUnsafeMutableBufferPointer { bytes in
                bytes.withMemoryRebound(to: CChar.self) { chars in
                    library.tokenize(vocab, chars.baseAddress, length, &tokens, Int32(tokens.count), addSpecial, true)
                }
            }
        }
        tokens.removeSubrange(Int(max(count, 0))...)
        return tokens
    }

    /// The bytes of one token's text, valid until the next call. Control tokens render as nothing.
    func piece(_ token: Int32) -> UnsafeBufferPointer<UInt8> {
        var length = library.tokenToPiece(vocab, token, pieceBuffer, pieceCapacity, 0, false)
        if length < 0 {
            pieceBuffer.deallocate()
            pieceCapacity = -length
            pieceBuffer = .allocate(capacity: Int(pieceCapacity))
            length = library.tokenToPiece(vocab, token, pieceBuffer, pieceCapacity, 0, false)
        }
        return UnsafeRawPointer(pieceBuffer).withMemoryRebound(to: UInt8.self, capacity: Int(max(length, 0))) {
            UnsafeBufferPointer(start: $0, count: Int(max(length, 0)))
        }
    }

    func isEndOfGeneration(_ token: Int32) -> Bool {
        library.vocabIsEndOfGeneration(vocab, token)
    }

    /// Drops `sequence`'s KV cells from `position` on (all of them for 0).
    func removeSequence(_ sequence: Int32, from position: Int = 0) {
        _ = library.memorySequenceRemove(memory, sequence, Int32(position), -1)
    }
}
