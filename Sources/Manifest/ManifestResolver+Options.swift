extension ManifestResolver {
    mutating func checkSampling(_ sampling: SamplingDefaults?, at path: ManifestPath) {
        guard let sampling else { return }
        func require(_ value: Double?, _ key: String, _ valid: (Double) -> Bool, _ rule: String) {
            if let value, !valid(value) {
                let shown = value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value)
                error(path.appending(key), "\(key) \(rule), found \(shown)")
            }
        }
        require(sampling.temperature, "temperature", { $0 >= 0 }, "must be 0 or more")
        require(sampling.topP, "topP", { $0 > 0 && $0 <= 1 }, "must be above 0 and at most 1")
        require(sampling.minP, "minP", { $0 >= 0 && $0 <= 1 }, "must be from 0 to 1")
        require(sampling.repeatPenalty, "repeatPenalty", { $0 > 0 }, "must be above 0")
        require(sampling.mirostatTau, "mirostatTau", { $0 > 0 }, "must be above 0")
        require(sampling.mirostatEta, "mirostatEta", { $0 > 0 }, "must be above 0")
        if let topK = sampling.topK, topK < 0 { error(path.appending("topK"), "topK must be 0 (off) or more, found \(topK)") }
        if let mirostat = sampling.mirostat, !(0...2).contains(mirostat) {
            error(path.appending("mirostat"), "mirostat must be 0 (off), 1 or 2, found \(mirostat)")
        }
    }

    /// Keys the model's engine cannot apply are refused where they are written, never accepted and ignored.
    mutating func checkEngineSupport(_ model: Model, engine: EngineKind, at path: ManifestPath) {
        if engine == .rkllm, let sampling = model.sampling {
            // RKLLMParam has neither a seed nor min-p.
            if sampling.seed != nil {
                error(path.appending("sampling").appending("seed"), "the rkllm runtime has no seed; remove it")
            }
            if sampling.minP != nil {
                error(path.appending("sampling").appending("minP"), "the rkllm runtime has no min-p; remove it")
            }
        }
        if engine == .llamacpp, let lora = model.lora, !lora.isEmpty {
            // Adapters apply to a whole llama.cpp context, while requests sharing it pick adapters one by one.
            error(path.appending("lora"), "the llamacpp engine does not load LoRA adapters (engine rkllm does); remove lora")
        }
    }

    mutating func checkEngineOptions(_ model: Model, engine: EngineKind, soc: SoC, at path: ManifestPath) {
        if let npu = model.npu {
            let npuPath = path.appending("npu")
            if engine != .rkllm { warning(npuPath, "'npu' applies only to engine rkllm; it is ignored for \(engine.rawValue)") }
            if let cpus = npu.cpus {
                if cpus.isEmpty { error(npuPath.appending("cpus"), "cpus must list at least one core") }
                // auto: the largest supported SoC, since the board is only known when applying.
                let cores = soc.coreCount ?? (soc == .auto ? 8 : 32)
                var seen: Set<Int> = []
                for (index, cpu) in cpus.enumerated() {
                    let cpuPath = npuPath.appending("cpus").appending(index)
                    if !(0..<cores).contains(cpu) {
                        let board = soc == .auto ? "any supported SoC" : soc.rawValue
                        error(cpuPath, "CPU \(cpu) does not exist on \(board) (cores 0-\(cores - 1))")
                    } else if !seen.insert(cpu).inserted {
                        error(cpuPath, "CPU \(cpu) is listed twice")
                    }
                }
            }
            if let domain = npu.domain, domain < 0 { error(npuPath.appending("domain"), "domain must be 0 or more") }
            if let batch = npu.batch {
                if batch < 1 {
                    error(npuPath.appending("batch"), "batch must be at least 1")
                } else if batch > 8 {
                    warning(npuPath.appending("batch"), "batch \(batch) is above the 8 the runtime documentation recommends")
                }
            }
        }
        if let llama = model.llamacpp {
            let llamaPath = path.appending("llamacpp")
            if engine != .llamacpp {
                warning(llamaPath, "'llamacpp' applies only to engine llamacpp; it is ignored for \(engine.rawValue)")
            }
            if let threads = llama.threads, threads < 1 { error(llamaPath.appending("threads"), "threads must be at least 1") }
            if let parallel = llama.parallel, parallel < 1 {
                error(llamaPath.appending("parallel"), "parallel must be at least 1")
            }
            if let layers = llama.gpuLayers, layers < 0 { error(llamaPath.appending("gpuLayers"), "gpuLayers must be 0 or more") }
        }
    }

    mutating func resolvePromptCaches(_ caches: [PromptCache], at path: ManifestPath) -> [ResolvedPromptCache] {
        var seen: [String: Int] = [:]
        var resolved: [ResolvedPromptCache] = []
        for (index, cache) in caches.enumerated() {
            let cachePath = path.appending(index)
            checkNameSyntax(cache.name, at: cachePath.appending("name"), what: "prompt cache name")
            if let first = seen[cache.name.lowercased()] {
                error(
                    cachePath.appending("name"),
                    "prompt cache '\(cache.name)' is declared twice (first at line \(position(of: path.appending(first)).line))")
            }
            seen[cache.name.lowercased()] = seen[cache.name.lowercased()] ?? index
            switch (cache.system, cache.file) {
            case (let text?, nil):
                if text.isEmpty { error(cachePath.appending("system"), "system prompt must not be empty") }
                resolved.append(ResolvedPromptCache(name: cache.name, prompt: .text(text)))
            case (nil, let file?):
                let absolutePath = absolute(file)
                if !environment.fileExists(absolutePath) {
                    error(cachePath.appending("file"), "prompt file '\(absolutePath)' does not exist")
                }
                resolved.append(ResolvedPromptCache(name: cache.name, prompt: .file(absolutePath)))
            case (_?, _?): error(cachePath, "give exactly one of 'system' and 'file', not both")
            case (nil, nil): error(cachePath, "give one of 'system' (the prompt text) or 'file'")
            }
        }
        return resolved
    }

    mutating func resolveVision(_ vision: Vision?, engine: EngineKind, fileName: String, at path: ManifestPath)
        -> ResolvedVision?
    {
        guard let vision else { return nil }
        switch engine {
        case .llamacpp:
            for (key, given) in [
                ("encoder", vision.encoder != nil), ("imageStart", vision.imageStart != nil),
                ("imageEnd", vision.imageEnd != nil), ("imageContent", vision.imageContent != nil),
                ("npuCores", vision.npuCores != nil),
            ] where given {
                error(path.appending(key), "'\(key)' applies to rkllm models (an RKNN encoder); a llamacpp model has a projector")
            }
            guard let projector = vision.projector else {
                error(
                    path,
                    "a llamacpp vision model needs 'projector: {path: ...}' or '{huggingface: {repo, file}}' (its mmproj GGUF)")
                return nil
            }
            guard let source = visionFile(projector, at: path.appending("projector"), kind: "projector", suffix: ".gguf")
            else { return nil }
            return ResolvedVision(file: source)
        case .rkllm:
            if vision.projector != nil {
                error(
                    path.appending("projector"), "'projector' applies to llamacpp models; an rkllm model has an encoder (.rknn)")
            }
            guard let encoder = vision.encoder else {
                error(
                    path,
                    "an rkllm vision model needs 'encoder: {path: ...}' or '{huggingface: {repo, file}}' (its .rknn vision encoder)"
                )
                return nil
            }
            let source = visionFile(encoder, at: path.appending("encoder"), kind: "encoder", suffix: ".rknn")
            let tags = resolveImageTags(vision, fileName: fileName, at: path)
            let cores = resolveNPUCores(vision.npuCores, at: path.appending("npuCores"))
            guard let source, let tags else { return nil }
            return ResolvedVision(file: source, tags: tags, npuCores: cores)
        case .axllm, .upstream:
            error(path, "engine \(engine.rawValue) takes no vision part; remove vision")
            return nil
        }
    }

    private mutating func visionFile(_ source: ModelSource, at path: ManifestPath, kind: String, suffix: String)
        -> ResolvedSource?
    {
        guard let resolved = resolveModelSource(source, at: path, kind: kind) else { return nil }
        if let name = resolved.fileName, !name.lowercased().hasSuffix(suffix) {
            let filePath = source.path != nil ? path.appending("path") : path.appending("huggingface").appending("file")
            error(filePath, "a vision \(kind) is a \(suffix) file, found '\(name)'")
        }
        return resolved
    }

    /// The tags as written, else the ones the model's family uses (told by its file name).
    private mutating func resolveImageTags(_ vision: Vision, fileName: String, at path: ManifestPath) -> ImageTags? {
        let family = ImageTags.family(ofFile: fileName)
        guard let start = vision.imageStart ?? family?.start, let end = vision.imageEnd ?? family?.end,
            let content = vision.imageContent ?? family?.content
        else {
            error(
                path,
                "give imageStart, imageEnd and imageContent: the model's image tags (e.g. <|vision_start|>, <|vision_end|>, <|image_pad|> for Qwen-VL); they cannot be told from '\(fileName)'"
            )
            return nil
        }
        if content.isEmpty { error(path.appending("imageContent"), "imageContent must not be empty") }
        return ImageTags(start: start, end: end, content: content)
    }

    private mutating func resolveNPUCores(_ cores: [Int]?, at path: ManifestPath) -> [Int]? {
        guard let cores else { return nil }
        if cores.isEmpty { error(path, "npuCores must list at least one core (0, 1 or 2)") }
        var valid = true
        for (index, core) in cores.enumerated() {
            if !(0...2).contains(core) {
                error(path.appending(index), "NPU core \(core) does not exist (Rockchip NPUs have cores 0-2)")
                valid = false
            } else if cores[..<index].contains(core) {
                error(path.appending(index), "NPU core \(core) is listed twice")
                valid = false
            }
        }
        // The runtime's core masks: one core, the first two, or all three.
        if valid, !cores.isEmpty, cores.count > 1, Set(cores) != [0, 1], Set(cores) != [0, 1, 2] {
            error(path, "the RKNN runtime runs on one core, cores [0, 1] or cores [0, 1, 2], not \(cores)")
        }
        return cores
    }

    mutating func resolveLoRA(_ adapters: [LoRA], at path: ManifestPath) -> [ResolvedLoRA] {
        adapters.enumerated().compactMap { index, adapter in
            let adapterPath = path.appending(index)
            checkNameSyntax(adapter.name, at: adapterPath.appending("name"), what: "LoRA name")
            if adapters[..<index].contains(where: { $0.name.lowercased() == adapter.name.lowercased() }) {
                error(adapterPath.appending("name"), "LoRA '\(adapter.name)' is declared twice")
            }
            guard let source = resolveModelSource(adapter.source, at: adapterPath.appending("source"), kind: "LoRA") else {
                return nil
            }
            return ResolvedLoRA(name: adapter.name, source: source, scale: adapter.scale ?? 1)
        }
    }
}
