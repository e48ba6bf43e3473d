internal import Foundation

/// Any JSON value. Ollama sends free-form JSON in several places (the `options` map, `format` schemas, tool
/// parameters, tool-call arguments as objects) where the canonical types keep JSON text or typed fields.
enum OllamaJSON: Sendable, Equatable, Codable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([OllamaJSON])
    case object([String: OllamaJSON])

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() {
            self = .null
        } else if let value = try? c.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? c.decode(Double.self) {
            self = .number(value)
        } else if let value = try? c.decode(String.self) {
            self = .string(value)
        } else if let value = try? c.decode([OllamaJSON].self) {
            self = .array(value)
        } else {
            self = .object(try c.decode([String: OllamaJSON].self))
        }
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let value): try c.encode(value)
        case .number(let value):
            // Integral numbers stay integers on the wire (`"count": 3`, not `3.0`).
            if value.rounded() == value, abs(value) < 1e15 { try c.encode(Int64(value)) } else { try c.encode(value) }
        case .string(let value): try c.encode(value)
        case .array(let value): try c.encode(value)
        case .object(let value): try c.encode(value)
        }
    }

    /// Parses JSON text (the canonical form of tool arguments and schemas).
    init(text: String) throws {
        self = try JSONDecoder().decode(OllamaJSON.self, from: Data(text.utf8))
    }

    /// Compact JSON text with sorted keys, so equal values always give equal text.
    var text: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "null"
    }

    var isNull: Bool { self == .null }
}
