import Foundation
import TestSupport
import Testing

/// `runner serve FILE` follows edits of FILE: only changed models restart, removed ones stop and answer 404,
/// added ones serve, an invalid edit is rejected with its diagnostics; model files and clocks changed
/// behind its back are put right.
@Suite(.serialized)
struct ServeManifestTests {
    let port = 18091

    func model(_ name: String, path: String = ServedDevice.model, extra: String = "") -> String {
        """
          - name: \(name)
            source: {path: \(path)}
            context: 256
            llamacpp: {threads: 1, parallel: 1}\(extra)

        """
    }

    func write(_ models: [String], to url: URL, port: Int, device: String = "") throws {
        try """
        apiVersion: rockchipllama/v1
        kind: Device
        metadata: {name: edited}
        \(device)
        models:
        \(models.joined())
        endpoints:
          - {name: local, listen: "127.0.0.1:\(port)"}
        """.write(to: url, atomically: true, encoding: .utf8)
    }

    @Test func editsRestartOnlyWhatChangedAndABadEditIsRejected() async throws {
        let device = try ServedDevice()
        defer { device.remove() }
        let file = device.directory.appendingPathComponent("device.yaml")
        try write([model("alpha"), model("beta")], to: file, port: port)
        let serve = try RunnerProcess.start(
            ["serve", file.path, "--state-dir", device.state.path, "--interval", "0.3"], environment: ServedDevice.environment)
        defer { if serve.process.isRunning { kill(serve.process.processIdentifier, SIGKILL) } }
        try await eventually("both models to answer") {
            try Curl.chat(port: port, model: "alpha").status == 200 && Curl.chat(port: port, model: "beta").status == 200
        }
        let alpha = try #require(device.workerPid("alpha"))
        let beta = try #require(device.workerPid("beta"))

        // Beta's sampling changes: beta restarts, alpha does not.
        try write([model("alpha"), model("beta", extra: "\n    sampling: {temperature: 0.2}")], to: file, port: port)
        try await eventually("beta to restart") {
            guard let pid = device.workerPid("beta"), pid != beta else { return false }
            return try Curl.chat(port: port, model: "beta").status == 200
        }
        #expect(device.workerPid("alpha") == alpha)

        // Beta goes, alpha gains an alias: beta's worker stops and it is unknown; the alias answers at once.
        try write([model("alpha", extra: "\n    aliases: [first]")], to: file, port: port)
        try await eventually("beta to stop") { device.workerPid("beta") == nil }
        // The endpoints follow the new version right after its workers change.
        try await eventually("the alias to answer") { try Curl.chat(port: port, model: "first").status == 200 }
        #expect(try Curl.chat(port: port, model: "beta").status == 404)
        #expect(device.workerPid("alpha") == alpha, "an alias needs no restart")
        let listed = try Curl.request("http://127.0.0.1:\(port)/v1/models").body
        #expect(listed.contains(#""id":"alpha""#) && !listed.contains(#""id":"beta""#))

        // Gamma comes, from a copy of the model file.
        let copy = device.directory.appendingPathComponent("gamma.gguf")
        try FileManager.default.copyItem(at: URL(fileURLWithPath: ServedDevice.model), to: copy)
        try write([model("alpha", extra: "\n    aliases: [first]"), model("gamma", path: copy.path)], to: file, port: port)
        try await eventually("gamma to serve") { try Curl.chat(port: port, model: "gamma").status == 200 }
        let gamma = try #require(device.workerPid("gamma"))

        // An invalid edit: rejected with its position, and everything keeps serving.
        let good = try String(contentsOf: file, encoding: .utf8)
        let bad = good.replacingOccurrences(of: "context: 256", with: "context: lots")
        try bad.write(to: file, atomically: true, encoding: .utf8)
        let line = 1 + bad.split(separator: "\n", omittingEmptySubsequences: false).firstIndex { $0.contains("lots") }!
        let position = "\(file.path):\(line):14: error:"
        // The diagnostics and the verdict are separate log lines: wait for the last one.
        try await eventually("the rejection") {
            let log = serve.output().stderr
            return log.contains(position) && log.contains("not applied: it is invalid")
        }
        let rejected = try #require(device.appliedSource()?["rejected"] as? [String: Any])
        #expect(rejected["reason"] as? String == "invalid")
        #expect((rejected["diagnostics"] as? [String])?.first?.hasPrefix(position) == true)
        #expect(try Curl.chat(port: port, model: "alpha").status == 200)
        #expect(try Curl.chat(port: port, model: "gamma").status == 200)
        #expect(device.workerPid("alpha") == alpha && device.workerPid("gamma") == gamma)

        // Fixed again: applied, and the rejection is cleared.
        try good.write(to: file, atomically: true, encoding: .utf8)
        try await eventually("the fix to be applied") { device.appliedSource()?["rejected"] == nil }

        // The model file changes behind the runner's back: its worker restarts on it.
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -3600)], ofItemAtPath: copy.path)
        try await eventually("gamma to restart on its changed file") {
            guard let pid = device.workerPid("gamma"), pid != gamma else { return false }
            return try Curl.chat(port: port, model: "gamma").status == 200
        }
        // Deleted: reported; the worker keeps serving from the open file.
        let restarted = try #require(device.workerPid("gamma"))
        try FileManager.default.removeItem(at: copy)
        try await eventually("the report") { serve.output().stderr.contains("model file was deleted") }
        #expect(try Curl.chat(port: port, model: "gamma").status == 200)
        #expect(device.workerPid("gamma") == restarted)

        #expect(try await serve.terminate() == 0)
        #expect(serve.output().stdout.contains("applied 'edited': 2 models loaded; serving local on 127.0.0.1:\(port)"))
        #expect(serve.output().stdout.contains("watching \(file.path) every 0.3 seconds"))
    }

    /// (Through `apply --watch`, which is `serve`.)
    @Test func pinnedClocksThatDriftArePinnedAgain() async throws {
        let device = try ServedDevice()
        defer { device.remove() }
        let root = device.directory.appendingPathComponent("root")
        let policy = root.appendingPathComponent("sys/devices/system/cpu/cpufreq/policy0")
        func write(_ url: URL, _ text: String) throws {
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: url, atomically: false, encoding: .utf8)
        }
        // A fake RK3588 with one CPU cluster: the other knobs are missing, so they are skipped.
        try write(root.appendingPathComponent("proc/device-tree/compatible"), "radxa,rock-5b\u{0}rockchip,rk3588\u{0}")
        try write(policy.appendingPathComponent("scaling_governor"), "schedutil\n")
        try write(policy.appendingPathComponent("scaling_available_governors"), "userspace schedutil performance\n")
        try write(policy.appendingPathComponent("scaling_available_frequencies"), "408000 816000 1800000\n")
        try write(policy.appendingPathComponent("scaling_setspeed"), "816000\n")
        try FileManager.default.createSymbolicLink(
            at: policy.appendingPathComponent("scaling_cur_freq"),
            withDestinationURL: policy.appendingPathComponent("scaling_setspeed"))
        let governor = policy.appendingPathComponent("scaling_governor")
        func current() -> String {
            ((try? String(contentsOf: governor, encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        }

        let file = device.directory.appendingPathComponent("device.yaml")
        try self.write([model("alpha")], to: file, port: 18093, device: "device: {soc: auto, clocks: pinned}")
        var environment = ServedDevice.environment
        environment["RUNNER_SYSFS_ROOT"] = root.path
        let serve = try RunnerProcess.start(
            ["apply", file.path, "--watch", "--state-dir", device.state.path, "--interval", "0.3"], environment: environment)
        defer { if serve.process.isRunning { kill(serve.process.processIdentifier, SIGKILL) } }
        try await eventually("the clocks to be pinned") { current() == "userspace" }

        try write(governor, "performance\n")
        try await eventually("the drift to be corrected") { current() == "userspace" }
        #expect(serve.output().stderr.contains("clock drifted: cpu policy0"))
        #expect(try await serve.terminate() == 0)
    }
}
