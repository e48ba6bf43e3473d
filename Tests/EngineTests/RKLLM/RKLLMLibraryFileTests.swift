import Foundation
import Testing

@testable import Engine

/// ABI detection from the bytes of a library file, on files written by the test.
@Suite struct RKLLMLibraryFileTests {
    #if arch(arm64)
        static let hostMachine: UInt16 = 183
    #else
        static let hostMachine: UInt16 = 62
    #endif

    /// A file that starts like a 64-bit ELF object for `machine` and holds `strings` further in.
    private func library(_ strings: [String], machine: UInt16 = hostMachine) throws -> String {
        var bytes: [UInt8] = [0x7F, 0x45, 0x4C, 0x46, 2, 1, 1] + [UInt8](repeating: 0, count: 11)
        bytes += [UInt8(machine & 0xFF), UInt8(machine >> 8)] + [UInt8](repeating: 0, count: 44)
        for string in strings { bytes += Array(string.utf8) + [0, 0x13, 0x37] }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("librkllmrt-\(UUID()).so").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    private func refusal(_ path: String, requested: RKLLMRuntimeABI? = nil) -> EngineError? {
        do {
            _ = try RKLLMLibraryFile.inspect(path: path, requested: requested)
            return nil
        } catch {
            return error
        }
    }

    @Test func theVersionStringDecidesTheABI() throws {
        let v13 = try library(["I rkllm: %s", "rkllm-runtime version: 1.3.0"])
        #expect(try RKLLMLibraryFile.inspect(path: v13, requested: nil) == .init(path: v13, version: "1.3.0", abi: .v1Dot3))
        let v12 = try library(["rkllm-runtime version: 1.2.3"])
        #expect(try RKLLMLibraryFile.inspect(path: v12, requested: .v1Dot2).abi == .v1Dot2)
    }

    @Test func aManifestABIThatContradictsTheLibraryIsRefused() throws {
        let v13 = try library(["rkllm-runtime version: 1.3.0"])
        let error = try #require(refusal(v13, requested: .v1Dot2))
        #expect(error.code == .unsupported)
        #expect(error.message.contains("is runtime 1.3.0, which has the 1.3 ABI"))
    }

    @Test func withoutAVersionOnlyTheManifestCanSay() throws {
        let unknown = try library(["nothing to see"])
        #expect(try #require(refusal(unknown)).message.contains("set runtimes.rkllm.abi"))
        let trusted = try RKLLMLibraryFile.inspect(path: unknown, requested: .v1Dot3)
        #expect(trusted == .init(path: unknown, version: nil, abi: .v1Dot3))
    }

    @Test func versionsThisBuildDoesNotSpeakAreRefused() throws {
        #expect(try #require(refusal(try library(["rkllm-runtime version: 1.2.0"]))).message.contains("1.2.1 or newer"))
        #expect(try #require(refusal(try library(["rkllm-runtime version: 1.4.0"]))).message.contains("does not know"))
        let two = try library(["rkllm-runtime version: 1.2.3", "rkllm-runtime version: 1.3.0"])
        #expect(try #require(refusal(two)).message.contains("several runtime versions (1.2.3, 1.3.0)"))
    }

    @Test func aPreReleaseIsRefusedUnlessTheManifestNamesItsABI() throws {
        // 1.2.1b1 is a beta that still has the 1.2.0 layout: its number must not pass for 1.2.1's ABI.
        let beta = try library(["rkllm-runtime version: 1.2.1b1, rknpu driver version: 0.9.8"])
        let refused = try #require(refusal(beta))
        #expect(refused.code == .unsupported)
        #expect(refused.message.contains("is runtime 1.2.1b1, a pre-release"))
        #expect(refused.message.contains("runtimes.rkllm.abi"))
        #expect(
            try RKLLMLibraryFile.inspect(path: beta, requested: .v1Dot2) == .init(path: beta, version: "1.2.1b1", abi: .v1Dot2))
        let candidate = try library(["rkllm-runtime version: 1.3.0-rc1"])
        #expect(try #require(refusal(candidate)).message.contains("is runtime 1.3.0-rc1, a pre-release"))
        #expect(try RKLLMLibraryFile.inspect(path: candidate, requested: .v1Dot3).version == "1.3.0-rc1")
    }

    @Test func missingWrongArchitectureAndNonELFFilesGetClearErrors() throws {
        let missing = try #require(refusal("/nonexistent/librkllmrt.so"))
        #expect(missing.code == .libraryNotFound)
        #expect(missing.message.contains("/nonexistent/librkllmrt.so does not exist"))
        let arm32 = try library(["rkllm-runtime version: 1.3.0"], machine: 40)
        #expect(try #require(refusal(arm32)).message.contains("is built for ARM (32-bit)"))
        let text = FileManager.default.temporaryDirectory.appendingPathComponent("not-a-library-\(UUID()).so").path
        try Data("hello".utf8).write(to: URL(fileURLWithPath: text))
        #expect(try #require(refusal(text)).message.contains("is not an ELF shared library"))
    }
}
