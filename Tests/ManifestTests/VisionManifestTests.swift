import Foundation
import Testing

@testable import Manifest

/// `vision` on rkllm models: tags from the model family, the encoder's core list, and the LLM kept out of the
/// NPU domain the RKNN runtime takes.
struct VisionManifestTests {
    func load(_ models: String) throws -> ResolvedManifest {
        let yaml = """
            apiVersion: rockchipllama/v1
            kind: Device
            metadata: {name: board}
            device: {soc: rk3588}
            models:
            \(models)
            """
        let result = ManifestLoader(environment: Fixtures.environment).load(
            text: yaml, file: "vision.yaml", baseDirectory: "/manifests")
        #expect(!result.diagnostics.hasErrors, "\(result.diagnostics)")
        return try #require(result.resolved)
    }

    @Test func familyTagsAndCoresAndTheEncodersDomain() throws {
        let resolved = try load(
            """
              - source: {path: /models/qwen3-vl-2b-instruct_w8a8_rk3588.rkllm}
                vision:
                  encoder: {path: /models/qwen3-vl-2b_vision_rk3588.rknn}
                  npuCores: [0, 1]
              - source: {path: /models/gemma-3-1b-it_w8a8.rkllm}
              - source: {path: /models/internvl3-1b_w8a8_rk3588.rkllm}
                vision:
                  encoder: {path: internvl3-1b_vision_fp16_rk3588.rknn}
                  imageEnd: "</image>"
            """)
        let qwen = resolved.models[0]
        #expect(
            qwen.vision
                == ResolvedVision(
                    file: .local(path: "/models/qwen3-vl-2b_vision_rk3588.rknn"),
                    tags: ImageTags(start: "<|vision_start|>", end: "<|vision_end|>", content: "<|image_pad|>"), npuCores: [0, 1])
        )
        // Written tags win over the family's, one by one; relative encoder paths are the manifest's.
        let intern = resolved.models[2]
        #expect(intern.vision?.tags == ImageTags(start: "<img>", end: "</image>", content: "<IMG_CONTEXT>"))
        #expect(intern.vision?.file == .local(path: "/manifests/internvl3-1b_vision_fp16_rk3588.rknn"))
        // Domain 0 is the encoders'; the text model takes what is left.
        #expect(resolved.models.map { $0.npu?.domain } == [1, 2, 3])
    }
}
