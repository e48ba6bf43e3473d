internal import Foundation

extension ManifestResolver {
    static let rkllmMaxContext = 16384

    mutating func resolveModel(_ model: Model, at path: ManifestPath, soc: SoC) -> ResolvedModel {
        let source = resolveSource(model, at: path)
        let engine = resolveEngine(model, source: source, at: path)
        let name = resolveName(model, source: source, at: path)
        let fileName = source?.fileName ?? ""
        let context = resolveContext(model, engine: engine, fileName: fileName, at: path)

        if let maxTokens = model.maxTokens, maxTokens < 1 {
            error(path.appending("maxTokens"), "maxTokens must be at least 1")
        }
        checkSampling(model.sampling, at: path.appending("sampling"))
        checkEngineSupport(model, engine: engine, at: path)
        checkEngineOptions(model, engine: engine, soc: soc, at: path)
        if model.lifecycle?.pinned == true, model.lifecycle?.idleTimeout != nil {
            error(
                path.appending("lifecycle").appending("idleTimeout"),
                "a pinned model is never stopped for idling; drop idleTimeout or pinned")
        }
        if engine == .rkllm, model.chatTemplate != nil, model.thinking == .on {
            warning(
                path.appending("thinking"),
                "the rkllm runtime ignores enable_thinking when a custom chatTemplate is set; remove chatTemplate to use the model's own template"
            )
        }

        return ResolvedModel(
            name: name, aliases: model.aliases ?? [], engine: engine,
            source: source ?? .local(path: ""), context: context, maxTokens: model.maxTokens,
            sampling: model.sampling ?? SamplingDefaults(), thinking: model.thinking ?? .auto, chatTemplate: model.chatTemplate,
            npu: engine == .rkllm
                ? ResolvedNPU(
                    cpus: model.npu?.cpus, domain: model.npu?.domain ?? 0, embedFlash: model.npu?.embedFlash ?? true,
                    batch: model.npu?.batch ?? 1) : nil,
            llamacpp: engine == .llamacpp
                ? ResolvedLlamaOptions(
                    threads: model.llamacpp?.threads, parallel: model.llamacpp?.parallel ?? 4,
                    gpuLayers: model.llamacpp?.gpuLayers ?? 0)
                : nil,
            promptCaches: resolvePromptCaches(model.promptCaches ?? [], at: path.appending("promptCaches")),
            lora: resolveLoRA(model.lora ?? [], at: path.appending("lora")),
            lifecycle: ResolvedLifecycle(
                preload: model.lifecycle?.preload ?? true, idleTimeout: model.lifecycle?.idleTimeout,
                restart: model.lifecycle?.restart ?? .always, pinned: model.lifecycle?.pinned ?? false),
            vision: resolveVision(model.vision, engine: engine, fileName: fileName, at: path.appending("vision")),
            axllm: resolveAXLLM(model, engine: engine, at: path))
    }

    /// The file-name path of a model, for diagnostics about names and extensions.
    func filePath(of model: Model, at path: ManifestPath) -> ManifestPath {
        if model.source?.path != nil { return path.appending("source").appending("path") }
        if model.source?.huggingface != nil { return path.appending("source").appending("huggingface").appending("file") }
        return path
    }

    private mutating func resolveSource(_ model: Model, at path: ManifestPath) -> ResolvedSource? {
        if model.engine == .upstream || (model.engine == nil && model.upstream != nil && model.source == nil) {
            guard let upstream = model.upstream else {
                error(path, "an upstream model needs 'upstream: {url: ...}'")
                return nil
            }
            if model.source != nil { error(path.appending("source"), "an upstream model has no source; remove it") }
            if !(upstream.url.hasPrefix("http://") || upstream.url.hasPrefix("https://")) {
                error(path.appending("upstream").appending("url"), "upstream url must start with http:// or https://")
            }
            return .upstream(url: upstream.url, model: upstream.model ?? model.name ?? "")
        }
        if model.upstream != nil { error(path.appending("upstream"), "'upstream' applies only to engine: upstream") }
        guard let source = model.source else {
            error(path, "model needs a source: {path: ...} or {huggingface: {repo, file}}")
            return nil
        }
        return resolveModelSource(source, at: path.appending("source"), kind: "model")
    }

