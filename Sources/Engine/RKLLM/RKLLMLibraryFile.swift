import Foundation

/// The two binary interfaces of librkllmrt.so this build speaks (see `CRKLLM/rkllm_abi.h`).
public enum RKLLMRuntimeABI: String, Sendable, Codable, Equatable {
    /// Runtime 1.2.1 to 1.2.3.
    case v1Dot2 = "1.2"
    /// Runtime 1.3.x.
    case v1Dot3 = "1.3"
}

/// What can be learnt about a librkllmrt.so from its bytes alone, without loading it. Loading a vendor
/// library runs its constructors, so the supervisor checks with this and only the worker ever dlopens.
public struct RKLLMLibraryFile: Sendable, Equatable {
    public var path: String
    /// The `X.Y.Z` the runtime prints at init (`rkllm-runtime version: X.Y.Z`), when the file holds it.
    public var version: String?
    public var abi: RKLLMRuntimeABI

    /// Checks that `path` is a shared library for this machine and decides its ABI: `requested` (the
    /// manifest's `runtimes.rkllm.abi`) when given, else the version found in the file. Refuses rather than
    /// guesses: no version and no `requested`, several versions, a version this build does not know, or a
    /// `requested` ABI that contradicts the version in the file.
    public static func inspect(path: String, requested: RKLLMRuntimeABI?) throws(EngineError) -> RKLLMLibraryFile {
        guard FileManager.default.fileExists(atPath: path) else {
            throw EngineError(
                .libraryNotFound,
                "the rkllm runtime \(path) does not exist (install librkllmrt.so or set runtimes.rkllm.library)")
        }
        guard let data = try? Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped) else {
            throw EngineError(.libraryNotFound, "cannot read the rkllm runtime \(path)")
        }
        try checkELF(data, path: path)
        let versions = versionStrings(in: data)
        guard versions.count <= 1 else {
            throw EngineError(
                .unsupported,
                "\(path) names several runtime versions (\(versions.sorted().joined(separator: ", "))); "
                    + "set runtimes.rkllm.abi to \"1.2\" or \"1.3\"")
        }
        let version = versions.first
        if let version, let requested, isPrerelease(version) {
            // The manifest says which ABI this pre-release speaks; its number cannot contradict that.
            return RKLLMLibraryFile(path: path, version: version, abi: requested)
        }
        let found = try version.map { (version) throws(EngineError) in try abi(forVersion: version, path: path) }
        switch (requested, found) {
        case (nil, nil):
            throw EngineError(
                .unsupported,
                "cannot tell which runtime ABI \(path) implements (no \"rkllm-runtime version\" string in it); "
                    + "set runtimes.rkllm.abi to \"1.2\" or \"1.3\"")
        case (let requested?, let found?) where requested != found:
            throw EngineError(
                .unsupported,
                "runtimes.rkllm.abi is \"\(requested.rawValue)\" but \(path) is runtime \(version ?? "?"), "
                    + "which has the \(found.rawValue) ABI; fix the manifest or the library")
        default:
            return RKLLMLibraryFile(path: path, version: version, abi: requested ?? found!)
        }
    }

    /// A version with anything after `X.Y.Z` (`1.2.1b1`, `1.3.0-rc1`).
    static func isPrerelease(_ version: String) -> Bool {
        version.split(separator: ".").count != 3 || !version.split(separator: ".").allSatisfy { Int($0) != nil }
    }

    /// 1.2.1–1.2.x share one ABI and 1.3.x the next; 1.2.0 and older differ from both. A pre-release's number
    /// says nothing certain about its layout (1.2.1b1 still has 1.2.0's), so only the manifest can name it.
    static func abi(forVersion version: String, path: String) throws(EngineError) -> RKLLMRuntimeABI {
        if isPrerelease(version) {
            throw EngineError(
                .unsupported,
                "\(path) is runtime \(version), a pre-release whose ABI cannot be told from its version (1.2.1b1 "
                    + "still has the 1.2.0 layout); if you know it speaks the 1.2.1+ or the 1.3 layout, set "
                    + "runtimes.rkllm.abi to \"1.2\" or \"1.3\"")
        }
        let parts = version.split(separator: ".").compactMap { Int($0) }
        switch (parts.first, parts.dropFirst().first, parts.dropFirst(2).first ?? 0) {
        case (1, 2, let patch) where patch >= 1: return .v1Dot2
        case (1, 3, _): return .v1Dot3
        case (1, .some(0...2), _):
            throw EngineError(
                .unsupported, "\(path) is runtime \(version); runtime 1.2.1 or newer is required (1.2.0 has another ABI)")
        default:
            throw EngineError(
                .unsupported,
                "\(path) is runtime \(version), which this build does not know (it speaks 1.2.1–1.2.3 and 1.3.x)")
        }
    }

    private static let marker = Array("rkllm-runtime version: ".utf8)

    /// Every distinct `X.Y.Z` that follows the marker the runtime prints at init.
    static func versionStrings(in data: Data) -> Set<String> {
        var versions: Set<String> = []
        data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            let bytes = raw.bindMemory(to: UInt8.self)
            guard bytes.count > marker.count else { return }
            var index = 0
            let last = bytes.count - marker.count
            while index <= last {
                guard bytes[index] == marker[0], bytes[index..<(index + marker.count)].elementsEqual(marker) else {
                    index += 1
                    continue
                }
                var end = index + marker.count
                if end < bytes.count, bytes[end] == UInt8(ascii: "v") { end += 1 }
                let start = end
                while end < bytes.count, (bytes[end] >= 0x30 && bytes[end] <= 0x39) || bytes[end] == UInt8(ascii: ".") {
                    end += 1
                }
                // A pre-release suffix (`1.2.1b1`, `1.3.0-rc1`) is part of the version: without it a beta
                // would pass for the release it precedes.
                let numberEnd = end
                while end < bytes.count,
                    (bytes[end] >= 0x30 && bytes[end] <= 0x39) || (bytes[end] | 0x20 >= 0x61 && bytes[end] | 0x20 <= 0x7A)
                        || bytes[end] == UInt8(ascii: "-") || bytes[end] == UInt8(ascii: "+")
                {
                    end += 1
                }
                let number = String(decoding: bytes[start..<numberEnd], as: UTF8.self)
                let text = String(decoding: bytes[start..<end], as: UTF8.self)
                if number.split(separator: ".").count == 3, !number.hasSuffix(".") { versions.insert(text) }
                index = end
            }
        }
        return versions
    }

    /// A 64-bit little-endian ELF shared object for this CPU, so a wrong-architecture file gets a clear
    /// message instead of dlopen's "wrong ELF class".
    private static func checkELF(_ data: Data, path: String) throws(EngineError) {
        guard data.count >= 20, data.prefix(4).elementsEqual([0x7F, 0x45, 0x4C, 0x46]) else {
            throw EngineError(.libraryNotFound, "\(path) is not an ELF shared library")
        }
        let machine = UInt16(data[data.startIndex + 18]) | UInt16(data[data.startIndex + 19]) << 8
        let names: [UInt16: String] = [3: "x86 (32-bit)", 40: "ARM (32-bit)", 62: "x86_64", 183: "aarch64"]
        #if arch(arm64)
            let host: UInt16 = 183
        #elseif arch(x86_64)
            let host: UInt16 = 62
        #else
            let host: UInt16 = 0
        #endif
        guard data[data.startIndex + 4] == 2, host == 0 || machine == host else {
            throw EngineError(
                .libraryNotFound,
                "\(path) is built for \(names[machine] ?? "machine \(machine)"), not for this \(names[host] ?? "CPU")")
        }
    }
}
