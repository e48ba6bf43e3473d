extension ManifestResolver {
    /// An axllm model's server: the binary (the model's own, else `runtimes.axllm.binary`), its generation
    /// (declared, else told by the binary's name) and the keys only that generation takes. Keys of other engines
    /// that this engine cannot apply are refused where they are written.
    mutating func resolveAXLLM(_ model: Model, engine: EngineKind, at path: ManifestPath) -> ResolvedAXLLMOptions? {
        let optionsPath = path.appending("axllm")
        guard engine == .axllm else {
            if model.axllm != nil { error(optionsPath, "'axllm' applies only to engine axllm; remove it") }
            return nil
        }
        checkAXLLMRefusals(model, at: path)
        let options = model.axllm ?? AXLLMOptions()
        guard let binary = (options.binary ?? manifest.runtimes?.axllm?.binary).map(absolute) else {
            error(path, "an axllm model needs its server binary: axllm.binary, or runtimes.axllm.binary for every axllm model")
            return nil
        }
        let name = binary.split(separator: "/").last.map(String.init) ?? binary
        let told: AXLLMServerKind? = name.hasPrefix("main_api") ? .legacy : name.hasPrefix("axllm") ? .serve : nil
        guard let server = options.server ?? told else {
            error(optionsPath, "cannot tell the server generation from '\(name)'; add server: serve | legacy")
            return nil
        }
        if server == .serve {
            for (key, present) in [
                ("args", options.args != nil), ("port", options.port != nil), ("tokenizer", options.tokenizer != nil),
            ]
            where present {
                error(
                    optionsPath.appending(key),
                    "'\(key)' is for the legacy server; axllm serve reads config.json in the model directory and takes a port the runner picks"
                )
            }
        }
        if server == .serve, let sampling = model.sampling {
            for (key, present) in [("topK", sampling.topK != nil), ("repeatPenalty", sampling.repeatPenalty != nil)] where present
            {
                error(
                    path.appending("sampling").appending(key),
                    "axllm serve takes \(key) only from the model's post_config.json; set it there and remove it here")
            }
        }
        if let port = options.port, !(1...65535).contains(port) {
            error(optionsPath.appending("port"), "port must be from 1 to 65535, found \(port)")
        }
        if let tokenizer = options.tokenizer, tokenizer.isEmpty {
            error(optionsPath.appending("tokenizer"), "tokenizer must name a command")
        }
        if let devices = options.devices {
            if devices.isEmpty { error(optionsPath.appending("devices"), "devices must list at least one card") }
            for (index, device) in devices.enumerated() where device < 0 {
                error(optionsPath.appending("devices").appending(index), "a device number is 0 or more, found \(device)")
            }
        }
        let startTimeout = options.startTimeout ?? ResolvedAXLLMOptions.defaultStartTimeout
        let hangTimeout = options.hangTimeout ?? ResolvedAXLLMOptions.defaultHangTimeout
        for (key, value) in [("startTimeout", startTimeout), ("hangTimeout", hangTimeout)] where value.milliseconds < 1000 {
            error(optionsPath.appending(key), "\(key) must be at least 1s")
        }
        return ResolvedAXLLMOptions(
            server: server, binary: binary, args: options.args ?? [], port: options.port, tokenizer: options.tokenizer,
            devices: options.devices, startTimeout: startTimeout, hangTimeout: hangTimeout)
    }

    /// What the vendor servers have no way to apply: the model's chat template and sampling live in its own
    /// files, and there is no state to save or adapter to load.
    private mutating func checkAXLLMRefusals(_ model: Model, at path: ManifestPath) {
        let unsupported: [(String, Bool, String)] = [
            ("chatTemplate", model.chatTemplate != nil, "the AXERA server applies the model's own template"),
            ("promptCaches", !(model.promptCaches ?? []).isEmpty, "the AXERA server has no prompt caches"),
            ("lora", !(model.lora ?? []).isEmpty, "the AXERA server loads no adapters"),
        ]
        for (key, present, why) in unsupported where present { error(path.appending(key), "\(why); remove \(key)") }
        if model.source?.huggingface != nil {
            error(
                path.appending("source").appending("huggingface"),
                "an axllm model is a directory of files; download it and give source: {path: <model directory>}")
        }
        guard let sampling = model.sampling else { return }
        let samplingPath = path.appending("sampling")
        let keys: [(String, Bool)] = [
            ("minP", sampling.minP != nil), ("seed", sampling.seed != nil), ("mirostat", sampling.mirostat != nil),
            ("frequencyPenalty", sampling.frequencyPenalty != nil), ("presencePenalty", sampling.presencePenalty != nil),
        ]
        for (key, present) in keys where present {
            error(samplingPath.appending(key), "the AXERA server has no \(key); remove it")
        }
    }
}
