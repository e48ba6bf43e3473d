import Foundation
import Manifest
import Testing

@testable import Reconciler

/// An apply refuses, before anything changes, a llama.cpp model whose library cannot be opened; the
/// reason names the path and what dlopen said.
struct LibraryCheckTests {
    func refusals(library: String?) throws -> [String] {
        let runtimes = library.map { "runtimes: {llamacpp: {library: \($0)}}" } ?? ""
        let desired = try resolve(
            """
            apiVersion: rockchipllama/v1
            kind: Device
            metadata: {name: board}
            \(runtimes)
            models: [{name: tiny, source: {path: /models/tiny.gguf}}]
            endpoints: []
            """)
        return ApplyExecutor.unsupported(desired, plan: Plan(manifest: "board", actions: [], problems: []))
    }

    @Test func aMissingLibraryIsRefused() throws {
        let path = "/nonexistent-\(UUID().uuidString)/libllama.so"
        #expect(try refusals(library: path) == ["model tiny: llama.cpp library: \(path) does not exist"])
    }

    @Test func aFileThatIsNotALibraryIsRefusedWithDlopensReason() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("libllama-\(UUID().uuidString).so")
        try "not a library".write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let reasons = try refusals(library: file.path)
        #expect(reasons.count == 1)
        #expect(reasons.first?.hasPrefix("model tiny: llama.cpp library: cannot open \(file.path): ") == true, "\(reasons)")
    }

    @Test func aLibraryWithoutLlamaIsRefused() throws {
        // A real shared library that every Linux machine has, but not llama.cpp's.
        let libm = ["/lib/x86_64-linux-gnu/libm.so.6", "/lib/aarch64-linux-gnu/libm.so.6", "/usr/lib/libm.so.6"]
        let path = try #require(libm.first { FileManager.default.fileExists(atPath: $0) })
        #expect(
            try refusals(library: path) == [
                "model tiny: llama.cpp library: \(path) is not llama.cpp's library (it has no llama_backend_init)"
            ])
    }

    @Test func theInstalledLibraryIsAccepted() throws {
        // Found as a worker would find it: RUNNER_LLAMA_LIBRARY (set by scripts/env.sh) or `.deps`.
        #expect(try refusals(library: nil) == [])
    }
}
