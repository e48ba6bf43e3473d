internal import Foundation

/// Any JSON value, for the parts of an OpenAI request whose shape the gateway passes on rather than reads: a
/// tool's parameter schema, a `json_schema`, a tool call's arguments sent as an object. Integers stay
/// integers, so re-encoding a schema does not turn `"minimum": 1` into `1.0`.
enum OpenAIJSON: Sendable, Equatable, Codable {
    case null
    case bool(Bool)
    case integer(Int64)
    case number(Double)
    case string(String)
    case array([OpenAIJSON])
    case object([String: OpenAIJSON])

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() {
            self = .null
        } else if let value = try? c.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? c.decode(Int64.self) {
            self = .integer(value)
        } else if let value = try? c.decode(Double.self) {
            self = .number(value)
        } else if let value = try? c.decode(String.self) {
            self = .string(value)
        } else if let value = try? c.decode([OpenAIJSON].self) {
            self = .array(value)
        } else {
            self = .object(try c.decode([String: OpenAIJSON].self))
        }
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let value): try c.encode(value)
        case .integer(let value): try c.encode(value)
        case .number(let value): try c.encode(value)
        case .string(let value): try c.encode(value)
        case .array(let value): try c.encode(value)
        case .object(let value): try c.encode(value)
        }
    }

    /// Compact JSON text with sorted keys: what the engine renders into a prompt.
    var jsonText: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding a value built by decoding JSON cannot fail (no non-finite numbers come out of JSON).
        return (try? encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "null"
    }

    var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    var isObject: Bool {
        if case .object = self { return true }
        return false
    }

    subscript(key: String) -> OpenAIJSON? {
        if case .object(let object) = self { return object[key] }
        return nil
    }
}
