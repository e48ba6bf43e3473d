import CLlama

/// A request's llama.cpp sampler chain. Order follows llama.cpp's common default: grammar (for a JSON
/// response format), penalties, the truncations (top-k, top-p, min-p), temperature, then the pick (dist with
/// the seed). Temperature 0 is greedy. Samplers that would do nothing are left out: each one costs a pass
/// over the candidates.
struct SamplerChain {
    let chain: UnsafeMutablePointer<llama_sampler>
    /// The penalties sampler inside `chain`, if any: it is primed with the prompt's last tokens, which must
    /// not reach the grammar.
    let penalties: UnsafeMutablePointer<llama_sampler>?

    init(
        _ s: Sampling, grammar: String?, library: LlamaLibrary, vocab: OpaquePointer, vocabSize: Int32
    ) throws(EngineError) {
        let chain = library.samplerChainInit(library.samplerChainDefaultParams())!
        func add(_ sampler: UnsafeMutablePointer<llama_sampler>?) {
            if let sampler { library.samplerChainAdd(chain, sampler) }
        }
        if let grammar {
            guard let sampler = library.samplerGrammar(vocab, grammar, "root") else {
                library.samplerFree(chain)
                throw EngineError(.invalidRequest, "llama.cpp rejected the grammar")
            }
            add(sampler)
        }
        var penalties: UnsafeMutablePointer<llama_sampler>?
        if Self.usesPenalties(s) {
            penalties = library.samplerPenalties(
                vocabSize, Int32(s.repeatLastN ?? 64), Float(s.repeatPenalty ?? 1), Float(s.frequencyPenalty ?? 0),
                Float(s.presencePenalty ?? 0))
            add(penalties)
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
        self.chain = chain
        self.penalties = penalties
    }

    static func usesPenalties(_ s: Sampling) -> Bool {
        (s.repeatPenalty ?? 1) != 1 || (s.frequencyPenalty ?? 0) != 0 || (s.presencePenalty ?? 0) != 0
    }
}

/// GBNF for one JSON object (the `jsonObject` response format, and a `jsonSchema` without a schema).
/// Whitespace is at most one space or one indented line break, so a small model cannot wander off into
/// blank runs (`JSONSchemaGrammar` uses the same).
enum JSONGrammar {
    static let object = #"""
        root   ::= object
        value  ::= object | array | string | number | ("true" | "false" | "null") ws
        object ::= "{" ws ( string ":" ws value ( "," ws string ":" ws value )* )? "}" ws
        array  ::= "[" ws ( value ( "," ws value )* )? "]" ws
        string ::= "\"" ( [^"\\\x7F\x00-\x1F] | "\\" ( ["\\/bfnrt] | "u" [0-9a-fA-F]{4} ) )* "\"" ws
        number ::= "-"? ( "0" | [1-9] [0-9]{0,15} ) ( "." [0-9]+ )? ( [eE] [-+]? [0-9]{1,4} )? ws
        ws     ::= ( " " | "\n" [ ]{0,8} )?
        """#
}
