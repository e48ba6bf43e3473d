import CLlama

/// A request's llama.cpp sampler chain. Order follows llama.cpp's common default: penalties, then the
/// truncations (top-k, top-p, min-p), then temperature, then the pick (dist with the seed). Temperature 0 is
/// greedy. Samplers that would do nothing are left out: each one costs a pass over the candidates.
enum SamplerChain {
    static func make(_ s: Sampling, library: LlamaLibrary, vocabSize: Int32) -> UnsafeMutablePointer<llama_sampler> {
        let chain = library.samplerChainInit(library.samplerChainDefaultParams())!
        func add(_ sampler: UnsafeMutablePointer<llama_sampler>?) {
            if let sampler { library.samplerChainAdd(chain, sampler) }
        }
        if usesPenalties(s) {
            add(
                library.samplerPenalties(
                    vocabSize, Int32(s.repeatLastN ?? 64), Float(s.repeatPenalty ?? 1),
                    Float(s.frequencyPenalty ?? 0), Float(s.presencePenalty ?? 0)))
        }
        let temperature = s.temperature ?? 0.8
        let seed = s.seed ?? UInt32(LLAMA_DEFAULT_SEED)
        if temperature <= 0 {
            add(library.samplerGreedy())
        } else if let mirostat = s.mirostat, mirostat.version == 1 || mirostat.version == 2 {
            add(library.samplerTemperature(Float(temperature)))
            if mirostat.version == 1 {
                add(library.samplerMirostat(vocabSize, seed, Float(mirostat.tau), Float(mirostat.eta), 100))
            } else {
                add(library.samplerMirostatV2(seed, Float(mirostat.tau), Float(mirostat.eta)))
            }
        } else {
            if let k = s.topK, k > 0 { add(library.samplerTopK(Int32(k))) }
            if let p = s.topP, p < 1 { add(library.samplerTopP(Float(p), 1)) }
            if let p = s.minP, p > 0 { add(library.samplerMinP(Float(p), 1)) }
            add(library.samplerTemperature(Float(temperature)))
            add(library.samplerDistribution(seed))
        }
        return chain
    }

    static func usesPenalties(_ s: Sampling) -> Bool {
        (s.repeatPenalty ?? 1) != 1 || (s.frequencyPenalty ?? 0) != 0 || (s.presencePenalty ?? 0) != 0
    }
}
