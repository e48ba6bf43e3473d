import Foundation
import TestSupport
import Testing

/// An axllm deployment on AXSim (Sources/AXSim): a vendor-style model directory whose config.json points AXSim
/// at the test model, a manifest for one server generation, and what the tests look at (the worker's log, which
/// the vendor server writes to as well, and the vendor's process).
struct AXSimDeployment {
    enum Generation: String, CaseIterable, CustomTestStringConvertible, Sendable {
        case serve, legacy
        var testDescription: String { rawValue }
    }

    let generation: Generation
    let device: ServedDevice
    let port: Int
    /// The manifest's `axllm.hangTimeout` (nil: its default).
    let hangTimeout: String?
    var model: URL { device.directory.appendingPathComponent("smollm2-ax") }
    var manifestURL: URL { device.directory.appendingPathComponent("axllm.yaml") }
    /// The legacy server's port (its vendor builds hard-code 8000; AXSim reads AXSIM_LEGACY_PORT).
    var legacyPort: Int { port + 100 }

    static let bin = RunnerProcess.repository.appendingPathComponent("Sources/AXSim/bin")

    init(
        _ generation: Generation, port: Int, context: Int = 1024, tokenDelayMs: Int = 0, ignoreEOS: Bool = false,
        hangTimeout: String? = nil
    ) throws {
        self.generation = generation
        self.port = port
        self.hangTimeout = hangTimeout
        device = try ServedDevice()
        try FileManager.default.createDirectory(at: model, withIntermediateDirectories: true)
        for name in [
            "smollm2_p128_l0_together.axmodel", "smollm2_p128_l1_together.axmodel", "smollm2_post.axmodel",
            "model.embed_tokens.weight.bfloat16.bin", "smollm2_tokenizer.txt",
        ] {
            try Data("AXSim placeholder\n".utf8).write(to: model.appendingPathComponent(name))
        }
        let config: [String: Any] = [
            "model_name": "AXERA-TECH/SmolLM2-135M-Instruct", "tokenizer_type": "SmolLM2",
            "url_tokenizer_model": "smollm2_tokenizer.txt", "template_filename_axmodel": "smollm2_p128_l%d_together.axmodel",
            "axmodel_num": 2, "filename_post_axmodel": "smollm2_post.axmodel",
            "filename_tokens_embed": "model.embed_tokens.weight.bfloat16.bin", "tokens_embed_num": 49152,
            "tokens_embed_size": 576,
            "axsim": [
                "gguf": ServedDevice.model, "context": context, "threads": 1, "token_delay_ms": tokenDelayMs,
                "ignore_eos": ignoreEOS,
            ] as [String: Any],
        ]
        try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted]).write(
            to: model.appendingPathComponent("config.json"))
        try manifest().write(to: manifestURL, atomically: true, encoding: .utf8)
    }

    func manifest() -> String {
        let server: String
        let hang = hangTimeout.map { "\n      hangTimeout: \($0)" } ?? ""
        switch generation {
        case .serve:
            server = """
                axllm:
                      binary: \(Self.bin.appendingPathComponent("axllm").path)\(hang)
                """
        case .legacy:
            let args = [
                "--system_prompt", "You are a helpful assistant.", "--template_filename_axmodel",
                "smollm2_p128_l%d_together.axmodel", "--axmodel_num", "2", "--filename_post_axmodel", "smollm2_post.axmodel",
                "--tokenizer_type", "2", "--filename_tokens_embed", "model.embed_tokens.weight.bfloat16.bin",
                "--tokens_embed_num", "49152", "--tokens_embed_size", "576",
            ].map { "\"\($0)\"" }.joined(separator: ", ")
            server = """
                axllm:
                      binary: \(Self.bin.appendingPathComponent("main_api_ax650").path)
                      port: \(legacyPort)
                      tokenizer: [\(Self.bin.appendingPathComponent("axsim-tokenizer").path)]
                      args: [\(args)]\(hang)
                """
        }
        return """
            apiVersion: rockchipllama/v1
            kind: Device
            metadata: {name: axsim-\(generation.rawValue)}
            models:
              - name: ax
                engine: axllm
                source: {path: \(model.path)}
                context: 1024
                sampling: {temperature: 0}
                \(server)
            endpoints:
              - {name: local, listen: "127.0.0.1:\(port)", apis: [openai, ollama, admin]}
            """
    }

    var environment: [String: String] {
        var environment = ServedDevice.environment
        environment["AXSIM_LEGACY_PORT"] = String(legacyPort)
        return environment
    }

    var base: String { "http://127.0.0.1:\(port)" }

    /// A POST through curl on a thread of its own: answers take seconds, and a test that blocks one of the few
    /// threads Swift concurrency has starves the suites running beside it.
    func post(_ path: String, _ body: String) async throws -> Curl.Answer {
        let url = base + path
        return try await Curl.waiting { try Curl.request(url, body: body) }
    }

    /// `runner apply` on the manifest, once the model answers a chat; nil (with the issue recorded) when apply
    /// exits first.
    func apply() async throws -> RunnerProcess.Background? {
        let apply = try RunnerProcess.start(
            ["apply", manifestURL.path, "--state-dir", device.state.path], environment: environment)
        let ready = try await eventually("the axllm model to answer", timeout: .seconds(90)) {
            guard apply.process.isRunning else { return true }
            let hi = try? await post("/v1/chat/completions", Self.chat([("user", "Hi")], maxTokens: 2))
            return hi?.status == 200
        }
        guard ready, apply.process.isRunning else {
            Issue.record("runner apply exited: \(apply.output().stderr)\n\(log)")
            if apply.process.isRunning { kill(apply.process.processIdentifier, SIGKILL) }
            return nil
        }
        return apply
    }

    /// The worker's log, which the vendor server and its tokenizer service write to as well.
    var log: String {
        (try? String(contentsOf: device.state.appendingPathComponent("workers/ax.log"), encoding: .utf8)) ?? ""
    }

    /// The vendor server's pid: the worker's child whose command line names the AXSim server.
    func vendorPID() -> Int32? {
        guard let worker = device.workerPid("ax") else { return nil }
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        for entry in entries {
            guard let pid = Int32(entry),
                let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { continue }
            let fields = stat[stat.index(close, offsetBy: 2)...].split(separator: " ")
            guard fields.count > 1, Int32(fields[1]) == worker,
                let cmdline = try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8)
            else { continue }
            if cmdline.contains("axllm\0serve") || cmdline.contains("main_api") { return pid }
        }
        return nil
    }

    /// Waits until a worker other than `worker` serves the model.
    func workerReplaced(_ worker: Int32) async throws -> Bool {
        try await eventually("the worker to be replaced") { (device.workerPid("ax") ?? worker) != worker }
    }

    /// Waits until a chat is answered again (a restarted worker loads its new server first).
    func answersAgain() async throws -> Bool {
        try await eventually("a new server to answer", timeout: .seconds(90)) {
            (try? await post("/v1/chat/completions", Self.chat([("user", "Hi")], maxTokens: 2)))?.status == 200
        }
    }

    /// Whether `pid` has exited (gone, or a zombie not reaped yet).
    static func exited(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")")
        else { return true }
        return stat[stat.index(close, offsetBy: 2)...].hasPrefix("Z")
    }

    static func json(_ text: String) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]) ?? [:]
    }

    static func content(_ body: String) -> String? {
        let choice = (json(body)["choices"] as? [[String: Any]])?.first
        return (choice?["message"] as? [String: Any])?["content"] as? String
    }

    /// A chat request with these messages (role, text pairs).
    static func chat(_ messages: [(String, String)], maxTokens: Int = 24, stream: Bool = false) -> String {
        let body: [String: Any] = [
            "model": "ax", "messages": messages.map { ["role": $0.0, "content": $0.1] }, "max_tokens": maxTokens,
            "temperature": 0, "stream": stream,
        ]
        return String(decoding: try! JSONSerialization.data(withJSONObject: body), as: UTF8.self)
    }
}
