internal import Engine
internal import Foundation
public import Manifest
public import Worker

extension ServedModel {
    /// A manifest model served through its worker: what the APIs say about it comes from the manifest and,
    /// for GGUF files, from the file's own metadata (architecture, size label, chat template).
    public init(_ model: ResolvedModel, worker client: WorkerClient) {
        let file: String? = if case .local(let path) = model.source { path } else { nil }
        let attributes = file.flatMap { try? FileManager.default.attributesOfItem(atPath: $0) }
        let gguf = file.flatMap { $0.lowercased().hasSuffix(".gguf") ? try? GGUFMetadata(contentsOf: $0) : nil }
        let named = ModelFacts(fileName: model.source.fileName ?? model.name)
        self.init(
            name: model.name, aliases: model.aliases, engineKind: model.engine.rawValue, context: model.context,
            sizeBytes: (attributes?[.size] as? NSNumber)?.int64Value ?? 0,
            modifiedAt: attributes?[.modificationDate] as? Date ?? Date(timeIntervalSince1970: 0),
            digest: { if case .huggingface(_, _, _, let sha) = model.source { sha } else { nil } }(),
            family: gguf?.architecture ?? named.family, quantization: named.quantization,
            parameterSize: gguf?.sizeLabel ?? named.parameterSize,
            capabilities: Self.capabilities(model, chatTemplate: gguf?.chatTemplate), chatTemplate: gguf?.chatTemplate,
            defaults: Sampling(model.sampling), maxTokens: model.maxTokens, engine: client,
            isReady: { (try? await client.health()) != nil })
    }

    /// Only what the model's engine really does: llama.cpp and rkllm render tool definitions and embed text,
    /// the AXERA server takes tools in its `serve` generation and embeds nothing; a model with a vision part
    /// takes images; a model thinks when the manifest says so, or (`auto`) when its chat template has `<think>`
    /// blocks or, for files whose template cannot be read here, when its name is a reasoning family's.
    static func capabilities(_ model: ResolvedModel, chatTemplate: String?) -> Set<ModelCapability> {
        var capabilities: Set<ModelCapability> = [.completion, .tools, .embedding]
        if model.engine == .axllm {
            capabilities.remove(.embedding)
            if model.axllm?.server != .serve { capabilities.remove(.tools) }
        }
        let thinks: Bool
        switch model.thinking {
        case .on: thinks = true
        case .off: thinks = false
        case .auto:
            if let chatTemplate {
                thinks = chatTemplate.contains("<think>")
            } else {
                let name = (model.source.fileName ?? model.name).lowercased()
                thinks = ["qwen3", "deepseek-r1", "qwq"].contains { name.contains($0) }
            }
        }
        if thinks { capabilities.insert(.thinking) }
        if model.vision != nil { capabilities.insert(.vision) }
        return capabilities
    }
}

/// What a model file's name says about it, when its metadata cannot be read.
struct ModelFacts {
    var family = ""
    var quantization = ""
    var parameterSize = ""

    init(fileName: String) {
        let stem = fileName.split(separator: "/").last.map(String.init) ?? fileName
        let tokens = stem.split(whereSeparator: { "-_.".contains($0) }).map(String.init)
        family = tokens.first.map { String($0.lowercased().prefix { $0.isLetter }) } ?? ""
        if let size = tokens.first(where: { $0.range(of: #"^\d+(\.\d+)?[MmBb]$"#, options: .regularExpression) != nil }) {
            parameterSize = size.uppercased()
        }
        quantization = ModelNaming.quantisation(forFile: stem) ?? ""
    }
}
