import Foundation

/// Splits the answer text into what the client sees: `<think>…</think>` goes to the reasoning channel,
/// `<tool_call>{"name":…,"arguments":…}</tool_call>` becomes a tool call event, the rest is content.
/// Tags may arrive split over several deltas, so a tail that could be the start of a tag is held back.
/// With neither thinking nor tools enabled, text passes straight through.
struct OutputRouter {
    private struct Tag {
        let open: [UInt8]
        let close: [UInt8]
        let kind: Kind
        enum Kind { case reasoning, toolCall }
    }

    private let tags: [Tag]
    private var pending: [UInt8] = []
    private var inside: Tag?
    private var toolCallText: [UInt8] = []
    private var toolCallCount = 0
    private let singleCall: Bool
    /// A single-call answer has its call: the rest of the text is dropped and the generation should end.
    private(set) var ended = false

    init(thinking: Bool, tools: Bool, singleCall: Bool = false) {
        self.singleCall = singleCall
        var tags: [Tag] = []
        if thinking { tags.append(Tag(open: Array("<think>".utf8), close: Array("</think>".utf8), kind: .reasoning)) }
        if tools {
            tags.append(Tag(open: Array("<tool_call>".utf8), close: Array("</tool_call>".utf8), kind: .toolCall))
        }
        self.tags = tags
    }

    /// Events for one text delta, appended to `events`.
    mutating func route(_ text: String, into events: inout [GenerationEvent]) {
        guard !text.isEmpty, !ended else { return }
        guard !tags.isEmpty else {
            events.append(.text(text, channel: .content))
            return
        }
        pending.append(contentsOf: text.utf8)
        while !pending.isEmpty {
            if let tag = inside {
                if let at = Self.find(tag.close, in: pending) {
                    emitInside(tag, pending[..<at], into: &events)
                    pending.removeFirst(at + tag.close.count)
                    closeTag(tag, into: &events)
                    inside = nil
                    if ended {
                        pending.removeAll()
                        return
                    }
                    continue
                }
                let keep = Self.heldPrefixLength(of: [tag.close], in: pending)
                emitInside(tag, pending[..<(pending.count - keep)], into: &events)
                pending.removeFirst(pending.count - keep)
                return
            }
            let found = tags.compactMap { tag in Self.find(tag.open, in: pending).map { (tag, $0) } }
                .min { $0.1 < $1.1 }
            if let (tag, at) = found {
                emitContent(pending[..<at], into: &events)
                pending.removeFirst(at + tag.open.count)
                inside = tag
                continue
            }
            let keep = Self.heldPrefixLength(of: tags.map(\.open), in: pending)
            emitContent(pending[..<(pending.count - keep)], into: &events)
            pending.removeFirst(pending.count - keep)
            return
        }
    }

    /// At the end of generation: whatever is held is plain text again (an unclosed tool call included).
    mutating func finish(into events: inout [GenerationEvent]) {
        if let tag = inside, tag.kind == .toolCall {
            emitContent(tag.open[...] + toolCallText[...], into: &events)
        } else if let tag = inside {
            emitInside(tag, pending[...], into: &events)
            pending.removeAll()
        }
        emitContent(pending[...], into: &events)
        pending.removeAll()
        inside = nil
    }

    private func emitContent(_ bytes: ArraySlice<UInt8>, into events: inout [GenerationEvent]) {
        guard !bytes.isEmpty else { return }
        events.append(.text(String(decoding: bytes, as: UTF8.self), channel: .content))
    }

    private mutating func emitInside(_ tag: Tag, _ bytes: ArraySlice<UInt8>, into events: inout [GenerationEvent]) {
        guard !bytes.isEmpty else { return }
        switch tag.kind {
        case .reasoning: events.append(.text(String(decoding: bytes, as: UTF8.self), channel: .reasoning))
        case .toolCall: toolCallText.append(contentsOf: bytes)
        }
    }

    private mutating func closeTag(_ tag: Tag, into events: inout [GenerationEvent]) {
        guard tag.kind == .toolCall else { return }
        defer { toolCallText.removeAll() }
        guard let call = Self.parseToolCall(toolCallText, id: "call_\(toolCallCount)") else {
            // Not a call we understand: show it as the model wrote it rather than dropping it.
            emitContent(tag.open[...] + toolCallText[...] + tag.close[...], into: &events)
            return
        }
        toolCallCount += 1
        events.append(.toolCall(call))
        if singleCall { ended = true }
    }

    /// `{"name": "...", "arguments": {...}}` (arguments may also be a JSON string holding an object).
    static func parseToolCall(_ bytes: [UInt8], id: String) -> ToolCall? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any],
            let name = object["name"] as? String
        else { return nil }
        let arguments: String
        switch object["arguments"] ?? object["parameters"] {
        case let text as String: arguments = text
        case let value? where JSONSerialization.isValidJSONObject(value):
            guard let data = try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys]) else {
                return nil
            }
            arguments = String(decoding: data, as: UTF8.self)
        default: arguments = "{}"
        }
        return ToolCall(id: id, name: name, arguments: arguments)
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard needle.count <= haystack.count else { return nil }
        for start in 0...(haystack.count - needle.count)
        where haystack[start] == needle[0] && haystack[start..<(start + needle.count)].elementsEqual(needle) {
            return start
        }
        return nil
    }

    /// The longest suffix of `bytes` that is a proper prefix of one of `needles`.
    private static func heldPrefixLength(of needles: [[UInt8]], in bytes: [UInt8]) -> Int {
        let longest = min((needles.map(\.count).max() ?? 1) - 1, bytes.count)
        var length = longest
        while length > 0 {
            let tail = bytes[(bytes.count - length)...]
            if needles.contains(where: { $0.count > length && $0.prefix(length).elementsEqual(tail) }) {
                return length
            }
            length -= 1
        }
        return 0
    }
}
