internal import Engine
internal import Foundation

/// What Ollama's `options` map becomes in canonical terms (api/types.go `Options`).
struct OllamaOptions: Sendable, Equatable {
    var sampling = Sampling()
    /// nil: the client set no limit (or asked for none with a negative `num_predict`).
    var maxTokens: Int?
    /// Whether `num_predict` was present at all: a negative value means "no limit" and must not fall back to
    /// the model's default.
    var maxTokensSet = false
    var stop: [String] = []
    /// The context the client asked for. Validated, then left alone: in Ollama it sizes the model at load time,
    /// here the manifest does (a larger value is capped to it, a smaller one does not shrink it).
    var numCtx: Int?

    /// Maps the map, refusing values of the wrong type (Ollama answers 400 for those too). Other keys are
    /// ignored, as Ollama does for unknown ones: load-time keys (`num_gpu`, `num_thread`, `num_batch`, `use_mmap`,
    /// ...) belong to the manifest here, and `typical_p`, `tfs_z`, `penalize_newline` have no sampler here (Ollama
    /// itself dropped the last two).
    init(_ map: [String: JSONValue]?) throws(OllamaAdapterError) {
        guard let map else { return }
        var mirostatVersion: Int?
        var mirostatTau: Double?
        var mirostatEta: Double?
        for (key, value) in map where !value.isNull {
            switch key {
            case "temperature": sampling.temperature = try Self.double(key, value)
            case "top_k": sampling.topK = try Self.int(key, value)
            case "top_p": sampling.topP = try Self.double(key, value)
            case "min_p": sampling.minP = try Self.double(key, value)
            case "repeat_penalty": sampling.repeatPenalty = try Self.double(key, value)
            case "repeat_last_n": sampling.repeatLastN = try Self.int(key, value)
            case "frequency_penalty": sampling.frequencyPenalty = try Self.double(key, value)
            case "presence_penalty": sampling.presencePenalty = try Self.double(key, value)
            case "seed":
                // Ollama's default seed is -1: random. Seeds wider than the engine's 32 bits keep their low bits.
                let seed = try Self.int(key, value)
                sampling.seed = seed < 0 ? nil : UInt32(truncatingIfNeeded: seed)
            case "mirostat": mirostatVersion = try Self.int(key, value)
            case "mirostat_tau": mirostatTau = try Self.double(key, value)
            case "mirostat_eta": mirostatEta = try Self.double(key, value)
            case "num_predict":
                let limit = try Self.int(key, value)
                guard limit != 0 else {
                    throw .invalid("option 'num_predict' must be positive, or -1 for no limit")
                }
                maxTokensSet = true
                // -1: until a stop; -2: until the context is full. Both are "no limit" to the engine.
                maxTokens = limit > 0 ? limit : nil
            case "stop":
                switch value {
                case .string(let text): stop = [text]
                case .array(let items):
                    stop = try items.map { item throws(OllamaAdapterError) in
                        guard case .string(let text) = item else { throw .invalid("option 'stop' must be a list of strings") }
                        return text
                    }
                default: throw .invalid("option 'stop' must be a list of strings")
                }
            case "num_ctx":
                let context = try Self.int(key, value)
                guard context > 0 else { throw .invalid("option 'num_ctx' must be positive") }
                numCtx = context
            default: break
            }
        }
        switch mirostatVersion {
        case nil, 0: break
        case let version? where version == 1 || version == 2:
            sampling.mirostat = Sampling.Mirostat(version: version, tau: mirostatTau ?? 5, eta: mirostatEta ?? 0.1)
        default: throw .invalid("option 'mirostat' must be 0, 1 or 2")
        }
    }

    static func double(_ key: String, _ value: JSONValue) throws(OllamaAdapterError) -> Double {
        guard let number = value.doubleValue, number.isFinite else { throw .invalid("option '\(key)' must be a number") }
        return number
    }

    static func int(_ key: String, _ value: JSONValue) throws(OllamaAdapterError) -> Int {
        guard let number = value.doubleValue, number.rounded() == number, abs(number) < 9e15 else {
            throw .invalid("option '\(key)' must be an integer")
        }
        return Int(number)
    }
}

/// Why a request cannot be translated. Rendered as Ollama's `{"error": "..."}` with the status.
enum OllamaAdapterError: Error, Sendable, Equatable {
    /// 400: the request is malformed or asks for something this server does not do.
    case invalid(String)

    var message: String {
        switch self {
        case .invalid(let message): message
        }
    }
}

/// `keep_alive` in seconds. Zero asks Ollama to unload the model after the request; any negative value keeps
/// it forever. Go duration strings: a sequence of number+unit (`ns`, `us`, `µs`, `ms`, `s`, `m`, `h`).
enum OllamaDuration {
    static func seconds(_ keepAlive: OllamaKeepAlive) throws(OllamaAdapterError) -> Double {
        switch keepAlive {
        case .seconds(let seconds): return seconds
        case .text(let text):
            guard let seconds = parse(text) else {
                throw .invalid("keep_alive '\(text)' is not a duration (a number of seconds, or like \"5m\", \"1h30m\")")
            }
            return seconds
        }
    }

    static func parse(_ text: String) -> Double? {
        var rest = Substring(text.trimmingCharacters(in: .whitespaces))
        var sign = 1.0
        if let first = rest.first, first == "-" || first == "+" {
            sign = first == "-" ? -1 : 1
            rest = rest.dropFirst()
        }
        // Go accepts a bare "0"; Ollama also accepts a bare number of seconds in a string.
        if let plain = Double(rest) { return sign * plain }
        guard !rest.isEmpty else { return nil }
        let units: [(String, Double)] = [
            ("ns", 1e-9), ("us", 1e-6), ("µs", 1e-6), ("μs", 1e-6), ("ms", 1e-3), ("s", 1), ("m", 60), ("h", 3600),
        ]
        var total = 0.0
        while !rest.isEmpty {
            let number = rest.prefix { $0.isNumber || $0 == "." }
            guard let value = Double(number) else { return nil }
            rest = rest.dropFirst(number.count)
            guard let unit = units.first(where: { rest.hasPrefix($0.0) }) else { return nil }
            // "ms" must win over "m": the table lists two-letter units first.
            total += value * unit.1
            rest = rest.dropFirst(unit.0.count)
        }
        return sign * total
    }
}
