internal import Foundation
public import Manifest

/// Where the files a model needs are on this device: a local path as written, a Hugging Face file at its
/// snapshot path in the hub cache once downloaded.
public enum ModelFiles {
    /// The file a worker should open, or nil when it is not on the device (yet).
    public static func localPath(for source: ResolvedSource, hub: HubCacheLayout) -> String? {
        switch source {
        case .local(let path): path
        case .huggingface(let repo, let file, let revision, _): hub.cachedFile(repo: repo, file: file, revision: revision)?.path
        case .upstream: nil
        }
    }

    /// A file a model needs besides its own: a LoRA adapter (`model/adapter`) or its vision part
    /// (`model/projector` for llama.cpp, `model/encoder` for rkllm), with what it is for messages.
    public struct Companion: Sendable {
        public var key: String
        public var kind: String
        public var source: ResolvedSource
    }

    public static func companions(of model: ResolvedModel) -> [Companion] {
        model.lora.map { Companion(key: "\(model.name)/\($0.name)", kind: "LoRA", source: $0.source) }
            + (model.vision.map {
                [Companion(key: "\(model.name)/\(visionKind(model))", kind: visionKind(model), source: $0.file)]
            }
                ?? [])
    }

    /// Every source of a model: its own, then its companions'.
    public static func sources(of model: ResolvedModel) -> [ResolvedSource] {
        [model.source] + companions(of: model).map(\.source)
    }

    /// What a model's vision file is called: llama.cpp's projector or the RKNN encoder.
    static func visionKind(_ model: ResolvedModel) -> String { model.engine == .rkllm ? "encoder" : "projector" }

    /// The model's vision file (projector or encoder) on this device, if it has one and it is there.
    public static func visionFilePath(of model: ResolvedModel, hub: HubCacheLayout) -> String? {
        model.vision.flatMap { localPath(for: $0.file, hub: hub) }
    }

    /// The Hugging Face files of a model: its own, then its companions'.
    public static func hubFiles(of model: ResolvedModel) -> [HubFile] {
        sources(of: model).compactMap { source in
            guard case .huggingface(let repo, let file, let revision, let sha256) = source else { return nil }
            return HubFile(repo: repo, file: file, revision: revision, sha256: sha256)
        }
    }

    /// The model with every Hugging Face source (its own and its companions') replaced by the cached file, so an
    /// engine only ever sees local paths. Throws when one is not in the cache: apply downloads them first.
    public static func withLocalFiles(_ model: ResolvedModel, hub: HubCacheLayout) throws -> ResolvedModel {
        var model = model
        model.source = try local(model.source, hub: hub, model: model.name)
        for index in model.lora.indices {
            model.lora[index].source = try local(model.lora[index].source, hub: hub, model: model.name)
        }
        if let file = model.vision?.file {
            model.vision?.file = try local(file, hub: hub, model: model.name)
        }
        return model
    }

    private static func local(_ source: ResolvedSource, hub: HubCacheLayout, model: String) throws -> ResolvedSource {
        guard case .huggingface(let repo, let file, let revision, _) = source else { return source }
        guard let path = localPath(for: source, hub: hub) else {
            throw ReconcilerError(
                .missingModelFile,
                "model \(model): \(repo)/\(file) at \(revision) is not in the Hugging Face cache at \(hub.hub.path); runner apply downloads it"
            )
        }
        return .local(path: path)
    }
}
