import CRKLLM
import Foundation

/// Collects the last hidden layer of a `RKLLM_INFER_GET_LAST_HIDDEN_LAYER` run. The buffer is only valid
/// inside the callback, so it is pooled there.
final class RKLLMHiddenStateSink: RKLLMRunSink {
    private(set) var vector: [Float]?
    private(set) var tokens = 0
    private(set) var runtimeError = false
    /// 1.3 lets the callback free a large output buffer at once by returning 2.
    let releaseCode: Int32

    init(abi: RKLLMRuntimeABI) { releaseCode = abi == .v1Dot3 ? 2 : 0 }

    func receive(_ results: UnsafeMutablePointer<RKLLMResult>, state: LLMCallState) -> Int32 {
        if state == RKLLM_RUN_ERROR { runtimeError = true }
        let layer = results[0].last_hidden_layer
        guard vector == nil, let states = layer.hidden_states, layer.embd_size > 0, layer.num_tokens > 0 else { return 0 }
        let width = Int(layer.embd_size)
        let count = Int(layer.num_tokens)
        // Mean over the tokens, then L2-normalised: the same pooling the llama.cpp engine reports.
        var sum = [Float](repeating: 0, count: width)
        for token in 0..<count {
            let row = states + token * width
            for column in 0..<width { sum[column] += row[column] }
        }
        let norm = sum.reduce(0) { $0 + $1 * $1 }.squareRoot()
        vector = norm > 0 ? sum.map { $0 / norm } : sum
        tokens = count
        return releaseCode
    }
}

extension RKLLMRuntime {
    /// One hidden-state run per input. The runtime applies its chat template to the text, as for any
    /// prompt input; the cache is not kept, so the conversation is forgotten.
    func embed(_ inputs: [String]) throws(EngineError) -> Embeddings {
        releasePreset()
        forgetConversation()
        var vectors: [[Float]] = []
        var tokens = 0
        for text in inputs {
            let sink = RKLLMHiddenStateSink(abi: handle.file.abi)
            let input = RKLLMRunInput(role: "user", thinking: false, text: text)
            let status = handle.run(
                Array(repeating: input, count: handle.batch),
                options: RKLLMRunOptions(mode: RKLLM_INFER_GET_LAST_HIDDEN_LAYER, keepHistory: false), sink: sink)
            guard status == 0, !sink.runtimeError, let vector = sink.vector else {
                throw EngineError(.decodeFailed, "the rkllm runtime returned no hidden states (rkllm_run returned \(status))")
            }
            vectors.append(vector)
            tokens += sink.tokens
        }
        shared.end(kvSizes: handle.kvCacheSizes())
        return Embeddings(vectors: vectors, promptTokens: tokens)
    }
}
