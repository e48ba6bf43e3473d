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

    mutating func resolveVision(_ vision: Vision?, engine: EngineKind, at path: ManifestPath) -> ResolvedVision? {
        guard let vision else { return nil }
        guard engine == .llamacpp else {
            let reason =
                engine == .rkllm
                ? "images on the rkllm engine (an RKNN vision encoder) are not supported yet"
                : "engine \(engine.rawValue) takes no vision part"
            error(path, "\(reason); remove vision")
            return nil
        }
        guard let projector = vision.projector else {
            error(path, "a llamacpp vision model needs 'projector: {path: ...}' or '{huggingface: {repo, file}}' (its mmproj GGUF)")
            return nil
        }
        let projectorPath = path.appending("projector")
        guard let source = resolveModelSource(projector, at: projectorPath, kind: "projector") else { return nil }
        if let name = source.fileName, !name.lowercased().hasSuffix(".gguf") {
            let filePath = projector.path != nil ? projectorPath.appending("path") : projectorPath.appending("huggingface").appending("file")
            error(filePath, "a projector is an mmproj .gguf file, found '\(name)'")
        }
        return ResolvedVision(projector: source)
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
