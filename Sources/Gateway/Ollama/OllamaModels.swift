internal import Engine
internal import Foundation

/// How served models are described by `/api/tags`, `/api/show` and `/api/ps`.
///
/// Only canonical names are listed (as `name:latest`), not aliases: a picker would otherwise show one model
/// several times. Aliases still resolve everywhere a model is named (show, chat, pull, ...).
enum OllamaModels {
    /// Ollama names carry a tag; a served model has exactly one.
    static func taggedName(_ model: ServedModel) -> String {
        model.name.contains(":") ? model.name : model.name + ":latest"
    }

    static func details(_ model: ServedModel) -> OllamaModelDetails {
        OllamaModelDetails(
            parentModel: "", format: format(model.engineKind), family: model.family,
            families: model.family.isEmpty ? nil : [model.family], parameterSize: model.parameterSize,
            quantizationLevel: model.quantization)
    }

    static func format(_ engineKind: String) -> String {
        switch engineKind {
        case "llamacpp": "gguf"
        default: engineKind
        }
    }

    /// The file's sha256 when known. Otherwise a stable 64-hex identifier of the served model (Ollama's own
    /// digest identifies a manifest, not a file, and clients show its first 12 characters as the model's ID).
    static func digest(_ model: ServedModel) -> String {
        if let digest = model.digest, !digest.isEmpty {
            return digest.hasPrefix("sha256:") ? String(digest.dropFirst("sha256:".count)) : digest
        }
        let key = "\(model.name)\n\(model.engineKind)\n\(model.sizeBytes)\n\(model.modifiedAt.timeIntervalSince1970)"
        // Four FNV-1a passes with different offsets: not cryptographic, just stable and well spread.
        return (0..<4).map { round in
            var hash: UInt64 = 0xcbf2_9ce4_8422_2325 &+ UInt64(round) &* 0x9e37_79b9_7f4a_7c15
            for byte in key.utf8 {
                hash ^= UInt64(byte)
                hash &*= 0x0000_0100_0000_01b3
            }
            let hex = String(hash, radix: 16)
            return String(repeating: "0", count: 16 - hex.count) + hex
        }.joined()
    }

    static func tags(_ models: [ServedModel]) -> OllamaTagsResponse {
        OllamaTagsResponse(
            models: models.map { model in
                OllamaTagsResponse.Model(
                    name: taggedName(model), model: taggedName(model),
                    modifiedAt: OllamaEncoding.timestamp(model.modifiedAt), size: model.sizeBytes, digest: digest(model),
                    details: details(model), capabilities: model.capabilities.words)
            })
    }

    static func show(_ model: ServedModel) -> OllamaShowResponse {
        let architecture = model.family.isEmpty ? model.engineKind : model.family
        var info: [String: JSONValue] = [
            "general.architecture": .string(architecture),
            "general.basename": .string(model.name),
            "\(architecture).context_length": .integer(Int64(model.context)),
        ]
        if let count = parameterCount(model.parameterSize) { info["general.parameter_count"] = .integer(Int64(count)) }
        let parameters = self.parameters(model)
        return OllamaShowResponse(
            modelfile: modelfile(model, parameters: parameters), parameters: parameters,
            template: model.chatTemplate ?? "", details: details(model), modelInfo: info,
            capabilities: model.capabilities.words,
            modifiedAt: OllamaEncoding.timestamp(model.modifiedAt))
    }

    /// "135M" → 135_000_000, "1.5B" → 1_500_000_000.
    static func parameterCount(_ size: String) -> Int64? {
        guard let unit = size.last?.uppercased(), let scale = ["K": 1e3, "M": 1e6, "B": 1e9, "T": 1e12][unit],
            let value = Double(size.dropLast())
        else { return nil }
        return Int64((value * scale).rounded())
    }

    /// Ollama's `parameters` text: one `name value` line per set parameter, names padded to a column.
    static func parameters(_ model: ServedModel) -> String {
        let s = model.defaults
        var lines: [(String, String)] = [("num_ctx", "\(model.context)")]
        if let value = model.maxTokens { lines.append(("num_predict", "\(value)")) }
        if let value = s.temperature { lines.append(("temperature", number(value))) }
        if let value = s.topK { lines.append(("top_k", "\(value)")) }
        if let value = s.topP { lines.append(("top_p", number(value))) }
        if let value = s.minP { lines.append(("min_p", number(value))) }
        if let value = s.repeatPenalty { lines.append(("repeat_penalty", number(value))) }
        if let value = s.repeatLastN { lines.append(("repeat_last_n", "\(value)")) }
        if let value = s.frequencyPenalty { lines.append(("frequency_penalty", number(value))) }
        if let value = s.presencePenalty { lines.append(("presence_penalty", number(value))) }
        if let value = s.seed { lines.append(("seed", "\(value)")) }
        if let value = s.mirostat {
            lines += [("mirostat", "\(value.version)"), ("mirostat_tau", number(value.tau)), ("mirostat_eta", number(value.eta))]
        }
        return lines.map { name, value in name.padding(toLength: 30, withPad: " ", startingAt: 0) + " " + value }
            .joined(separator: "\n")
    }

    static func number(_ value: Double) -> String {
        value.rounded() == value && abs(value) < 1e15 ? "\(Int64(value))" : "\(value)"
    }

    static func modelfile(_ model: ServedModel, parameters: String) -> String {
        let lines = parameters.split(separator: "\n").map { "PARAMETER " + $0 }
        return
            ([
                "# Served from the runner's manifest; Modelfiles are not used to create models here.",
                "FROM \(taggedName(model))",
            ] + lines).joined(separator: "\n") + "\n"
    }

    /// The models in memory. `size` is what the model's worker takes (measured once it has run, else the
    /// estimate); `size_vram` is the part on an accelerator: all of an rkllm model (its weights live in NPU
    /// buffers), none of a llama.cpp one on this CPU build. A model kept until evicted or unloaded expires
    /// when Ollama's `keep_alive: -1` does (now + the largest Go duration, ~292 years).
    static func ps(_ models: [(model: ServedModel, bytes: Int64, expiresAt: Date?)], now: Date) -> OllamaPsResponse {
        let forever = now.addingTimeInterval(Double(Int64.max) / 1e9)
        return OllamaPsResponse(
            models: models.map { model, bytes, expiresAt in
                OllamaPsResponse.Model(
                    name: taggedName(model), model: taggedName(model), size: bytes, digest: digest(model),
                    details: details(model), expiresAt: OllamaEncoding.timestamp(expiresAt ?? forever),
                    sizeVRAM: model.engineKind == "rkllm" ? bytes : 0, contextLength: model.context)
            })
    }
}
