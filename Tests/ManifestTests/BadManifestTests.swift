import Foundation
import Manifest
import Testing

/// Every manifest under Fixtures/bad has an `.expected` file holding its exact diagnostics, in order.
/// Set UPDATE_FIXTURES=1 to rewrite them after a deliberate change — then read the diff.
struct BadManifestTests {
    static let cases = Fixtures.files(in: "bad")

    @Test func corpusIsLargeAndComplete() {
        #expect(Self.cases.count >= 30)
        for url in Self.cases {
            let expected = url.deletingPathExtension().appendingPathExtension("expected")
            #expect(FileManager.default.fileExists(atPath: expected.path), "\(url.lastPathComponent) has no .expected file")
        }
    }

    @Test(arguments: cases)
    func diagnosticsMatchExactly(_ url: URL) throws {
        let result = try Fixtures.load(url)
        let actual = result.diagnostics.map(\.description).joined(separator: "\n") + "\n"
        let expectedURL = url.deletingPathExtension().appendingPathExtension("expected")
        if ProcessInfo.processInfo.environment["UPDATE_FIXTURES"] == "1" {
            try actual.write(to: expectedURL, atomically: true, encoding: .utf8)
        }
        let expected = try String(contentsOf: expectedURL, encoding: .utf8)
        #expect(actual == expected, "\(url.lastPathComponent)")
        // A manifest with an error is never resolved, so nothing downstream can apply half of it.
        #expect((result.resolved == nil) == result.diagnostics.hasErrors)
        #expect(!result.diagnostics.isEmpty, "\(url.lastPathComponent) should produce diagnostics")
    }
}
