internal import Foundation

/// Decoding helpers for fields clients spell more than one way.
extension KeyedDecodingContainer {
    /// An integer that may arrive as `16` or `16.0` (JavaScript clients send whole numbers as doubles).
    func decodeOpenAIInt(forKey key: Key) throws -> Int64? {
        guard contains(key), try !decodeNil(forKey: key) else { return nil }
        if let value = try? decode(Int64.self, forKey: key) { return value }
        let value = try decode(Double.self, forKey: key)
        guard value.rounded() == value, let integer = Int64(exactly: value) else {
            throw DecodingError.dataCorruptedError(forKey: key, in: self, debugDescription: "expected an integer")
        }
        return integer
    }

    /// A string or a list of strings (`stop`).
    func decodeOpenAIStrings(forKey key: Key) throws -> [String]? {
        guard contains(key), try !decodeNil(forKey: key) else { return nil }
        if let value = try? decode(String.self, forKey: key) { return [value] }
        return try decode([String].self, forKey: key)
    }
}
