import Foundation
import Testing

struct PlanCommandTests {
    /// A manifest whose model file exists (the manifest itself stands in for it).
    func writeManifest(in directory: URL, extra: String = "") throws -> URL {
        try Data("weights".utf8).write(to: directory.appendingPathComponent("tiny.gguf"))
        let url = directory.appendingPathComponent("device.yaml")
        try """
        apiVersion: rockchipllama/v1
        kind: Device
        metadata: {name: bench}
        \(extra)
        models:
          - source: {path: tiny.gguf}
            aliases: [default]
            promptCaches: [{name: support, system: You help.}]
          - source: {huggingface: {repo: org/qwen, file: Qwen_Qwen3-0.6B-w8a8-opt0-hybrid0-npu3-ctx16384-rk3588.rkllm}}
        endpoints:
          - {name: lan, listen: "0.0.0.0:8080", apis: [openai]}
        """.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    @Test func planAgainstAnEmptyStateDirectoryPrintsEveryAction() throws {
        let directory = try RunnerProcess.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let manifest = try writeManifest(in: directory)
        let state = directory.appendingPathComponent("state").path
        let output = try RunnerProcess.run(["plan", manifest.path, "--state-dir", state])
        #expect(output.status == 0, "\(output.stderr)")
        #expect(
            output.stdout == """
                Plan for 'bench' (state: \(state)):
                  = device clocks       untouched
                  = model tiny          present: \(directory.path)/tiny.gguf
                  + model qwen3-0.6b    download org/qwen/Qwen_Qwen3-0.6B-w8a8-opt0-hybrid0-npu3-ctx16384-rk3588.rkllm at main
                  + cache tiny/support  build prompt cache
                  + worker tiny         start: llamacpp, context 4096, 4 slots
                  + worker qwen3-0.6b   start: rkllm, context 16384, npu domain 0
                  + endpoint lan        listen 0.0.0.0:8080 (openai)
                Plan: 5 to add, 0 to change, 0 to remove, 2 unchanged.

                """)
    }

    @Test func planAsJSON() throws {
        let directory = try RunnerProcess.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let manifest = try writeManifest(in: directory)
        let output = try RunnerProcess.run(["plan", manifest.path, "--json", "--state-dir", directory.path])
        #expect(output.status == 0)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(output.stdout.utf8)) as? [String: Any])
        let actions = try #require(json["actions"] as? [[String: Any]])
        #expect(actions.count == 7)
        #expect(
            actions[4]["change"] as? String == "+" && actions[4]["resource"] as? String == "worker"
                && actions[4]["name"] as? String == "tiny")
        #expect(json["problems"] as? [String] == [])
    }

    @Test func aMissingLocalModelFileFailsThePlan() throws {
        let directory = try RunnerProcess.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let manifest = try writeManifest(in: directory)
        try FileManager.default.removeItem(at: directory.appendingPathComponent("tiny.gguf"))
        let output = try RunnerProcess.run(["plan", manifest.path, "--state-dir", directory.path])
        #expect(output.status == 1)
        #expect(output.stderr.contains("warning: model file '\(directory.path)/tiny.gguf' does not exist yet"))
        #expect(output.stderr.hasSuffix("error: model tiny: local file \(directory.path)/tiny.gguf does not exist\n"))
    }

    @Test func aFleetManifestForOtherDevicesIsLeftAlone() throws {
        let directory = try RunnerProcess.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let manifest = try writeManifest(in: directory, extra: "selector: {labels: {site: lab}}")
        let elsewhere = try RunnerProcess.run(["plan", manifest.path, "--state-dir", directory.path, "--label", "site=home"])
        #expect(elsewhere.status == 0)
        #expect(elsewhere.stdout.contains("is not selected by manifest 'bench'; nothing to do"))
        let here = try RunnerProcess.run(["plan", manifest.path, "--state-dir", directory.path, "--label", "site=lab"])
        #expect(here.status == 0 && here.stdout.hasPrefix("Plan for 'bench'"))
    }
}
