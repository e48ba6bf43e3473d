import Foundation
import Testing

@testable import Reconciler

/// A repository on disk, driven with the git CLI as a person would.
struct GitRepository {
    let directory: URL

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("repo-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try git("init", "--quiet", "--initial-branch=main")
    }

    var url: String { "file://\(directory.path)" }

    @discardableResult
    func git(_ arguments: String...) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments =
            ["git", "-C", directory.path, "-c", "user.name=test", "-c", "user.email=test@example.com"] + arguments
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw CocoaError(.fileWriteUnknown) }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Writes the files and commits them; returns the commit.
    @discardableResult
    func commit(_ files: [String: String], message: String = "change") throws -> String {
        for (path, text) in files {
            let url = directory.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: url, atomically: true, encoding: .utf8)
        }
        try git("add", "--all")
        try git("commit", "--quiet", "-m", message)
        return try git("rev-parse", "HEAD")
    }

    func remove() { try? FileManager.default.removeItem(at: directory) }
}

struct GitManifestSourceTests {
    @Test func followsTheBranchAndGoesBackToALastGoodCommit() async throws {
        let repository = try GitRepository()
        let state = StateDirectory(root: FileManager.default.temporaryDirectory.appendingPathComponent("state-\(UUID())"))
        defer {
            repository.remove()
            try? FileManager.default.removeItem(at: state.root)
        }
        let first = try repository.commit(["fleet/a.yaml": "version: 1\n", "fleet/prompt.txt": "one\n"])
        let source = GitManifestSource(
            url: repository.url, branch: "main", path: "fleet/a.yaml", pollInterval: .seconds(1), state: state)

        let v1 = try await source.current()
        #expect(v1.commit == first)
        #expect(try String(contentsOfFile: v1.file, encoding: .utf8) == "version: 1\n")
        #expect(try await source.current() == v1, "nothing new: the same revision")

        // A commit that changes only a file the manifest refers to is a new revision too.
        let second = try repository.commit(["fleet/prompt.txt": "two\n"])
        let v2 = try await source.current()
        #expect(v2.commit == second && v2.sha256 == v1.sha256 && v2.key != v1.key)

        let third = try repository.commit(["fleet/a.yaml": "version: 3\n", "fleet/prompt.txt": "three\n"])
        let v3 = try await source.current()
        #expect(v3.commit == third && v3.sha256 != v1.sha256)

        // Rejected: the checkout goes back, so relative files are the good commit's again.
        try await source.reinstate(v2)
        let prompt = source.checkout.appendingPathComponent("fleet/prompt.txt")
        #expect(try String(contentsOf: prompt, encoding: .utf8) == "two\n")
        #expect(source.record.kind == .git && source.record.url == repository.url && source.record.path == "fleet/a.yaml")
    }

    @Test func aRepositoryThatCannotBeFetchedIsAnErrorWithGitsMessage() async throws {
        let state = StateDirectory(root: FileManager.default.temporaryDirectory.appendingPathComponent("state-\(UUID())"))
        defer { try? FileManager.default.removeItem(at: state.root) }
        let source = GitManifestSource(
            url: "file:///nonexistent/repository", branch: "main", path: "a.yaml", pollInterval: .seconds(1), state: state)
        await #expect {
            _ = try await source.current()
        } throws: { error in
            (error as? ReconcilerError)?.code == .gitFailed && "\(error)".contains("git clone failed")
        }
    }
}
