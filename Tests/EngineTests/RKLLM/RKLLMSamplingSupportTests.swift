import Testing

@testable import Engine

/// Sampling the rkllm runtime cannot apply is refused, never dropped.
struct RKLLMSamplingSupportTests {
    let loaded = Sampling(temperature: 0.6, topK: 20)

    @Test func fieldsTheRuntimeLacksAreRefusedOnBothABIs() throws {
        for abi in [RKLLMRuntimeABI.v1Dot2, .v1Dot3] {
            let seed = try #require(RKLLMSamplingSupport.refusal(Sampling(seed: 7), loaded: loaded, abi: abi))
            #expect(seed.contains("seed"))
            let both = try #require(
                RKLLMSamplingSupport.refusal(Sampling(minP: 0.1, repeatLastN: 32), loaded: loaded, abi: abi))
            #expect(both.contains("min_p") && both.contains("repeat_last_n"))
        }
    }

    @Test func runtime12TakesOnlyTheModelsOwnValues() {
        #expect(RKLLMSamplingSupport.refusal(Sampling(), loaded: loaded, abi: .v1Dot2) == nil)
        // What a client sends that equals what runs (the manifest's, or the runtime's default) is fine.
        #expect(RKLLMSamplingSupport.refusal(Sampling(temperature: 0.6, topP: 0.9), loaded: loaded, abi: .v1Dot2) == nil)
        let changed = RKLLMSamplingSupport.refusal(Sampling(temperature: 0.1), loaded: loaded, abi: .v1Dot2)
        #expect(changed?.contains("1.2") == true)
        #expect(RKLLMSamplingSupport.refusal(Sampling(temperature: 0.1), loaded: loaded, abi: .v1Dot3) == nil)
    }
}
