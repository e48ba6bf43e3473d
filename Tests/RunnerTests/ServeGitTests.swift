import Foundation
import TestSupport
import Testing

/// GitOps: `runner serve --git` on a repository on disk. A new commit is applied, a bad one is rejected
/// with its diagnostics and the last good one keeps serving, a commit that selects other devices stops
/// nothing, and `applied-source.json` names the commit that runs.
@Suite(.serialized)
struct ServeGitTests {
    let port = 18092

    /// A repository in a temp dir, committed to with the git CLI.
    struct Repository {
        let directory: URL

        init(in parent: URL) throws {
            directory = parent.appendingPathComponent("fleet-repo")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try git("init", "--quiet", "--initial-branch=main")
        }

        @discardableResult
        func git(_ arguments: String...) throws -> String {
            let output = try RunnerProcess.run(
                ["-C", directory.path, "-c", "user.name=fleet", "-c", "user.email=fleet@example.com"] + arguments,
                executable: URL(fileURLWithPath: "/usr/bin/git"))
            guard output.status == 0 else { throw CocoaError(.fileWriteUnknown, userInfo: ["stderr": output.stderr]) }
            return output.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        }

        func commit(_ manifest: String) throws -> String {
            let file = directory.appendingPathComponent("devices/board.yaml")
            try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            try manifest.write(to: file, atomically: true, encoding: .utf8)
            try git("add", "--all")
            try git("commit", "--quiet", "-m", "update")
            return try git("rev-parse", "HEAD")
        }
    }

    func manifest(aliases: [String] = [], selector: String = "", context: String = "256") -> String {
        """
        apiVersion: rockchipllama/v1
        kind: Device
        metadata: {name: fleet-board}
        \(selector)
        models:
          - name: alpha
            aliases: [\(aliases.joined(separator: ", "))]
            source: {path: \(ServedDevice.model)}
            context: \(context)
            llamacpp: {threads: 1, parallel: 1}
        endpoints:
          - {name: local, listen: "127.0.0.1:\(port)"}
        """
    }

    @Test func newCommitsAreAppliedAndBadOnesRejected() async throws {
        let device = try ServedDevice()
        defer { device.remove() }
        let repository = try Repository(in: device.directory)
        let first = try repository.commit(manifest())
        let serve = try RunnerProcess.start(
            [
                "serve", "--git", "file://\(repository.directory.path)", "--path", "devices/board.yaml", "--fetch-interval",
                "0.3",
                "--interval", "0.3", "--state-dir", device.state.path,
            ], environment: ServedDevice.environment)
        defer { if serve.process.isRunning { kill(serve.process.processIdentifier, SIGKILL) } }
        try await eventually("the first commit to serve") { try Curl.chat(port: port, model: "alpha").status == 200 }
        #expect(device.appliedSource()?["commit"] as? String == first)
        #expect(device.appliedSource()?["kind"] as? String == "git")
        let alpha = try #require(device.workerPid("alpha"))

        // A new commit: a new alias, applied without a restart.
        let second = try repository.commit(manifest(aliases: ["prod"]))
        try await eventually("the second commit") { device.appliedSource()?["commit"] as? String == second }
        #expect(try Curl.chat(port: port, model: "prod").status == 200)
        #expect(device.workerPid("alpha") == alpha)

        // A bad commit: rejected with the file's position in the repository; the second keeps serving.
        let bad = try repository.commit(manifest(aliases: ["prod"], context: "-1"))
        try await eventually("the rejection") {
            (device.appliedSource()?["rejected"] as? [String: Any])?["commit"] as? String == bad
        }
        let rejected = try #require(device.appliedSource()?["rejected"] as? [String: Any])
        #expect(rejected["reason"] as? String == "invalid")
        #expect((rejected["diagnostics"] as? [String])?.first?.hasPrefix("devices/board.yaml:9:14: error:") == true)
        #expect(device.appliedSource()?["commit"] as? String == second)
        #expect(serve.output().stderr.contains("devices/board.yaml:9:14: error:"))
        #expect(try Curl.chat(port: port, model: "prod").status == 200)
        #expect(device.workerPid("alpha") == alpha)

        // A commit for other devices: nothing stops.
        let elsewhere = try repository.commit(manifest(selector: "selector: {hostnames: [\"no-such-host-*\"]}"))
        try await eventually("the commit for other devices") {
            (device.appliedSource()?["rejected"] as? [String: Any])?["commit"] as? String == elsewhere
        }
        #expect((device.appliedSource()?["rejected"] as? [String: Any])?["reason"] as? String == "not-selected")
        #expect(try Curl.chat(port: port, model: "prod").status == 200)

        // A good commit again: applied (context changed, so alpha restarts), the rejection cleared.
        let fixed = try repository.commit(manifest(context: "512"))
        try await eventually("the fixed commit") { device.appliedSource()?["commit"] as? String == fixed }
        #expect(device.appliedSource()?["rejected"] == nil)
        #expect(device.workerPid("alpha") != alpha)
        #expect(try Curl.chat(port: port, model: "alpha").status == 200)
        #expect(try Curl.chat(port: port, model: "prod").status == 404)

        // runner status shows the commit.
        let status = try RunnerProcess.run(["status", "--state-dir", device.state.path], environment: ServedDevice.environment)
        #expect(status.stdout.contains("source: git file://\(repository.directory.path) at \(fixed.prefix(12))"))
        #expect(try await serve.terminate() == 0)
    }

    /// A manifest file with `source.git` bootstraps a device: it is served while the repository cannot be
    /// read, and the repository's commit replaces it once it can.
    @Test func theBootstrapFileServesUntilTheRepositoryAppears() async throws {
        let device = try ServedDevice()
        defer { device.remove() }
        let repositoryPath = device.directory.appendingPathComponent("fleet-repo")
        let bootstrap = device.directory.appendingPathComponent("bootstrap.yaml")
        let source = """

            source:
              git: {url: "file://\(repositoryPath.path)", path: devices/board.yaml, interval: 1s}
            """
        try (manifest() + source).write(to: bootstrap, atomically: true, encoding: .utf8)
        let serve = try RunnerProcess.start(
            ["serve", bootstrap.path, "--fetch-interval", "0.3", "--interval", "0.3", "--state-dir", device.state.path],
            environment: ServedDevice.environment)
        defer { if serve.process.isRunning { kill(serve.process.processIdentifier, SIGKILL) } }
        try await eventually("the bootstrap file to serve") { try Curl.chat(port: port, model: "alpha").status == 200 }
        #expect(
            serve.output().stdout.contains(
                "serving \(bootstrap.path) ('fleet-board') until file://\(repositoryPath.path) can be read"))
        #expect(try Curl.chat(port: port, model: "prod").status == 404)

        // The repository appears with a commit: cloned and applied.
        let repository = try Repository(in: device.directory)
        let commit = try repository.commit(manifest(aliases: ["prod"]))
        try await eventually("the repository's commit") { device.appliedSource()?["commit"] as? String == commit }
        #expect(try Curl.chat(port: port, model: "prod").status == 200)
        #expect(try await serve.terminate() == 0)
    }
}
