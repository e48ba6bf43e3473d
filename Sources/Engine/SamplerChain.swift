import CLlama

/// A request's llama.cpp samplers. The chain follows llama.cpp's common default: penalties, the truncations
/// (top-k, top-p, min-p), temperature, then the pick (dist with the seed); temperature 0 is greedy. Samplers
/// that would do nothing are left out: each one costs a pass over the candidates.
///
/// A grammar (a JSON response format) stays outside the chain and is asked only about the token the chain
/// picked, as llama.cpp's own common sampler does: running it over the whole vocabulary for every token would
/// halve the decode rate. Only when it refuses that token is it applied to every candidate and the chain run
/// again, so the answer is always one the grammar accepts.
final class SamplerChain {
    let chain: UnsafeMutablePointer<llama_sampler>
    /// The penalties sampler inside `chain`, if any: it is primed with the prompt's last tokens.
    let penalties: UnsafeMutablePointer<llama_sampler>?
    private let grammar: UnsafeMutablePointer<llama_sampler>?
    /// The chain only takes the highest logit (temperature 0, no penalties): a refused token can then be
    /// replaced by the best the grammar accepts among the top few, without a pass over every token.
    private let plainGreedy: Bool
    private let library: LlamaLibrary
    /// Every token with its logit, rebuilt for each sample when there is a grammar.
    private let candidates: UnsafeMutableBufferPointer<llama_token_data>

    init(_ s: Sampling, grammar text: String?, library: LlamaLibrary, vocab: OpaquePointer, vocabSize: Int32)
        throws(EngineError)
    {
        self.library = library
        let chain = library.samplerChainInit(library.samplerChainDefaultParams())!
        func add(_ sampler: UnsafeMutablePointer<llama_sampler>?) {
            if let sampler { library.samplerChainAdd(chain, sampler) }
        }
        if let text {
            guard let grammar = library.samplerGrammar(vocab, text, "root") else {
                library.samplerFree(chain)
                throw EngineError(.invalidRequest, "llama.cpp rejected the grammar")
            }
            self.grammar = grammar
            candidates = .allocate(capacity: Int(vocabSize))
        } else {
            grammar = nil
            candidates = .allocate(capacity: 0)
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
        plainGreedy = temperature <= 0 && penalties == nil
    }

    deinit {
        library.samplerFree(chain)
        if let grammar { library.samplerFree(grammar) }
        candidates.deallocate()
    }

    /// The next token from output row `index` of the last decode, accepted by every sampler.
    func sample(_ context: OpaquePointer, at index: Int32) -> Int32 {
        guard let grammar, let logits = library.logitsAt(context, index) else {
            return library.samplerSample(chain, context, index)
        }
        var token = pick(logits, through: nil)
        var single = llama_token_data(id: token, logit: 1, p: 0)
        let accepted = withUnsafeMutablePointer(to: &single) { pointer in
            var one = llama_token_data_array(data: pointer, size: 1, selected: -1, sorted: false)
            library.samplerApply(grammar, &one)
            return one.data[0].logit.isFinite
        }
        if !accepted { token = bestAmongTop(logits, grammar) ?? pick(logits, through: grammar) }
        library.samplerAccept(grammar, token)
        library.samplerAccept(chain, token)
        return token
    }

    /// For a plain greedy chain: the highest-logit token the grammar accepts among the 32 highest, which is
    /// exactly what applying the grammar to every token and then the chain would pick; nil when the grammar
    /// accepts none of them.
    private func bestAmongTop(_ logits: UnsafeMutablePointer<Float>, _ grammar: UnsafeMutablePointer<llama_sampler>)
        -> Int32?
    {
        guard plainGreedy, candidates.count > 0 else { return nil }
        var top = Logits.highest(logits, count: candidates.count, limit: 32).map { id in
            llama_token_data(id: id, logit: logits[Int(id)], p: 0)
        }
        return top.withUnsafeMutableBufferPointer { buffer -> Int32? in
            var array = llama_token_data_array(data: buffer.baseAddress, size: buffer.count, selected: -1, sorted: false)
            library.samplerApply(grammar, &array)
            let kept = UnsafeBufferPointer(start: array.data, count: array.size).filter { $0.logit.isFinite }
            return kept.max { $0.logit < $1.logit }?.id
        }
    }

    /// Runs the chain (after `first`, if given) over every token's logit and returns its pick.
    private func pick(_ logits: UnsafeMutablePointer<Float>, through first: UnsafeMutablePointer<llama_sampler>?)
        -> Int32
    {
        for id in candidates.indices {
            candidates[id] = llama_token_data(id: Int32(id), logit: logits[id], p: 0)
        }
        var array = llama_token_data_array(data: candidates.baseAddress, size: candidates.count, selected: -1, sorted: false)
        if let first { library.samplerApply(first, &array) }
        library.samplerApply(chain, &array)
        return array.data[Int(max(array.selected, 0))].id
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
