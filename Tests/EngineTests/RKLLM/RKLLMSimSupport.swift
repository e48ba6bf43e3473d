import Engine
import Foundation
import Testing

/// RKLLMSim, the librkllmrt.so simulator that `scripts/setup.sh` builds once per ABI, and the knobs it
/// reads from the environment. The environment is process-wide, so every test that uses the simulator
/// lives in the one serialized suite and sets it through `SimEnvironment`.
enum RKLLMSim {
    static func library(_ abi: RKLLMRuntimeABI) -> String {
        TestModel.packageRoot + "/.deps/rkllmsim/\(abi.rawValue)/librkllmrt.so"
    }

    static func configuration(
        _ abi: RKLLMRuntimeABI, context: Int = 1024, batch: Int = 1, queueLimit: Int = 16, cacheDirectory: String? = nil
    ) -> RKLLMEngine.Configuration {
        RKLLMEngine.Configuration(
            libraryPath: library(abi), abi: nil, modelPath: TestModel.model, modelName: "smollm2-npu", context: context,
            sampling: .greedy, batch: batch, promptCacheDirectory: cacheDirectory, queueLimit: queueLimit)
    }
}

/// Sets the simulator's environment for one test and reads back its call trace.
final class SimEnvironment {
    let trace: String
    let directory: String

    init(reply: String? = nil, tokenDelayMs: Double? = nil, prefillDelayMs: Double? = nil) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("rkllmsim-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        trace = directory + "/trace.jsonl"
        setenv("RKLLMSIM_TRACE", trace, 1)
        // Two llama.cpp threads spin-wait on each other; on a 2-core machine shared with other test processes
        // that is ten times slower than one.
        setenv("RKLLMSIM_THREADS", "1", 1)
        if let reply {
            let path = directory + "/reply.txt"
            try Data(reply.utf8).write(to: URL(fileURLWithPath: path))
            setenv("RKLLMSIM_REPLY", path, 1)
        } else {
            unsetenv("RKLLMSIM_REPLY")
        }
        if let tokenDelayMs {
            setenv("RKLLMSIM_TOKEN_DELAY_MS", "\(tokenDelayMs)", 1)
        } else {
            unsetenv("RKLLMSIM_TOKEN_DELAY_MS")
        }
        if let prefillDelayMs {
            setenv("RKLLMSIM_PREFILL_DELAY_MS", "\(prefillDelayMs)", 1)
        } else {
            unsetenv("RKLLMSIM_PREFILL_DELAY_MS")
        }
    }

    deinit {
        unsetenv("RKLLMSIM_TRACE")
        unsetenv("RKLLMSIM_REPLY")
        unsetenv("RKLLMSIM_TOKEN_DELAY_MS")
        unsetenv("RKLLMSIM_THREADS")
        unsetenv("RKLLMSIM_PREFILL_DELAY_MS")
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Every line the simulator traced so far.
    func lines() -> [[String: Any]] {
        guard let text = try? String(contentsOfFile: trace, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    func calls(_ name: String) -> [[String: Any]] { lines().filter { $0["call"] as? String == name } }

    /// The inputs of each rkllm_run, in order.
    func runs() -> [[String: Any]] { calls("rkllm_run") }
}

extension [String: Any] {
    var inputTexts: [String] { (self["inputs"] as? [[String: Any]] ?? []).compactMap { $0["text"] as? String } }
    var keepHistory: Int? { self["keep_history"] as? Int }
}
