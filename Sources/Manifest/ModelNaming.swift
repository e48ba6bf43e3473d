internal import Foundation

/// Friendly model names and context sizes derived from model file names, so a manifest can list just a file.
///
///     Qwen_Qwen3-0.6B-w8a8-opt0-hybrid0-npu3-ctx16384-rk3588.rkllm → qwen3-0.6b, context 16384
///     gemma-3-1b-it_w8a8.rkllm                                    → gemma3-1b,  context 4096
///     SmolLM2-135M-Instruct.Q4_1.gguf                              → smollm2-135m-instruct
public enum ModelNaming {
    /// Context used when neither the manifest nor the file name gives one.
    public static let defaultContext = 4096

    /// The friendly name for a model file, or nil when nothing recognisable is left after the build tags.
    public static func friendlyName(forFile file: String) -> String? {
        var stem = (file as NSString).lastPathComponent
        for suffix in [".rkllm", ".gguf"] where stem.lowercased().hasSuffix(suffix) { stem.removeLast(suffix.count) }
        // GGUF files carry the quantisation after a dot: "SmolLM2-135M-Instruct.Q4_1".
        if let dot = stem.lastIndex(of: "."), isQuantisation(String(stem[stem.index(after: dot)...]).lowercased()) {
            stem = String(stem[..<dot])
        }
        // "Qwen_Qwen3-…": an organisation prefix repeated by the model name.
        let segments = stem.split(separator: "_").map(String.init)
        if segments.count > 1, segments[1].lowercased().hasPrefix(segments[0].lowercased()) {
            stem = segments.dropFirst().joined(separator: "_")
        }
        // Split on dashes first so "Q4_K_M" stays one token, then split what is left on underscores.
        let tokens = stem.lowercased().split(whereSeparator: { $0 == "-" || $0 == " " }).flatMap { token in
            isQuantisation(String(token)) ? [String(token)] : token.split(separator: "_").map(String.init)
        }
        var kept: [String] = []
        for token in tokens where !isBuildTag(token) {
            // A bare version number joins the family before it: "gemma" "3" → "gemma3", "llama" "3.2" → "llama3.2".
            if isVersionNumber(token), let last = kept.last, last.last?.isLetter == true {
                kept[kept.count - 1] = last + token
            } else {
                kept.append(token)
            }
        }
        let name = kept.joined(separator: "-")
        return name.isEmpty ? nil : name
    }

    /// The quantisation a model file's name states (`Q4_1`, `Q4_K_M`, `W8A8`), upper-cased, if any.
    public static func quantisation(forFile file: String) -> String? {
        var stem = (file as NSString).lastPathComponent
        for suffix in [".rkllm", ".gguf"] where stem.lowercased().hasSuffix(suffix) { stem.removeLast(suffix.count) }
        if let dot = stem.lastIndex(of: "."), isQuantisation(String(stem[stem.index(after: dot)...]).lowercased()) {
            return String(stem[stem.index(after: dot)...]).uppercased()
        }
        for token in stem.split(whereSeparator: { $0 == "-" || $0 == " " }).map(String.init) {
            let candidates = isQuantisation(token.lowercased()) ? [token] : token.split(separator: "_").map(String.init)
            if let quant = candidates.first(where: { isQuantisation($0.lowercased()) }) { return quant.uppercased() }
        }
        return nil
    }

    /// The context a model file was converted for (`ctx16384`), if its name says.
    public static func context(forFile file: String) -> Int? {
        let tokens = (file as NSString).lastPathComponent.lowercased().split(whereSeparator: { "-_.".contains($0) })
        for token in tokens where token.hasPrefix("ctx") {
            if let value = Int(token.dropFirst(3)), value > 0 { return value }
        }
        return nil
    }

    /// Tokens that describe how a file was built rather than which model it is.
    static func isBuildTag(_ token: String) -> Bool {
        if token == "it" { return true }  // "instruction tuned": the variant people mean by default
        if ["rk3588", "rk3576", "rk3562", "rv1126b"].contains(token) { return true }
        if isQuantisation(token) { return true }
        for prefix in ["opt", "hybrid", "npu", "ctx"] where token.hasPrefix(prefix) {
            if Int(token.dropFirst(prefix.count)) != nil { return true }
        }
        return false
    }

    /// w8a8, w4a16, w8a8g128, q4_1, q4_k_m, f16, bf16, iq4_xs …
    static func isQuantisation(_ token: String) -> Bool {
        let patterns = [#"^w\d+a\d+(g\d+)?$"#, #"^i?q\d+(_[0-9a-z]+)*$"#, #"^b?f(16|32)$"#]
        return patterns.contains { token.range(of: $0, options: .regularExpression) != nil }
    }

    static func isVersionNumber(_ token: String) -> Bool {
        token.range(of: #"^\d+(\.\d+)*$"#, options: .regularExpression) != nil
    }

    /// The lookup key for a name or alias: case-insensitive, with Ollama's default `:latest` tag removed.
    public static func lookupKey(_ name: String) -> String {
        var key = name.lowercased()
        if key.hasSuffix(":latest") { key.removeLast(":latest".count) }
        return key
    }
}
