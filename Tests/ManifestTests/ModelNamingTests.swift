import Manifest
import Testing

struct ModelNamingTests {
    @Test(arguments: [
        ("Qwen_Qwen3-0.6B-w8a8-opt0-hybrid0-npu3-ctx16384-rk3588.rkllm", "qwen3-0.6b"),
        ("gemma-3-1b-it_w8a8.rkllm", "gemma3-1b"),
        ("SmolLM2-135M-Instruct.Q4_1.gguf", "smollm2-135m-instruct"),
        ("Llama-3.2-1B-Instruct-Q4_K_M.gguf", "llama3.2-1b-instruct"),
        ("DeepSeek-R1-Distill-Qwen-1.5B_W8A8_RK3588.rkllm", "deepseek-r1-distill-qwen-1.5b"),
        ("/models/sub/Phi-3-mini-4k-instruct.F16.gguf", "phi3-mini-4k-instruct"),
    ])
    func friendlyNameFromFileName(file: String, name: String) {
        #expect(ModelNaming.friendlyName(forFile: file) == name)
    }

    @Test func quantisationFromFileName() {
        #expect(ModelNaming.quantisation(forFile: "SmolLM2-135M-Instruct.Q4_1.gguf") == "Q4_1")
        #expect(ModelNaming.quantisation(forFile: "Llama-3.2-1B-Instruct-Q4_K_M.gguf") == "Q4_K_M")
        #expect(ModelNaming.quantisation(forFile: "gemma-3-1b-it_w8a8.rkllm") == "W8A8")
        #expect(ModelNaming.quantisation(forFile: "Qwen_Qwen3-0.6B-w8a8-opt0-hybrid0-npu3-ctx16384-rk3588.rkllm") == "W8A8")
        #expect(ModelNaming.quantisation(forFile: "model.gguf") == nil)
    }

    @Test func nothingLeftGivesNoName() {
        #expect(ModelNaming.friendlyName(forFile: "Q4_0.gguf") == nil)
        #expect(ModelNaming.friendlyName(forFile: "w8a8-rk3588.rkllm") == nil)
    }

    @Test func contextFromFileName() {
        #expect(ModelNaming.context(forFile: "Qwen_Qwen3-0.6B-w8a8-opt0-hybrid0-npu3-ctx16384-rk3588.rkllm") == 16384)
        #expect(ModelNaming.context(forFile: "gemma-3-1b-it_w8a8.rkllm") == nil)
        #expect(ModelNaming.context(forFile: "x_ctx4096.rkllm") == 4096)
    }

    @Test func lookupKeyIgnoresCaseAndLatest() {
        #expect(ModelNaming.lookupKey("Qwen3:latest") == "qwen3")
        #expect(ModelNaming.lookupKey("qwen3:0.6b") == "qwen3:0.6b")
    }

    @Test func durationsAndAddressesParseAndPrintBack() throws {
        for text in ["500ms", "30s", "5m", "2h"] {
            #expect(try ManifestDuration.parse(text).get().text == text)
        }
        #expect(try ManifestDuration.parse("90").get() == .seconds(90))
        #expect(try ManifestDuration.parse("120s").get().text == "2m")
        #expect(try ListenAddress.parse(":8080").get() == .tcp(host: "0.0.0.0", port: 8080))
        #expect(try ListenAddress.parse("[::1]:8080").get().text == "[::1]:8080")
        #expect(ListenAddress.tcp(host: "0.0.0.0", port: 80).conflicts(with: .tcp(host: "10.0.0.1", port: 80)))
        #expect(!ListenAddress.tcp(host: "10.0.0.2", port: 80).conflicts(with: .tcp(host: "10.0.0.1", port: 80)))
    }

    @Test func selectorMatchesHostPatternsAndLabels() {
        let selector = DeviceSelector(hostnames: ["opi5-*"], labels: ["site": "lab"])
        #expect(selector.matches(hostname: "opi5-07", labels: ["site": "lab", "x": "y"]))
        #expect(!selector.matches(hostname: "rock5-01", labels: ["site": "lab"]))
        #expect(!selector.matches(hostname: "opi5-07", labels: ["site": "home"]))
    }
}
