import Foundation
import Testing
import Worker

/// `runner plan / apply / status / delete` on a fake RK3588: a sysfs-shaped tree in a temp dir, where each
/// current-frequency file is a symlink to the file the runner writes (as the kernel would report it).
@Suite(.serialized)
struct DeviceLifecycleTests {
    let directory: URL
    var root: URL { directory.appendingPathComponent("root") }
    var state: URL { directory.appendingPathComponent("state") }

    init() throws { directory = try RunnerProcess.temporaryDirectory() }

    func write(_ path: String, _ text: String) throws {
        let url = root.appendingPathComponent(path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url)
    }

    func read(_ path: String) throws -> String {
        try String(contentsOf: root.appendingPathComponent(path), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func link(_ path: String, to target: String) throws {
        try FileManager.default.createSymbolicLink(
            atPath: root.appendingPathComponent(path).path, withDestinationPath: root.appendingPathComponent(target).path)
    }

    func makeRK3588() throws {
        try write("proc/device-tree/compatible", "radxa,rock-5b\u{0}rockchip,rk3588\u{0}")
        for (policy, top) in [("policy0", "1800000"), ("policy4", "2352000"), ("policy6", "2352000")] {
            let base = "sys/devices/system/cpu/cpufreq/\(policy)"
            try write("\(base)/scaling_governor", "schedutil\n")
            try write("\(base)/scaling_available_governors", "userspace schedutil performance\n")
            try write("\(base)/scaling_available_frequencies", "408000 816000 \(top)\n")
            try write("\(base)/scaling_setspeed", "816000\n")
            try link("\(base)/scaling_cur_freq", to: "\(base)/scaling_setspeed")
        }
        for (device, top) in [("fdab0000.npu", "1000000000"), ("fb000000.gpu", "1000000000"), ("dmc", "2112000000")] {
            let base = "sys/class/devfreq/\(device)"
            try write("\(base)/governor", "simple_ondemand\n")
            try write("\(base)/available_governors", "userspace simple_ondemand\n")
            try write("\(base)/available_frequencies", "300000000 \(top)\n")
            try write("\(base)/userspace/set_freq", "300000000\n")
            try link("\(base)/cur_freq", to: "\(base)/userspace/set_freq")
        }
        for cpu in 0...7 { try write("sys/devices/system/cpu/cpu\(cpu)/cpuidle/state1/disable", "0\n") }
    }

    func manifest() throws -> URL {
        let model =
            ProcessInfo.processInfo.environment["RUNNER_TEST_MODEL"]
            ?? RunnerProcess.repository.appendingPathComponent(".deps/models/SmolLM2-135M-Instruct.Q4_1.gguf").path
        let url = directory.appendingPathComponent("board.yaml")
        try """
        apiVersion: rockchipllama/v1
        kind: Device
        metadata: {name: board}
        device: {soc: auto, clocks: pinned}
        models:
          - {name: smollm2, source: {path: \(model)}, context: 256, llamacpp: {threads: 1, parallel: 1}}
        endpoints:
          - {name: local, listen: "127.0.0.1:18082"}
        """.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    var environment: [String: String] {
        var environment = ["PATH": "/usr/bin:/bin", "HOME": NSTemporaryDirectory(), "RUNNER_SYSFS_ROOT": root.path]
        environment["RUNNER_LLAMA_LIBRARY"] = LlamaLibraryLocator.locate(
            manifestLibrary: nil, workingDirectory: RunnerProcess.repository.path)
        return environment
    }

    func status() throws -> [String: Any] {
        let output = try RunnerProcess.run(["status", "--json", "--state-dir", state.path], environment: environment)
        return try JSONSerialization.jsonObject(with: Data(output.stdout.utf8)) as? [String: Any] ?? [:]
    }

    @Test func clocksArePlannedPinnedWatchedAndRestoredByDelete() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        try makeRK3588()
        let file = try manifest()
        let plan = try RunnerProcess.run(["plan", file.path, "--state-dir", state.path], environment: environment)
        #expect(plan.stdout.contains("~ device cpu policy4"), "\(plan.stdout)")
        #expect(plan.stdout.contains("schedutil 816000 → userspace 2352000"))
        #expect(try read("sys/devices/system/cpu/cpufreq/policy4/scaling_governor") == "schedutil", "plan writes nothing")

        let apply = try RunnerProcess.start(["apply", file.path, "--state-dir", state.path], environment: environment)
        defer { if apply.process.isRunning { kill(apply.process.processIdentifier, SIGKILL) } }
        let client = WorkerClient(socketPath: state.appendingPathComponent("workers/smollm2.sock").path)
        let deadline = ContinuousClock.now + .seconds(60)
        let applied = state.appendingPathComponent("applied.json").path
        while !FileManager.default.fileExists(atPath: applied), ContinuousClock.now < deadline, apply.process.isRunning {
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(try await client.health().status == "ok")
        #expect(try read("sys/devices/system/cpu/cpufreq/policy4/scaling_governor") == "userspace")
        #expect(try read("sys/devices/system/cpu/cpufreq/policy4/scaling_setspeed") == "2352000")
        #expect(try read("sys/class/devfreq/dmc/userspace/set_freq") == "2112000000")
        #expect(try read("sys/devices/system/cpu/cpu7/cpuidle/state1/disable") == "1")

        var report = try status()
        let clocks = try #require(report["clocks"] as? [String: Any])
        #expect(clocks["pinned"] as? Bool == true)
        #expect((clocks["soc"] as? [String: Any])?["soc"] as? String == "rk3588")
        #expect((clocks["drift"] as? [Any])?.isEmpty == true)
        let models = try #require(report["models"] as? [[String: Any]])
        #expect((models.first?["worker"] as? [String: Any])?["running"] as? Bool == true)
        #expect(((report["endpoints"] as? [[String: Any]])?.first)?["ready"] as? Bool == true)

        // Something else changes a governor: status reports the drift.
        try write("sys/devices/system/cpu/cpufreq/policy0/scaling_governor", "performance\n")
        report = try status()
        let drift = try #require((report["clocks"] as? [String: Any])?["drift"] as? [[String: Any]])
        #expect(drift.map { $0["knob"] as? String } == ["cpu policy0"])

        // delete stops the running apply and its worker and restores every original value.
        let deleted = try RunnerProcess.run(["delete", file.path, "--state-dir", state.path], environment: environment)
        #expect(deleted.status == 0, "\(deleted.stderr)")
        #expect(deleted.stdout.contains("restored"))
        #expect(deleted.stdout.contains("deleted 'board'"))
        #expect(!apply.process.isRunning)
        #expect(try read("sys/devices/system/cpu/cpufreq/policy4/scaling_governor") == "schedutil")
        // (Back on its own governor the kernel ignores scaling_setspeed, so only a `userspace` original has its
        // frequency written back.)
        #expect(try read("sys/class/devfreq/dmc/governor") == "simple_ondemand")
        #expect(try read("sys/devices/system/cpu/cpu7/cpuidle/state1/disable") == "0")
        let after = try RunnerProcess.run(["status", "--state-dir", state.path], environment: environment)
        #expect(after.stdout.contains("nothing applied yet"))
    }
}
