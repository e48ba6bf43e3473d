import Foundation
import Testing

struct ValidateCommandTests {
    @Test func helpWorksWithNothingButPathAndHome() throws {
        let output = try RunnerProcess.run(["--help"])
        #expect(output.status == 0)
        for command in ["validate", "plan", "apply", "serve", "status", "worker"] {
            #expect(output.stdout.contains("  \(command) "), "help lists \(command)")
        }
    }

    @Test func validManifestsPassWithASummary() throws {
        let output = try RunnerProcess.run(["validate", "Tests/ManifestTests/Fixtures/good/full.yaml"])
        // full.yaml names files that do not exist on this machine: warnings, not errors.
        #expect(output.status == 0, "\(output.stderr)")
        #expect(output.stdout.hasPrefix("Tests/ManifestTests/Fixtures/good/full.yaml: valid (4 models, 2 endpoints, "))
        #expect(output.stderr.contains("warning: model file '/models/gemma-3-1b-it_w8a8.rkllm' does not exist yet"))
        #expect(!output.stderr.contains("error:"))
    }

    @Test func everyErrorOfEveryFileIsPrintedAndTheExitCodeIsOne() throws {
        let bad = "Tests/ManifestTests/Fixtures/bad/44-many-problems.yaml"
        let output = try RunnerProcess.run(["validate", "deploy/manifests/fleet-opi5.yaml", bad])
        #expect(output.status == 1)
        let expected = try String(
            contentsOfFile: RunnerProcess.repository.appendingPathComponent(
                bad.replacingOccurrences(of: ".yaml", with: ".expected")
            ).path, encoding: .utf8)
        // The CLI names files as given; the corpus names them by file name.
        let shown = expected.replacingOccurrences(of: "44-many-problems.yaml:", with: "\(bad):")
        // This machine has no /models/qwen3.gguf, which adds one warning to the corpus' errors and its one warning.
        func errors(_ text: String) -> String {
            text.split(separator: "\n").filter { $0.contains(": error: ") }.map { $0 + "\n" }.joined()
        }
        #expect(errors(output.stderr) == errors(shown))
        #expect(output.stdout == "deploy/manifests/fleet-opi5.yaml: valid (1 model, 1 endpoint)\n\(bad): 7 errors, 2 warnings\n")
    }

    /// SmolLM2 at 4096 tokens × 4 slots needs about 518 MiB; a 200 MiB budget can never hold it.
    @Test func aModelLargerThanTheMemoryBudgetIsAWarning() throws {
        let directory = try RunnerProcess.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let model =
            ProcessInfo.processInfo.environment["RUNNER_TEST_MODEL"]
            ?? RunnerProcess.repository.appendingPathComponent(".deps/models/SmolLM2-135M-Instruct.Q4_1.gguf").path
        let manifest = directory.appendingPathComponent("small.yaml")
        func write(_ memory: String) throws {
            try """
            apiVersion: rockchipllama/v1
            kind: Device
            metadata: {name: small}
            device: {memory: \(memory)}
            models:
              - {name: tiny, source: {path: \(model)}, context: 512, llamacpp: {parallel: 1}}
              - name: smol
                source: {path: \(model)}
            """.write(to: manifest, atomically: true, encoding: .utf8)
        }
        try write("{budget: 200MiB}")
        var output = try RunnerProcess.run(["validate", manifest.path])
        #expect(output.status == 0)
        #expect(
            output.stderr
                == "\(manifest.path):7:5: warning: model smol needs ~518 MiB, more than the memory budget 200 MiB: it can never load\n"
        )
        #expect(output.stdout == "\(manifest.path): valid (2 models, 1 endpoint, 1 warning)\n")

        // Derived from the machine: 1 GiB with 600 MiB available leaves 600 - 256 = 344 MiB.
        try write("{reserve: 256MiB}")
        let root = directory.appendingPathComponent("root/proc")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        try "MemTotal: 1048576 kB\nMemAvailable: 614400 kB\n".write(
            to: root.appendingPathComponent("meminfo"), atomically: true, encoding: .utf8)
        var environment = ["PATH": "/usr/bin:/bin", "HOME": directory.path]
        environment["RUNNER_SYSFS_ROOT"] = directory.appendingPathComponent("root").path
        output = try RunnerProcess.run(["validate", manifest.path], environment: environment)
        #expect(
            output.stderr
                == "\(manifest.path):7:5: warning: model smol needs ~518 MiB, more than the memory budget 344 MiB (derived from this machine's memory): it can never load\n"
        )
        // A budget that holds it: no warning.
        try write("{budget: 1GiB}")
        output = try RunnerProcess.run(["validate", manifest.path])
        #expect(output.stderr == "" && output.stdout == "\(manifest.path): valid (2 models, 1 endpoint)\n")
    }

    @Test func aMissingFileIsAnError() throws {
        let output = try RunnerProcess.run(["validate", "nope.yaml"])
        #expect(output.status == 1)
        #expect(output.stderr == "nope.yaml:1:1: error: no such file\n")
    }

    @Test func noFileIsAUsageError() throws {
        let output = try RunnerProcess.run(["validate"])
        #expect(output.status == 64)
        #expect(output.stderr.contains("Missing expected argument '<files> ...'"))
    }

    @Test func applyRefusesAnInvalidManifestAndChangesNothing() throws {
        let state = try RunnerProcess.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: state) }
        let output = try RunnerProcess.run([
            "apply", "Tests/ManifestTests/Fixtures/bad/17-duplicate-model-name.yaml", "--state-dir", state.path,
        ])
        #expect(output.status == 1)
        #expect(output.stderr.contains("17-duplicate-model-name.yaml:7:11: error: duplicate model name 'Chat'"))
        #expect(output.stderr.hasSuffix("1 error; nothing was applied\n"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: state.path).isEmpty)
    }
}
