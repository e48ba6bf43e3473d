import Foundation
import Manifest

/// Test fixtures live next to this file; paths are derived from it so tests run from any directory.
enum Fixtures {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// Files "exist" unless their path mentions "missing", so fixtures do not depend on this machine.
    static let environment = ManifestLoader.Environment(fileExists: { !$0.contains("missing") })

    static func files(in subdirectory: String, withExtension pathExtension: String = "yaml") -> [URL] {
        let folder = directory.appendingPathComponent(subdirectory)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return names.filter { $0.hasSuffix(".\(pathExtension)") }.sorted().map { folder.appendingPathComponent($0) }
    }

    /// Loads a fixture as if it were `/manifests/<name>`, so resolved paths are the same everywhere.
    static func load(_ url: URL) throws -> ManifestLoader.Result {
        let text = try String(contentsOf: url, encoding: .utf8)
        return ManifestLoader(environment: environment).load(text: text, file: url.lastPathComponent, baseDirectory: "/manifests")
    }
}
