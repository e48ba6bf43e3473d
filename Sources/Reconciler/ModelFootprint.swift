internal import Engine
internal import Foundation
public import Manifest

/// An estimate of the memory a model's worker takes once loaded, from its file and settings, for budgeting
/// which models can be loaded together.
public enum ModelFootprint {
    /// The worker process itself, the engine's libraries and its compute buffers, on top of weights and KV cache.
    public static let processOverhead: Int64 = 64 << 20

    /// Estimated bytes, or nil when the file is not on the device (yet) or the engine has no estimate.
    ///
    /// - llamacpp: the file (the weights are mapped and end up resident) + the f16 KV cache, which holds
    ///   `context` tokens for each of `parallel` slots (the engine allocates `context × parallel`), + the
    ///   process overhead. When the GGUF header does not tell the KV size, the file + the overhead.
    /// - rkllm: the file + the overhead. The runtime copies the weights into DMA buffers the size of the file
    ///   for the NPU; its KV cache sits in them too.
    /// - Measured with SmolLM2-135M (a 98 MB file) on llama.cpp: a worker has 171 MiB resident at context
    ///   512 × 1 slot and 521 MiB at 4096 × 4; this gives 169 MiB and 518 MiB.
    ///
    /// A vision model's projector or encoder file (`vision`) is added whole: its weights stay loaded.
    public static func estimate(_ model: ResolvedModel, file: String?, vision: String? = nil) -> Int64? {
        guard let file, var size = fileSize(file) else { return nil }
        size += vision.flatMap(fileSize) ?? 0
        switch model.engine {
        case .llamacpp:
            let slots = Int64(model.llamacpp?.parallel ?? 4)  // the engine's default, as EngineFactory applies it
            guard let perToken = (try? GGUFMetadata(contentsOf: file))?.kvBytesPerToken else { return size + processOverhead }
            return size + perToken * Int64(model.context) * slots + processOverhead
        case .rkllm:
            return size + processOverhead
        case .axllm, .upstream:
            return nil
        }
    }

    /// The model's file on this device: its local path, or its Hugging Face file once in the cache.
    public static func file(of model: ResolvedModel, hub: HubCacheLayout) -> String? {
        ModelFiles.localPath(for: model.source, hub: hub)
    }

    /// The size of the file a path leads to (Hugging Face snapshots are symlinks to blobs).
    private static func fileSize(_ path: String) -> Int64? {
        let resolved = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: resolved),
            attributes[.type] as? FileAttributeType == .typeRegular
        else { return nil }
        return (attributes[.size] as? NSNumber)?.int64Value
    }
}
