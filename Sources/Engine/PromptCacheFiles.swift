import Foundation

/// What a prompt-cache state file was built from. A file whose sidecar differs in any field from what the
/// engine would build now is stale: it is rebuilt, never loaded (KV state from another model, another
/// llama.cpp or another prompt would silently produce wrong answers).
struct PromptCacheSidecar: Codable, Equatable {
    var format = 1
    var name: String
    var model: FileIdentity
    var library: FileIdentity
    var libraryVersion: String
    /// FNV-1a 64 of the prompt's tokens.
    var promptHash: String
    var tokenCount: Int
    /// KV cells per slot and slot count: llama.cpp refuses a state saved from a context with another
    /// number of KV streams, and one with fewer cells per slot may not fit.
    var contextPerSlot: Int
    var slots: Int
}

/// A file told apart by size, modification time and a hash of its first MiB (hashing a whole multi-GB
/// model on every start would be too slow; a replaced model file changes at least one of these).
struct FileIdentity: Codable, Equatable {
    var size: UInt64
    var modified: Double
    var headHash: String

    static func of(path: String) throws(EngineError) -> FileIdentity {
        do {
            let attributes = try FileManager.default.attributesOfItem(atPath: path)
            let size = (attributes[.size] as? NSNumber)?.uint64Value ?? 0
            let modified = (attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
            guard let handle = FileHandle(forReadingAtPath: path) else {
                throw EngineError(.promptCacheFailed, "cannot read \(path)")
            }
            defer { try? handle.close() }
            let head = try handle.read(upToCount: 1 << 20) ?? Data()
            return FileIdentity(size: size, modified: modified, headHash: FNV1a.hex(head))
        } catch let error as EngineError {
            throw error
        } catch {
            throw EngineError(.promptCacheFailed, "cannot inspect \(path): \(error)")
        }
    }
}

/// 64-bit FNV-1a: a fast, dependency-free fingerprint. Identity, not security: nothing here is adversarial.
enum FNV1a {
    static func hash<S: Sequence<UInt8>>(_ bytes: S, into state: inout UInt64) {
        for byte in bytes {
            state ^= UInt64(byte)
            state = state &* 0x100_0000_01b3
        }
    }

    static func hex<S: Sequence<UInt8>>(_ bytes: S) -> String {
        var state: UInt64 = 0xcbf2_9ce4_8422_2325
        hash(bytes, into: &state)
        return String(state, radix: 16)
    }

    static func hex(tokens: [Int32]) -> String {
        tokens.withUnsafeBytes { hex($0) }
    }
}

/// Where one preset's files live: the saved state (`<name>.state` from llama.cpp, `<name>.rkllm-cache` from
/// the rkllm runtime) and `<name>.json`, the sidecar written last, once the state is complete.
public struct PromptCachePaths: Sendable {
    public let state: String
    public let rkllmCache: String
    public let sidecar: String

    public init(directory: String, name: String) {
        let base = directory.hasSuffix("/") ? directory : directory + "/"
        state = base + name + ".state"
        rkllmCache = base + name + ".rkllm-cache"
        sidecar = base + name + ".json"
    }

    /// Every file the preset may have, whichever engine built it.
    public var all: [String] { [state, rkllmCache, sidecar] }

    func readSidecar() -> PromptCacheSidecar? {
        guard let data = FileManager.default.contents(atPath: sidecar) else { return nil }
        return try? JSONDecoder().decode(PromptCacheSidecar.self, from: data)
    }

    func writeSidecar(_ value: PromptCacheSidecar) throws(EngineError) {
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(value).write(to: URL(fileURLWithPath: sidecar), options: .atomic)
        } catch {
            throw EngineError(.promptCacheFailed, "cannot write \(sidecar): \(error)")
        }
    }
}