    mutating func resolveModelSource(_ source: ModelSource, at path: ManifestPath, kind: String) -> ResolvedSource? {
        switch (source.path, source.huggingface) {
        case (let local?, nil):
            if local.isEmpty {
                error(path.appending("path"), "path must not be empty")
                return nil
            }
            let absolutePath = absolute(local)
            if !environment.fileExists(absolutePath) {
                warning(path.appending("path"), "\(kind) file '\(absolutePath)' does not exist yet; apply fails until it does")
            }
            return .local(path: absolutePath)
        case (nil, let hub?):
            let hubPath = path.appending("huggingface")
            if hub.repo.split(separator: "/", omittingEmptySubsequences: false).count != 2 || hub.repo.contains(" ") {
                error(hubPath.appending("repo"), "repo must be ORG/NAME, found '\(hub.repo)'")
            }
            if hub.file.isEmpty { error(hubPath.appending("file"), "file must not be empty") }
            if hub.file.hasPrefix("/") || hub.file.split(separator: "/").contains(where: { $0 == ".." || $0 == "." }) {
                error(
                    hubPath.appending("file"),
                    "file must be a path inside the repository (no leading '/', no '.' or '..' parts), found '\(hub.file)'")
            }
            if let sha = hub.sha256, sha.count != 64 || !sha.allSatisfy(\.isHexDigit) {
                error(
                    hubPath.appending("sha256"), "sha256 must be 64 hexadecimal digits, found '\(sha)' (\(sha.count) characters)")
            }
            return .huggingface(
                repo: hub.repo, file: hub.file, revision: hub.revision ?? "main", sha256: hub.sha256?.lowercased())
        case (_?, _?):
            error(path, "give exactly one of 'path' and 'huggingface', not both")
        case (nil, nil):
            error(path, "give one of 'path' or 'huggingface'")
        }
        return nil
    }

    private mutating func resolveEngine(_ model: Model, source: ResolvedSource?, at path: ManifestPath) -> EngineKind {
        let fileName = source?.fileName ?? ""
        let fileExtension = (fileName as NSString).pathExtension.lowercased()
        let byExtension = EngineKind.allCases.first { $0.fileExtension != nil && $0.fileExtension == fileExtension }
        if case .upstream? = source { return .upstream }
        // An engine that failed to decode is a placeholder: judge the file as if no engine was given.
        guard let engine = poisoned(path.appending("engine")) ? nil : model.engine else {
            guard let byExtension else {
                if !fileName.isEmpty {
                    let message = "cannot tell the engine from '\(fileName)'; add engine: rkllm | llamacpp | axllm | upstream"
                    error(filePath(of: model, at: path), message)
                }
                return .llamacpp
            }
            return byExtension
        }
        if engine == .rkllm, fileExtension == "gguf" {
            // RKLLMSim, the runtime simulator for machines without an NPU, takes GGUF files.
            warning(
                filePath(of: model, at: path),
                "engine rkllm with a .gguf file works only with RKLLMSim, the simulator; the vendor runtime needs a .rkllm file")
        } else if let expected = engine.fileExtension, !fileName.isEmpty, fileExtension != expected {
            let hint = byExtension.map { " (engine: \($0.rawValue) loads .\(fileExtension) files)" } ?? ""
            error(
                filePath(of: model, at: path),
                "engine \(engine.rawValue) needs a .\(expected) file, found '\(fileName)'\(hint)")
        }
        return engine
    }

    private mutating func resolveName(_ model: Model, source: ResolvedSource?, at path: ManifestPath) -> String {
        if let name = model.name {
            checkNameSyntax(name, at: path.appending("name"), what: "model name")
        } else if let fileName = source?.fileName, !fileName.isEmpty, ModelNaming.friendlyName(forFile: fileName) == nil {
            error(filePath(of: model, at: path), "cannot derive a name from '\(fileName)'; add name:")
        }
        for (index, alias) in (model.aliases ?? []).enumerated() {
            checkNameSyntax(alias, at: path.appending("aliases").appending(index), what: "alias")
        }
        if let name = model.name { return name }
        let derived: String
        if case .upstream(_, let upstreamModel)? = source {
            derived = ModelNaming.lookupKey(upstreamModel)
            if derived.isEmpty { error(path, "an upstream model needs name: (or upstream.model)") }
        } else {
            derived = ModelNaming.friendlyName(forFile: source?.fileName ?? "") ?? ""
        }
        // Names become file names in the state directory, so a derived one obeys the same rules as a written one.
        if !derived.isEmpty, !ManifestResolver.isValidName(derived) {
            error(filePath(of: model, at: path), "derived name '\(derived)' is not a valid model name; add name:")
        }
        return derived
    }

    static func isValidName(_ name: String) -> Bool {
        name.range(of: #"^[A-Za-z0-9][A-Za-z0-9._-]*$"#, options: .regularExpression) != nil
    }

    mutating func checkNameSyntax(_ name: String, at path: ManifestPath, what: String) {
        if !Self.isValidName(name) {
            error(path, "\(what) '\(name)' must start with a letter or digit and contain only letters, digits, '.', '_' and '-'")
        }
    }

    private mutating func resolveContext(_ model: Model, engine: EngineKind, fileName: String, at path: ManifestPath) -> Int {
        let converted = ModelNaming.context(forFile: fileName)
        let context = model.context ?? converted ?? ModelNaming.defaultContext
        let contextPath = model.context != nil ? path.appending("context") : filePath(of: model, at: path)
        guard context >= 1 else {
            error(contextPath, "context must be at least 1")
            return context
        }
        if engine == .rkllm {
            if context % 32 != 0 { error(contextPath, "rkllm context must be a multiple of 32, found \(context)") }
            if context > Self.rkllmMaxContext {
                error(contextPath, "rkllm context must be at most \(Self.rkllmMaxContext), found \(context)")
            }
            if let converted, context > converted {
                error(
                    contextPath,
                    "context \(context) exceeds the \(converted) tokens this model was converted for (ctx\(converted) in its file name)"
                )
            }
        }
        return context
    }
}
