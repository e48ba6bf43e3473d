internal import Engine

// Log-probabilities in OpenAI's two spellings: chat's list of token objects and the legacy completions'
// parallel arrays.

/// `choices[].logprobs` of a chat answer or chunk: `{"content": [{token, logprob, bytes, top_logprobs}], "refusal": null}`.
struct OpenAIChatLogprobs: Encodable, Sendable, Equatable {
    var entries: [TokenLogprob]

    private enum CodingKeys: String, CodingKey { case content, refusal }
    private enum EntryKeys: String, CodingKey {
        case token, logprob, bytes
        case topLogprobs = "top_logprobs"
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        var content = c.nestedUnkeyedContainer(forKey: .content)
        for entry in entries {
            var object = content.nestedContainer(keyedBy: EntryKeys.self)
            try Self.encode(entry.sampled, into: &object)
            var top = object.nestedUnkeyedContainer(forKey: .topLogprobs)
            for candidate in entry.top {
                var alternative = top.nestedContainer(keyedBy: EntryKeys.self)
                try Self.encode(candidate, into: &alternative)
            }
        }
        try c.encodeNil(forKey: .refusal)
    }

    private static func encode(_ candidate: TokenLogprob.Candidate, into c: inout KeyedEncodingContainer<EntryKeys>) throws {
        try c.encode(candidate.token, forKey: .token)
        try c.encode(candidate.logprob, forKey: .logprob)
        try c.encode(candidate.bytes.map(Int.init), forKey: .bytes)
    }
}

/// `choices[].logprobs` of a text completion: `tokens`, `token_logprobs`, `top_logprobs` (one token→logprob map
/// per position) and `text_offset` (where each token starts in the answer text, in characters).
struct OpenAICompletionLogprobs: Encodable, Sendable, Equatable {
    var entries: [TokenLogprob]
    /// Characters of the answer before the first entry (a streamed chunk continues where the last ended).
    var offset: Int

    private enum CodingKeys: String, CodingKey {
        case tokens
        case tokenLogprobs = "token_logprobs"
        case topLogprobs = "top_logprobs"
        case textOffset = "text_offset"
    }

    /// Characters `entries` add to the answer.
    var length: Int { entries.reduce(0) { $0 + $1.sampled.token.count } }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(entries.map(\.sampled.token), forKey: .tokens)
        try c.encode(entries.map(\.sampled.logprob), forKey: .tokenLogprobs)
        // A map keeps one entry per distinct text: two tokens that print alike keep the likelier.
        try c.encode(
            entries.map { entry in
                Dictionary(entry.top.map { ($0.token, $0.logprob) }, uniquingKeysWith: { first, _ in first })
            }, forKey: .topLogprobs)
        var offsets: [Int] = []
        var at = offset
        for entry in entries {
            offsets.append(at)
            at += entry.sampled.token.count
        }
        try c.encode(offsets, forKey: .textOffset)
    }
}
