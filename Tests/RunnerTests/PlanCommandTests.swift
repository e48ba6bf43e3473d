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

    /// A device root whose /proc/meminfo says 4 GiB, 2 GiB of it available.
    func writeDeviceRoot(in directory: URL) throws -> URL {
        let root = directory.appendingPathComponent("root")
        try FileManager.default.createDirectory(at: root.appendingPathComponent("proc"), withIntermediateDirectories: true)
        try "MemTotal:        4194304 kB\nMemFree:          524288 kB\nMemAvailable:    2097152 kB\n".write(
            to: root.appendingPathComponent("proc/meminfo"), atomically: true, encoding: .utf8)
        return root
    }

    @Test func planAgainstAnEmptyStateDirectoryPrintsEveryAction() throws {
        let directory = try RunnerProcess.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let manifest = try writeManifest(in: directory)
        let state = directory.appendingPathComponent("state").path
        let root = try writeDeviceRoot(in: directory)
        let output = try RunnerProcess.run(["plan", manifest.path, "--state-dir", state, "--sysfs-root", root.path])
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
                Memory budget: 1.6 GiB (available memory 2 GiB - reserve 410 MiB)
                  tiny        ~64 MiB
                  qwen3-0.6b  unknown until downloaded
                  the models estimated so far need 64 MiB together, within the budget 1.6 GiB; 1 is not known yet

                """)
    }

    /// The real SmolLM2 file under four settings, against a budget that holds some of them at once.
    @Test func theMemorySectionSaysWhatFitsAtOnce() throws {
        let directory = try RunnerProcess.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let model = ServedDevice.model
        let manifest = directory.appendingPathComponent("device.yaml")
        try """
        apiVersion: rockchipllama/v1
        kind: Device
        metadata: {name: bench}
        device: {memory: {budget: 800MiB}}
        models:
          - {name: small, source: {path: \(model)}, context: 512, llamacpp: {parallel: 1}, lifecycle: {preload: false}}
          - {name: default, source: {path: \(model)}, lifecycle: {pinned: true}}
          - {name: small2, source: {path: \(model)}, context: 512, llamacpp: {parallel: 1}}
          - {name: long, source: {path: \(model)}, context: 8192}
          - {name: remote, upstream: {url: "http://10.0.0.7:8080/v1"}}
        """.write(to: manifest, atomically: true, encoding: .utf8)
        let output = try RunnerProcess.run(["plan", manifest.path, "--state-dir", directory.path])
        #expect(output.status == 0, "\(output.stderr)")
        // 98 MB of weights + 23040 bytes of KV per token × context × slots + 64 MiB for the process.
        let memory = output.stdout.split(separator: "\n").drop { !$0.hasPrefix("Memory budget:") }
        #expect(
            memory.joined(separator: "\n") == """
                Memory budget: 800 MiB (device.memory.budget)
                  small    ~169 MiB
                  default  ~518 MiB (pinned)
                  small2   ~169 MiB
                  long     ~878 MiB, more than the budget: it can never load
                  the models need 1.7 GiB together; the budget is 800 MiB: at most default and small2 load at once; the others load on demand and evict idle ones
                """)

        let json = try RunnerProcess.run(["plan", manifest.path, "--json", "--state-dir", directory.path])
        let plan = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let section = try #require(plan["memory"] as? [String: Any])
        #expect(section["budget"] as? Int == 800 << 20 && section["budgetSource"] as? String == "manifest")
        #expect(section["fitsAtOnce"] as? Bool == false)
        #expect(section["loadedAtOnce"] as? [String] == ["default", "small2"])
        #expect(section["tooLarge"] as? [String] == ["long"])
        let models = try #require(section["models"] as? [[String: Any]])
        #expect(models.map { $0["name"] as? String } == ["small", "default", "small2", "long"])
        #expect(models[0]["estimate"] as? Int == 177_267_776)
        #expect(models[1]["pinned"] as? Bool == true)
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
        let memory = try #require(json["memory"] as? [String: Any])
        #expect(memory["budgetSource"] as? String == "machine")
        #expect((memory["models"] as? [[String: Any]])?.map { $0["note"] as? String } == [nil, "unknown until downloaded"])
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
