import Foundation
import Testing
import Yams

@testable import Manifest

struct GoodManifestTests {
    func loadFull() throws -> (Manifest, ResolvedManifest) {
        let result = try Fixtures.load(Fixtures.directory.appendingPathComponent("good/full.yaml"))
        #expect(result.diagnostics.isEmpty, "\(result.diagnostics)")
        return (try #require(result.manifest), try #require(result.resolved))
    }

    @Test func fullManifestDecodesToTheWrittenValues() throws {
        let (manifest, resolved) = try loadFull()
        #expect(manifest.metadata.labels == ["site": "lab", "rack": "3"])
        #expect(manifest.selector?.hostnames == ["opi5-*", "edge-42"])
        #expect(resolved.soc == .rk3588 && resolved.clocks == .pinned)
        #expect(resolved.runtimes.rkllmABI == .v1Dot2)
        #expect(resolved.runtimes.llamaLibrary == "/manifests/lib/libllama.so")
        #expect(resolved.models.map(\.name) == ["qwen3-0.6b", "gemma", "smollm2-135m-instruct", "big-remote"])

        let qwen = resolved.models[0]
        #expect(qwen.engine == .rkllm)
        #expect(qwen.context == 16384)
        #expect(
            qwen.source
                == .huggingface(
                    repo: "org/Qwen3-0.6B-rk3588", file: "Qwen_Qwen3-0.6B-w8a8-opt0-hybrid0-npu3-ctx16384-rk3588.rkllm",
                    revision: "v1.2.1", sha256: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"))
        #expect(qwen.sampling.topK == 20 && qwen.sampling.mirostat == 2 && qwen.sampling.mirostatTau == 5)
        #expect(qwen.thinking == .off)
        #expect(qwen.npu == ResolvedNPU(cpus: [4, 5, 6, 7], domain: 1, embedFlash: false, batch: 2))
        #expect(
            qwen.promptCaches == [
                .init(name: "support", prompt: .text("You are support.")),
                .init(name: "faq", prompt: .file("/manifests/prompts/faq.txt")),
            ])
        #expect(qwen.lora == [ResolvedLoRA(name: "style", source: .local(path: "/manifests/adapters/style.rkllm"), scale: 0.5)])
        #expect(qwen.lifecycle == ResolvedLifecycle(preload: false, idleTimeout: .seconds(900), restart: .onFailure))

        let gemma = resolved.models[1]
        #expect(gemma.context == 2048 && gemma.npu?.domain == 0 && gemma.npu?.embedFlash == true)
        #expect(gemma.chatTemplate?.postfix == "<end>\n<start>model\n")

        let smol = resolved.models[2]
        #expect(smol.source == .local(path: "/models/SmolLM2-135M-Instruct.Q4_1.gguf"))
        #expect(smol.llamacpp == ResolvedLlamaOptions(threads: 2, parallel: 8, gpuLayers: 0))
        #expect(smol.npu == nil && smol.context == 4096)
        #expect(smol.sampling.seed == 42 && smol.sampling.minP == 0.05)
        #expect(
            smol.vision?.file
                == .huggingface(
                    repo: "ggml-org/SmolVLM-256M-Instruct-GGUF", file: "mmproj-SmolVLM-256M-Instruct-Q8_0.gguf",
                    revision: "main", sha256: nil))
        #expect(resolved.models[0].vision == nil)

        #expect(resolved.models[3].source == .upstream(url: "http://10.0.0.7:8080/v1", model: "qwen2.5-7b"))
        #expect(resolved.endpoints[0].models == ["qwen3-0.6b", "gemma", "smollm2-135m-instruct", "big-remote"])
        #expect(resolved.endpoints[0].tokensFile == "/manifests/tokens")
        #expect(resolved.endpoints[0].maxBodyBytes == 1_048_576)
        #expect(resolved.endpoints[1].listen == .unix(path: "/run/rockchipllama/admin.sock"))
        #expect(resolved.endpoints[1].models == resolved.models.map(\.name))
        #expect(
            resolved.git
                == ResolvedGitSource(
                    url: "https://git.example.com/fleet.git", branch: "main", path: "fleet/opi5.yaml", interval: .seconds(60)))
    }

    @Test func namesAndAliasesResolveCaseInsensitivelyWithLatestTag() throws {
        let (_, resolved) = try loadFull()
        #expect(resolved.model(named: "QWEN3")?.name == "qwen3-0.6b")
        #expect(resolved.model(named: "default:latest")?.name == "qwen3-0.6b")
        #expect(resolved.model(named: "SmolLM2-135M-Instruct")?.name == "smollm2-135m-instruct")
        #expect(resolved.model(named: "gemma:2b") == nil)
        #expect(resolved.model(named: "llama") == nil)
    }

    @Test func reEncodedManifestDecodesToTheSameValue() throws {
        for url in Fixtures.files(in: "good") + Self.shippedManifests {
            let original = try #require(try Fixtures.load(url).manifest)
            let yaml = try YAMLEncoder().encode(original)
            let again = ManifestLoader(environment: Fixtures.environment).load(
                text: yaml, file: "re-encoded.yaml", baseDirectory: "/manifests")
            #expect(again.diagnostics.filter { $0.severity == .error }.isEmpty, "\(url.lastPathComponent): \(again.diagnostics)")
            #expect(again.manifest == original, "\(url.lastPathComponent)")
        }
    }

    static let shippedManifests: [URL] = {
        let folder = Fixtures.repository.appendingPathComponent("deploy/manifests")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return names.filter { $0.hasSuffix(".yaml") }.sorted().map { folder.appendingPathComponent($0) }
    }()

    @Test func shippedExampleManifestsAreValid() throws {
        #expect(Self.shippedManifests.count >= 3)
        for url in Self.shippedManifests {
            let result = try Fixtures.load(url)
            #expect(!result.diagnostics.hasErrors, "\(url.lastPathComponent): \(result.diagnostics)")
        }
    }

    @Test func devManifestServesSmolLM2OnLlamaCpp() throws {
        let url = Fixtures.repository.appendingPathComponent("deploy/manifests/dev.yaml")
        let resolved = try #require(ManifestLoader(environment: Fixtures.environment).load(file: url.path).resolved)
        let model = try #require(resolved.model(named: "default"))
        #expect(model.name == "smollm2-135m-instruct" && model.engine == .llamacpp)
        #expect(
            model.source
                == .local(path: Fixtures.repository.appendingPathComponent(".deps/models/SmolLM2-135M-Instruct.Q4_1.gguf").path))
    }
}
