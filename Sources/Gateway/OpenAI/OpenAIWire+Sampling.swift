internal import Foundation

/// The sampling fields `/v1/chat/completions` and `/v1/completions` share, OpenAI's and the llama.cpp
/// extensions (`top_k`, `min_p`, `repeat_penalty`, `repeat_last_n`), read from the request's top level.
struct OpenAISamplingFields: Sendable, Equatable {
    var temperature: Double?
    var topP: Double?
    var frequencyPenalty: Double?
    var presencePenalty: Double?
    var seed: Int64?
    var topK: Int64?
    var minP: Double?
    var repeatPenalty: Double?
    var repeatLastN: Int64?

    private enum CodingKeys: String, CodingKey {
        case temperature, seed
        case topP = "top_p"
        case frequencyPenalty = "frequency_penalty"
        case presencePenalty = "presence_penalty"
        case topK = "top_k"
        case minP = "min_p"
        case repeatPenalty = "repeat_penalty"
        case repeatLastN = "repeat_last_n"
    }

    init() {}

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        temperature = try c.decodeIfPresent(Double.self, forKey: .temperature)
        topP = try c.decodeIfPresent(Double.self, forKey: .topP)
        frequencyPenalty = try c.decodeIfPresent(Double.self, forKey: .frequencyPenalty)
        presencePenalty = try c.decodeIfPresent(Double.self, forKey: .presencePenalty)
        seed = try c.decodeOpenAIInt(forKey: .seed)
        topK = try c.decodeOpenAIInt(forKey: .topK)
        minP = try c.decodeIfPresent(Double.self, forKey: .minP)
        repeatPenalty = try c.decodeIfPresent(Double.self, forKey: .repeatPenalty)
        repeatLastN = try c.decodeOpenAIInt(forKey: .repeatLastN)
    }
}
