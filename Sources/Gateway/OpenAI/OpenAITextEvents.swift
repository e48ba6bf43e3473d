internal import Engine
internal import NIOCore

/// The SSE events of an answer's text chunks, made by substitution rather than by encoding each chunk.
///
/// Within one answer, text chunks differ only in their text. The first one on each channel is encoded with a
/// marker in place of the text and split around it; a later text whose JSON form is the text itself (no quote,
/// backslash, slash, control or line-separator character: most tokens) goes between the two halves. Any
/// other text, or a template that cannot be split, is encoded the usual way. The bytes are the same either way.
struct OpenAITextEvents<Transcoder: OpenAIStreamTranscoding> {
    private struct Template {
        var prefix: [UInt8]
        var suffix: [UInt8]
    }

    static var marker: String { "rockchipllama-text-3f9c1e" }
    private var templates: [GenerationEvent.Channel: Template?] = [:]

    /// Prepares the content template now, while the engine is still reading the prompt, so that the first token
    /// does not pay for it.
    init(preparingFor transcoder: Transcoder) { _ = template(.content, transcoder) }

    /// `data: <chunk>\n\n` for `text`, or nil when the caller must encode the chunk itself.
    mutating func event(_ text: String, channel: GenerationEvent.Channel, of transcoder: Transcoder) -> ByteBuffer? {
        guard Self.isVerbatim(text), let template = template(channel, transcoder) else { return nil }
        var buffer = ByteBuffer()
        buffer.reserveCapacity(template.prefix.count + text.utf8.count + template.suffix.count + 8)
        buffer.writeString("data: ")
        buffer.writeBytes(template.prefix)
        buffer.writeString(text)
        buffer.writeBytes(template.suffix)
        buffer.writeString("\n\n")
        return buffer
    }

    private mutating func template(_ channel: GenerationEvent.Channel, _ transcoder: Transcoder) -> Template? {
        if let known = templates[channel] { return known }
        var template: Template?
        if let json = try? OpenAIResponses.encode(transcoder.textChunk(Self.marker, channel: channel)) {
            let bytes = [UInt8](json)
            let marker = Array(Self.marker.utf8)
            let starts = bytes.indices.filter { bytes[$0...].starts(with: marker) }
            if starts.count == 1, let start = starts.first {
                template = Template(prefix: Array(bytes[..<start]), suffix: Array(bytes[(start + marker.count)...]))
            }
        }
        templates[channel] = template
        return template
    }

    /// Whether `text` is written in JSON exactly as it is.
    static func isVerbatim(_ text: String) -> Bool {
        text.unicodeScalars.allSatisfy { scalar in
            switch scalar.value {
            case 0..<0x20, 0x22, 0x2F, 0x5C, 0x7F, 0x2028, 0x2029: false
            default: true
            }
        }
    }
}
