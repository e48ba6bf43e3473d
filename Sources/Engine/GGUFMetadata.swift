internal import Foundation

/// The string and integer key/values in a GGUF file's header (`general.architecture`,
/// `tokenizer.chat_template`, …), read without loading the model: the gateway describes models from it.
/// Arrays (the tokenizer's vocabulary) are skipped, not kept.
public struct GGUFMetadata: Sendable, Equatable {
    public var strings: [String: String] = [:]
    public var integers: [String: Int64] = [:]

    /// e.g. "llama", "qwen3".
    public var architecture: String? { strings["general.architecture"] }
    public var chatTemplate: String? { strings["tokenizer.chat_template"] }
    /// e.g. "135M".
    public var sizeLabel: String? { strings["general.size_label"] }

    /// Bytes of KV cache one token takes in llama.cpp's default f16 cache: for each of `block_count` layers, a
    /// key and a value of `head_count_kv` heads each. A head's key is `attention.key_length` wide, else
    /// `embedding_length / head_count`; its value `attention.value_length`, else the same. nil when the header
    /// lacks what this needs (an architecture without attention, or per-layer head counts, which are arrays).
    public var kvBytesPerToken: Int64? {
        guard let architecture, let layers = integers["\(architecture).block_count"],
            let heads = integers["\(architecture).attention.head_count"], layers > 0, heads > 0
        else { return nil }
        let kvHeads = integers["\(architecture).attention.head_count_kv"] ?? heads
        let headWidth = integers["\(architecture).embedding_length"].map { $0 / heads }
        guard let keyWidth = integers["\(architecture).attention.key_length"] ?? headWidth else { return nil }
        let valueWidth = integers["\(architecture).attention.value_length"] ?? keyWidth
        guard kvHeads > 0, keyWidth > 0, valueWidth > 0 else { return nil }
        let bytesPerElement: Int64 = 2  // f16
        return layers * kvHeads * (keyWidth + valueWidth) * bytesPerElement
    }

    public struct ReadError: Error, CustomStringConvertible {
        public var description: String
    }

    public init(strings: [String: String] = [:], integers: [String: Int64] = [:]) {
        self.strings = strings
        self.integers = integers
    }

    /// Reads the header of the GGUF file at `path` (memory-mapped: only the header's pages are read).
    public init(contentsOf path: String) throws {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped)
        } catch {
            throw ReadError(description: "cannot read \(path): \(error.localizedDescription)")
        }
        try self.init(data, name: path)
    }

    init(_ data: Data, name: String) throws {
        var reader = Reader(data: data, name: name)
        guard try reader.bytes(4) == Array("GGUF".utf8) else { throw ReadError(description: "\(name) is not a GGUF file") }
        let version = try reader.integer(UInt32.self)
        guard version >= 2 else { throw ReadError(description: "\(name) is GGUF version \(version); 2 or newer is read") }
        _ = try reader.integer(UInt64.self)  // tensor count
        let count = try reader.integer(UInt64.self)
        for _ in 0..<count {
            let key = try reader.string()
            let type = try reader.integer(UInt32.self)
            switch type {
            case 8: strings[key] = try reader.string()
            case 0...7, 10...12:
                if let value = try reader.scalar(type) { integers[key] = value }
            case 9:
                let itemType = try reader.integer(UInt32.self)
                let items = try reader.integer(UInt64.self)
                if itemType == 8 {
                    for _ in 0..<items { try reader.skipString() }
                } else {
                    guard let width = Reader.width(of: itemType), items < UInt64(Int32.max) else {
                        throw ReadError(description: "\(name): unknown GGUF array of type \(itemType) for \(key)")
                    }
                    try reader.skip(Int(items) * width)
                }
            default: throw ReadError(description: "\(name): unknown GGUF value type \(type) for \(key)")
            }
        }
    }

    /// A cursor over the header, little-endian as GGUF is.
    private struct Reader {
        let data: Data
        let name: String
        var offset: Int

        init(data: Data, name: String) {
            self.data = data
            self.name = name
            offset = data.startIndex
        }

        mutating func bytes(_ count: Int) throws -> [UInt8] {
            guard count >= 0, data.endIndex - offset >= count else {
                throw ReadError(description: "\(name): the GGUF header ends early")
            }
            defer { offset += count }
            return Array(data[offset..<offset + count])
        }

        mutating func skip(_ count: Int) throws {
            guard count >= 0, data.endIndex - offset >= count else {
                throw ReadError(description: "\(name): the GGUF header ends early")
            }
            offset += count
        }

        mutating func integer<T: FixedWidthInteger>(_: T.Type) throws -> T {
            let size = MemoryLayout<T>.size
            guard data.endIndex - offset >= size else { throw ReadError(description: "\(name): the GGUF header ends early") }
            let start = offset - data.startIndex
            defer { offset += size }
            return T(littleEndian: data.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: start, as: T.self) })
        }

        /// Bytes per item of a scalar type; nil for strings, arrays and unknown types.
        static func width(of type: UInt32) -> Int? {
            switch type {
            case 0, 1, 7: 1
            case 2, 3: 2
            case 4, 5, 6: 4
            case 10, 11, 12: 8
            default: nil
            }
        }

        mutating func string() throws -> String {
            let length = try integer(UInt64.self)
            guard length < UInt64(Int32.max) else { throw ReadError(description: "\(name): a GGUF string is too long") }
            return String(decoding: try bytes(Int(length)), as: UTF8.self)
        }

        mutating func skipString() throws {
            let length = try integer(UInt64.self)
            guard length < UInt64(Int32.max) else { throw ReadError(description: "\(name): a GGUF string is too long") }
            try skip(Int(length))
        }

        /// An integer-valued scalar (floats are skipped and give nil).
        mutating func scalar(_ type: UInt32) throws -> Int64? {
            switch type {
            case 0: return Int64(try integer(UInt8.self))
            case 1: return Int64(Int8(bitPattern: try integer(UInt8.self)))
            case 2: return Int64(try integer(UInt16.self))
            case 3: return Int64(Int16(bitPattern: try integer(UInt16.self)))
            case 4: return Int64(try integer(UInt32.self))
            case 5: return Int64(Int32(bitPattern: try integer(UInt32.self)))
            case 6:
                _ = try bytes(4)
                return nil
            case 7: return Int64(try integer(UInt8.self))
            case 10: return Int64(bitPattern: try integer(UInt64.self))
            case 11: return Int64(bitPattern: try integer(UInt64.self))
            case 12:
                _ = try bytes(8)
                return nil
            default: throw ReadError(description: "\(name): unknown GGUF value type \(type)")
            }
        }
    }
}
