import CLlama
import Logging

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Which chat template renders prompts, decided once at load: the GGUF's own template when llama.cpp
/// recognises it (`llama_chat_apply_template` has no Jinja engine, only known families), else the
/// configured fallback, else ChatML.
struct PromptTemplate {
    enum Source: Equatable {
        case gguf(String)
        case fallback(ChatTemplate)
        case chatML
    }

    let source: Source
    let library: LlamaLibrary
    /// The template knows `<think>` blocks (Qwen3 and alike): output is split into reasoning and content,
    /// and `thinking: false` closes an empty block up front, as those templates do for "no thinking".
    let supportsThinking: Bool

    static func resolve(library: LlamaLibrary, ggufTemplate: String?, fallback: ChatTemplate?, logger: Logger)
        -> PromptTemplate
    {
        let probe = [ChatTurn(role: "system", content: "s"), ChatTurn(role: "user", content: "u")]
        if let ggufTemplate {
            let candidate = PromptTemplate(
                source: .gguf(ggufTemplate), library: library, supportsThinking: ggufTemplate.contains("<think>"))
            if candidate.render(probe, addAssistant: true) != nil { return candidate }
            logger.warning("llama.cpp does not recognise the model's chat template; using the configured fallback")
        }
        if let fallback {
            return PromptTemplate(source: .fallback(fallback), library: library, supportsThinking: false)
        }
        logger.warning("no usable chat template (GGUF or configured); using ChatML")
        return PromptTemplate(source: .chatML, library: library, supportsThinking: false)
    }

    /// The prompt text for `turns`; nil when llama.cpp fails to apply the template.
    func render(_ turns: [ChatTurn], addAssistant: Bool) -> String? {
        switch source {
        case .fallback(let template): return template.render(turns, addAssistant: addAssistant)
        case .gguf(let text): return apply(text, turns, addAssistant)
        case .chatML: return apply("chatml", turns, addAssistant)
        }
    }

    private func apply(_ template: String, _ turns: [ChatTurn], _ addAssistant: Bool) -> String? {
        var owned: [UnsafeMutablePointer<CChar>] = []
        defer { owned.forEach { free($0) } }
        var messages: [llama_chat_message] = []
        var textLength = 0
        for turn in turns {
            guard let role = strdup(turn.role), let content = strdup(turn.content) else { return nil }
            owned += [role, content]
            messages.append(llama_chat_message(role: role, content: content))
            textLength += turn.content.utf8.count
        }
        var capacity = Int32(max(1024, 2 * textLength + 256))
        while true {
            var buffer = [CChar](repeating: 0, count: Int(capacity))
            let length = library.chatApplyTemplate(
                template, messages, messages.count, addAssistant, &buffer, capacity)
            guard length >= 0 else { return nil }
            if length <= capacity {
                return String(decoding: buffer.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            }
            capacity = length
        }
    }
}
