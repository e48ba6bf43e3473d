import Foundation
import TestSupport
import Testing

/// The README's first commands, as printed, against the embedded default manifest: they must answer, and
/// answer briefly (dev.yaml's `maxTokens` bounds an answer a small model would otherwise run on with).
@Suite(.serialized)
struct ReadmeExamplesTests {
    static let port = 18_094

    /// dev.yaml with its model path made absolute and its port moved off 8080, next to nothing else.
    func devManifest(in directory: URL) throws -> (manifest: URL, maxTokens: Int) {
        let original = RunnerProcess.repository.appendingPathComponent("deploy/manifests/dev.yaml")
        var text = try String(contentsOf: original, encoding: .utf8)
        text = text.replacingOccurrences(of: "../../.deps/models/SmolLM2-135M-Instruct.Q4_1.gguf", with: ServedDevice.model)
        text = text.replacingOccurrences(of: "127.0.0.1:8080", with: "127.0.0.1:\(Self.port)")
        #expect(text.contains(ServedDevice.model) && text.contains(":\(Self.port)"), "dev.yaml changed shape")
        let maxTokens = try #require(
            text.split(separator: "\n").first { $0.trimmingCharacters(in: .whitespaces).hasPrefix("maxTokens:") }
                .flatMap { Int($0.split(separator: ":").last!.trimmingCharacters(in: .whitespaces)) },
            "dev.yaml sets maxTokens")
        let manifest = directory.appendingPathComponent("dev.yaml")
        try text.write(to: manifest, atomically: true, encoding: .utf8)
        return (manifest, maxTokens)
    }

    /// The README's `curl` lines aimed at the default endpoint.
    func readmeCommands() throws -> [String] {
        let readme = try String(
            contentsOf: RunnerProcess.repository.appendingPathComponent("README.md"), encoding: .utf8)
        return readme.split(separator: "\n").map(String.init).filter { $0.hasPrefix("curl -s http://127.0.0.1:8080/") }
    }

    func run(_ command: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        // -m bounds the wait: an answer that runs on for minutes fails here instead of hanging the suite.
        process.arguments = [
            "-c",
            command.replacingOccurrences(of: "curl -s ", with: "curl -s -m 60 ")
                .replacingOccurrences(of: "127.0.0.1:8080", with: "127.0.0.1:\(Self.port)"),
        ]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(command) exited with \(process.terminationStatus)")
        return String(decoding: data, as: UTF8.self)
    }

    @Test func theReadmesExamplesAnswerBriefly() async throws {
        let directory = try RunnerProcess.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let (manifest, maxTokens) = try devManifest(in: directory)
        #expect(maxTokens <= 512, "an answer bounded to seconds on a 2-core board")
        let commands = try readmeCommands()
        #expect(commands.count >= 2, "the README shows an OpenAI and an Ollama example")

        let apply = try RunnerProcess.start(
            ["apply", manifest.path, "--state-dir", directory.appendingPathComponent("state").path],
            environment: ServedDevice.environment)
        defer { if apply.process.isRunning { kill(apply.process.processIdentifier, SIGKILL) } }
        try await eventually("dev.yaml's model to be ready", timeout: .seconds(120)) {
            (try? Curl.request("http://127.0.0.1:\(Self.port)/readyz").status) == 200
        }

        for command in commands {
            let body = try run(command)
            let json = try #require(
                try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any], "\(command) answered \(body)")
            if command.contains("/v1/chat/completions") {
                let choice = try #require((json["choices"] as? [[String: Any]])?.first, "\(body)")
                let text = (choice["message"] as? [String: Any])?["content"] as? String ?? ""
                #expect(!text.isEmpty)
                let used = (json["usage"] as? [String: Any])?["completion_tokens"] as? Int ?? .max
                #expect(used <= maxTokens)
            } else if command.contains("/api/chat") {
                let text = (json["message"] as? [String: Any])?["content"] as? String ?? ""
                #expect(!text.isEmpty && json["done"] as? Bool == true)
                #expect((json["eval_count"] as? Int ?? .max) <= maxTokens)
            } else {
                Issue.record("the README shows a command this test does not check: \(command)")
            }
        }
        #expect(try await apply.terminate() == 0)
    }
}
