import Foundation

/// One generated token with its log-probability under the model's distribution (the softmax of its logits,
/// before penalties, temperature or truncation), and the most likely tokens at that position.
public struct TokenLogprob: Sendable, Codable, Equatable {
    public struct Candidate: Sendable, Codable, Equatable {
        /// The token's text; a token that is part of a multi-byte character has the replacement character here
        /// and its own bytes in `bytes`.
        public var token: String
        public var bytes: [UInt8]
        public var logprob: Double

        public init(token: String, bytes: [UInt8], logprob: Double) {
            self.token = token
            self.bytes = bytes
            self.logprob = logprob
        }
    }

    /// The largest number of alternatives a request may ask for (OpenAI's and Ollama's limit).
    public static let maxAlternatives = 20

    /// The sampled token.
    public var sampled: Candidate
    /// The most likely tokens, most likely first (as many as the request asked for).
    public var top: [Candidate]

    public init(sampled: Candidate, top: [Candidate] = []) {
        self.sampled = sampled
        self.top = top
    }
}

/// What is read off one row of logits: log-probabilities, and the highest entries.
enum Logits {
    /// `token`'s log-probability with the `top` most likely tokens, from `logits` over a vocabulary of `count`.
    static func logprob(
        _ logits: UnsafePointer<Float>, count: Int, token: Int32, top: Int, piece: (Int32) -> [UInt8]
    ) -> TokenLogprob {
        var maximum = -Float.infinity
        for i in 0..<count where logits[i] > maximum { maximum = logits[i] }
        var sum: Double = 0
        for i in 0..<count { sum += Double(expf(logits[i] - maximum)) }
        let logSum = Double(maximum) + log(sum)
        func candidate(_ id: Int32) -> TokenLogprob.Candidate {
            let bytes = piece(id)
            return TokenLogprob.Candidate(
                token: String(decoding: bytes, as: UTF8.self), bytes: bytes, logprob: Double(logits[Int(id)]) - logSum)
        }
        return TokenLogprob(sampled: candidate(token), top: highest(logits, count: count, limit: top).map(candidate))
    }

    /// The ids of the `limit` highest logits, highest first (insertion into a short sorted list: `limit` ≤ 20).
    static func highest(_ logits: UnsafePointer<Float>, count: Int, limit: Int) -> [Int32] {
        guard limit > 0 else { return [] }
        var best: [(id: Int32, logit: Float)] = []
        best.reserveCapacity(limit + 1)
        for i in 0..<count {
            let logit = logits[i]
            guard best.count < limit || logit > best[best.count - 1].logit else { continue }
            let at = best.firstIndex { $0.logit < logit } ?? best.count
            best.insert((Int32(i), logit), at: at)
            if best.count > limit { best.removeLast() }
        }
        return best.map(\.id)
    }
}
