/// What the rkllm runtime can do with a request's sampling. Its `RKLLMParam` has no seed, no min-p and no
/// penalty window, and runtime 1.2 takes sampling only when the model is loaded (1.3 added a per-run
/// `sampling_params`). A request asking for what the runtime cannot apply is refused, never run without it.
enum RKLLMSamplingSupport {
    /// Why `requested` cannot be applied on `abi` to a model loaded with `loaded`; nil when it can.
    static func refusal(_ requested: Sampling, loaded: Sampling, abi: RKLLMRuntimeABI) -> String? {
        let missing = [
            requested.seed != nil ? "seed" : nil, requested.minP != nil ? "min_p" : nil,
            requested.repeatLastN != nil ? "repeat_last_n" : nil,
        ].compactMap { $0 }
        if !missing.isEmpty {
            return "the rkllm runtime has no \(missing.joined(separator: ", ")); leave \(missing.count == 1 ? "it" : "them") out"
        }
        // Values equal to the model's own are what runs anyway, so clients that always send them still work.
        if abi == .v1Dot2, RKLLMSamplingValues(requested.merged(over: loaded)) != RKLLMSamplingValues(loaded) {
            return "rkllm runtime 1.2 takes sampling only when the model loads; leave the sampling fields out of "
                + "the request or set them in the manifest's sampling (runtime 1.3 takes them per request)"
        }
        return nil
    }
}
