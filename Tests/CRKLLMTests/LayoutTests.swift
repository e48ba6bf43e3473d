// Checks from Swift what Sources/CRKLLM/rkllm_abi.h promises about the librkllmrt ABI.
//
// Every number below is written out by hand from the vendor's rkllm.h layouts (LP64: aarch64 and
// x86_64). None is computed from the header, so a wrong declaration fails here even if it is
// self-consistent. Where the reference gives only a struct's size and field order, the offsets are those
// that order implies under natural alignment, and the test says so. Field sizes follow from the C types
// the reference lists (pointer and size_t 8, int/int32_t/float/enum 4, bool and 8-bit integers 1).

import CRKLLM
import Testing

// MARK: - Table of expected layouts

/// The expected layout of one imported C type, next to what Swift measures for it.
struct LayoutCase: Sendable, CustomTestStringConvertible {
    struct Field: Sendable {
        let name: String
        let expectedOffset: Int
        let measuredOffset: Int?
        let expectedSize: Int
        let measuredSize: Int
    }

    let name: String
    let expectedSize: Int
    let expectedAlignment: Int
    let measuredSize: Int
    let measuredAlignment: Int
    let fields: [Field]
    /// Stored field names in declaration order as Swift sees them; empty for unions, which Swift imports
    /// with computed members only.
    let declaredFieldNames: [String]
    let isUnion: Bool

    var testDescription: String { name }

    /// Size of a type only known at run time (a key path's value type).
    private static func size(of type: any Any.Type) -> Int {
        func measure<Value>(_: Value.Type) -> Int { MemoryLayout<Value>.size }
        return measure(type)
    }

    init<T>(
        _ sample: T, size: Int, alignment: Int, union isUnion: Bool = false,
        _ fields: [(name: String, keyPath: PartialKeyPath<T>, offset: Int, size: Int)]
    ) {
        self.name = String(describing: T.self)
        self.expectedSize = size
        self.expectedAlignment = alignment
        self.measuredSize = MemoryLayout<T>.size
        self.measuredAlignment = MemoryLayout<T>.alignment
        self.fields = fields.map { field in
            Field(
                name: field.name,
                expectedOffset: field.offset,
                measuredOffset: MemoryLayout<T>.offset(of: field.keyPath),
                expectedSize: field.size,
                measuredSize: Self.size(of: type(of: field.keyPath).valueType))
        }
        self.declaredFieldNames = Mirror(reflecting: sample).children.compactMap(\.label)
        self.isUnion = isUnion
    }
}

extension LayoutCase {
    /// Structs that are the same in 1.2.1–1.2.3 and 1.3.0 (one C type, two versioned typedefs).
    static let shared: [LayoutCase] = [
        // Reference table: size 120, align 4, offsets as listed.
        LayoutCase(
            RKLLMExtendParam(), size: 120, alignment: 4,
            [
                ("base_domain_id", \.base_domain_id, 0, 4),
                ("embed_flash", \.embed_flash, 4, 1),
                ("enabled_cpus_num", \.enabled_cpus_num, 5, 1),
                ("enabled_cpus_mask", \.enabled_cpus_mask, 8, 4),
                ("n_batch", \.n_batch, 12, 1),
                ("use_cross_attn", \.use_cross_attn, 13, 1),
                ("reserved", \.reserved, 14, 104),
            ]),
        // Reference gives size 24 and field order; offsets follow from it.
        LayoutCase(
            RKLLMLoraAdapter(), size: 24, alignment: 8,
            [
                ("lora_adapter_path", \.lora_adapter_path, 0, 8),
                ("lora_adapter_name", \.lora_adapter_name, 8, 8),
                ("scale", \.scale, 16, 4),
            ]),
        LayoutCase(RKLLMEmbedInput(), size: 16, alignment: 8, [("embed", \.embed, 0, 8), ("n_tokens", \.n_tokens, 8, 8)]),
        LayoutCase(
            RKLLMTokenInput(), size: 16, alignment: 8, [("input_ids", \.input_ids, 0, 8), ("n_tokens", \.n_tokens, 8, 8)]),
        LayoutCase(RKLLMLoraParam(), size: 8, alignment: 8, [("lora_adapter_name", \.lora_adapter_name, 0, 8)]),
        LayoutCase(
            RKLLMPromptCacheParam(), size: 16, alignment: 8,
            [("save_prompt_cache", \.save_prompt_cache, 0, 4), ("prompt_cache_path", \.prompt_cache_path, 8, 8)]),
        LayoutCase(
            RKLLMCrossAttnParam(), size: 40, alignment: 8,
            [
                ("encoder_k_cache", \.encoder_k_cache, 0, 8),
                ("encoder_v_cache", \.encoder_v_cache, 8, 8),
                ("encoder_mask", \.encoder_mask, 16, 8),
                ("encoder_pos", \.encoder_pos, 24, 8),
                ("num_tokens", \.num_tokens, 32, 4),
            ]),
        LayoutCase(
            RKLLMResultLastHiddenLayer(), size: 16, alignment: 8,
            [("hidden_states", \.hidden_states, 0, 8), ("embd_size", \.embd_size, 8, 4), ("num_tokens", \.num_tokens, 12, 4)]),
        LayoutCase(
            RKLLMResultLogits(), size: 16, alignment: 8,
            [("logits", \.logits, 0, 8), ("vocab_size", \.vocab_size, 8, 4), ("num_tokens", \.num_tokens, 12, 4)]),
        // Reference: size 20, align 4.
        LayoutCase(
            RKLLMPerfStat(), size: 20, alignment: 4,
            [
                ("prefill_time_ms", \.prefill_time_ms, 0, 4),
                ("prefill_tokens", \.prefill_tokens, 4, 4),
                ("generate_time_ms", \.generate_time_ms, 8, 4),
                ("generate_tokens", \.generate_tokens, 12, 4),
                ("memory_usage_mb", \.memory_usage_mb, 16, 4),
            ]),
        // Reference table: size 72, offsets as listed (perf held by value).
        LayoutCase(
            RKLLMResult(), size: 72, alignment: 8,
            [
                ("text", \.text, 0, 8),
                ("token_id", \.token_id, 8, 4),
                ("last_hidden_layer", \.last_hidden_layer, 16, 16),
                ("logits", \.logits, 32, 16),
                ("perf", \.perf, 48, 20),
            ]),
    ]

    /// Runtime 1.2.1–1.2.3.
    static let v12: [LayoutCase] = [
        // Reference: 208 bytes; img_start/img_end/img_content follow is_async.
        LayoutCase(
            RKLLM12Param(), size: 208, alignment: 8,
            [
                ("model_path", \.model_path, 0, 8),
                ("max_context_len", \.max_context_len, 8, 4),
                ("max_new_tokens", \.max_new_tokens, 12, 4),
                ("top_k", \.top_k, 16, 4),
                ("n_keep", \.n_keep, 20, 4),
                ("top_p", \.top_p, 24, 4),
                ("temperature", \.temperature, 28, 4),
                ("repeat_penalty", \.repeat_penalty, 32, 4),
                ("frequency_penalty", \.frequency_penalty, 36, 4),
                ("presence_penalty", \.presence_penalty, 40, 4),
                ("mirostat", \.mirostat, 44, 4),
                ("mirostat_tau", \.mirostat_tau, 48, 4),
                ("mirostat_eta", \.mirostat_eta, 52, 4),
                ("skip_special_token", \.skip_special_token, 56, 1),
                ("is_async", \.is_async, 57, 1),
                ("img_start", \.img_start, 64, 8),
                ("img_end", \.img_end, 72, 8),
                ("img_content", \.img_content, 80, 8),
                ("extend_param", \.extend_param, 88, 120),
            ]),
        // Reference: flat, 48 bytes.
        LayoutCase(
            RKLLM12MultiModalInput(), size: 48, alignment: 8,
            [
                ("prompt", \.prompt, 0, 8),
                ("image_embed", \.image_embed, 8, 8),
                ("n_image_tokens", \.n_image_tokens, 16, 8),
                ("n_image", \.n_image, 24, 8),
                ("image_width", \.image_width, 32, 8),
                ("image_height", \.image_height, 40, 8),
            ]),
        LayoutCase(RKLLM12InputPayload(), size: 48, alignment: 8, union: true, []),
        // Reference: 64 bytes, union at 16.
        LayoutCase(
            RKLLM12Input(), size: 64, alignment: 8,
            [
                ("role", \.role, 0, 8),
                ("enable_thinking", \.enable_thinking, 8, 1),
                ("input_type", \.input_type, 12, 4),
                ("payload", \.payload, 16, 48),
            ]),
        // Reference: 32 bytes: mode, lora_params, prompt_cache_params, keep_history.
        LayoutCase(
            RKLLM12InferParam(), size: 32, alignment: 8,
            [
                ("mode", \.mode, 0, 4),
                ("lora_params", \.lora_params, 8, 8),
                ("prompt_cache_params", \.prompt_cache_params, 16, 8),
                ("keep_history", \.keep_history, 24, 4),
            ]),
    ]

    /// Runtime 1.3.0.
    static let v13: [LayoutCase] = [
        // Reference table: size 184, align 8.
        LayoutCase(
            RKLLM13Param(), size: 184, alignment: 8,
            [
                ("model_path", \.model_path, 0, 8),
                ("max_context_len", \.max_context_len, 8, 4),
                ("max_new_tokens", \.max_new_tokens, 12, 4),
                ("top_k", \.top_k, 16, 4),
                ("n_keep", \.n_keep, 20, 4),
                ("top_p", \.top_p, 24, 4),
                ("temperature", \.temperature, 28, 4),
                ("repeat_penalty", \.repeat_penalty, 32, 4),
                ("frequency_penalty", \.frequency_penalty, 36, 4),
                ("presence_penalty", \.presence_penalty, 40, 4),
                ("mirostat", \.mirostat, 44, 4),
                ("mirostat_tau", \.mirostat_tau, 48, 4),
                ("mirostat_eta", \.mirostat_eta, 52, 4),
                ("skip_special_token", \.skip_special_token, 56, 1),
                ("ignore_eos_token", \.ignore_eos_token, 57, 1),
                ("is_async", \.is_async, 58, 1),
                ("extend_param", \.extend_param, 60, 120),
            ]),
        // Reference: the image sub-struct sits at 8 and the video one at 72 of a 144-byte struct; the
        // offsets inside them follow from their field lists.
        LayoutCase(
            RKLLM13ImageInput(), size: 64, alignment: 8,
            [
                ("image_embed", \.image_embed, 0, 8),
                ("n_image_tokens", \.n_image_tokens, 8, 8),
                ("n_image", \.n_image, 16, 8),
                ("image_start", \.image_start, 24, 8),
                ("image_end", \.image_end, 32, 8),
                ("image_content", \.image_content, 40, 8),
                ("image_width", \.image_width, 48, 8),
                ("image_height", \.image_height, 56, 8),
            ]),
        LayoutCase(
            RKLLM13VideoInput(), size: 72, alignment: 8,
            [
                ("video_embed", \.video_embed, 0, 8),
                ("n_frame_tokens", \.n_frame_tokens, 8, 8),
                ("n_frame_per_video", \.n_frame_per_video, 16, 8),
                ("n_video", \.n_video, 24, 8),
                ("video_start", \.video_start, 32, 8),
                ("video_end", \.video_end, 40, 8),
                ("video_content", \.video_content, 48, 8),
                ("frame_width", \.frame_width, 56, 8),
                ("frame_height", \.frame_height, 64, 8),
            ]),
        LayoutCase(
            RKLLM13MultiModalInput(), size: 144, alignment: 8,
            [
                ("prompt", \.prompt, 0, 8),
                ("image", \.image, 8, 64),
                ("video", \.video, 72, 72),
                ("image.image_width", \.image.image_width, 56, 8),
                ("video.frame_height", \.video.frame_height, 136, 8),
            ]),
        LayoutCase(RKLLM13InputPayload(), size: 144, alignment: 8, union: true, []),
        // Reference table: size 160, union at 16.
        LayoutCase(
            RKLLM13Input(), size: 160, alignment: 8,
            [
                ("role", \.role, 0, 8),
                ("enable_thinking", \.enable_thinking, 8, 1),
                ("input_type", \.input_type, 12, 4),
                ("payload", \.payload, 16, 144),
            ]),
        // Reference: 36 bytes, align 4.
        LayoutCase(
            RKLLM13SamplingParam(), size: 36, alignment: 4,
            [
                ("top_k", \.top_k, 0, 4),
                ("top_p", \.top_p, 4, 4),
                ("temperature", \.temperature, 8, 4),
                ("repeat_penalty", \.repeat_penalty, 12, 4),
                ("frequency_penalty", \.frequency_penalty, 16, 4),
                ("presence_penalty", \.presence_penalty, 20, 4),
                ("mirostat", \.mirostat, 24, 4),
                ("mirostat_tau", \.mirostat_tau, 28, 4),
                ("mirostat_eta", \.mirostat_eta, 32, 4),
            ]),
        // Reference table: size 40.
        LayoutCase(
            RKLLM13InferParam(), size: 40, alignment: 8,
            [
                ("mode", \.mode, 0, 4),
                ("lora_params", \.lora_params, 8, 8),
                ("prompt_cache_params", \.prompt_cache_params, 16, 8),
                ("sampling_params", \.sampling_params, 24, 8),
                ("keep_history", \.keep_history, 32, 4),
                ("max_new_tokens", \.max_new_tokens, 36, 4),
            ]),
        // Reference: 48 bytes, three callback/userdata pairs in this order.
        LayoutCase(
            RKLLM13Callback(), size: 48, alignment: 8,
            [
                ("result_callback", \.result_callback, 0, 8),
                ("result_userdata", \.result_userdata, 8, 8),
                ("tokenizer_callback", \.tokenizer_callback, 16, 8),
                ("tokenizer_userdata", \.tokenizer_userdata, 24, 8),
                ("embed_callback", \.embed_callback, 32, 8),
                ("embed_userdata", \.embed_userdata, 40, 8),
            ]),
    ]
}

// MARK: - Layout

@Suite("librkllmrt struct layouts")
struct LayoutTests {
    @Test(
        "size, alignment, field offsets and field sizes match the reference",
        arguments: LayoutCase.shared + LayoutCase.v12 + LayoutCase.v13)
    func layoutMatchesReference(_ layout: LayoutCase) {
        #expect(layout.measuredSize == layout.expectedSize, "size of \(layout.name)")
        #expect(layout.measuredAlignment == layout.expectedAlignment, "alignment of \(layout.name)")
        for field in layout.fields {
            #expect(field.measuredOffset == field.expectedOffset, "offset of \(layout.name).\(field.name)")
            // A field declared too narrow can hide in padding without moving any offset.
            #expect(field.measuredSize == field.expectedSize, "size of \(layout.name).\(field.name)")
        }
        if !layout.isUnion {
            // No field missing, added or reordered relative to the table (nested paths are not top-level).
            let topLevel = layout.fields.map(\.name).filter { !$0.contains(".") }
            #expect(layout.declaredFieldNames == topLevel, "fields of \(layout.name)")
        }
    }

    @Test("every union member starts at the payload's offset in the input")
    func unionMembersOverlay() {
        let marker = UnsafeMutablePointer<Int32>(bitPattern: 0x1234_5678)

        var input13 = RKLLM13Input()
        input13.payload.token_input = RKLLMTokenInput(input_ids: marker, n_tokens: 7)
        // The reference puts the union at offset 16: the token pointer, then its count 8 bytes later.
        withUnsafeBytes(of: &input13) { bytes in
            #expect(bytes.load(fromByteOffset: 16, as: UInt.self) == 0x1234_5678)
            #expect(bytes.load(fromByteOffset: 24, as: Int.self) == 7)
        }
        // The same bytes read back through the other members.
        #expect(UInt(bitPattern: input13.payload.prompt_input) == 0x1234_5678)
        #expect(input13.payload.embed_input.n_tokens == 7)
        #expect(UInt(bitPattern: input13.payload.multimodal_input.prompt) == 0x1234_5678)
        #expect(UInt(bitPattern: input13.payload.multimodal_input.image.image_embed) == 7)

        var input12 = RKLLM12Input()
        input12.payload.multimodal_input.image_height = 480
        // 1.2.x multimodal payload is flat: image_height is its last field, at 40 within the union.
        withUnsafeBytes(of: &input12) { bytes in
            #expect(bytes.load(fromByteOffset: 16 + 40, as: Int.self) == 480)
        }
    }

    @Test("enums are int-sized and carry the vendor's values")
    func enumsAndConstants() {
        #expect(MemoryLayout<LLMCallState>.size == 4)
        #expect(MemoryLayout<RKLLMInputType>.size == 4)
        #expect(MemoryLayout<RKLLMInferMode>.size == 4)
        #expect(MemoryLayout<LLMHandle>.size == 8)

        #expect(
            [RKLLM_RUN_NORMAL, RKLLM_RUN_WAITING, RKLLM_RUN_FINISH, RKLLM_RUN_ERROR].map(\.rawValue) == [0, 1, 2, 3])
        #expect(
            [RKLLM_INPUT_PROMPT, RKLLM_INPUT_TOKEN, RKLLM_INPUT_EMBED, RKLLM_INPUT_MULTIMODAL].map(\.rawValue)
                == [0, 1, 2, 3])
        #expect(
            [RKLLM_INFER_GENERATE, RKLLM_INFER_GET_LAST_HIDDEN_LAYER, RKLLM_INFER_GET_LOGITS].map(\.rawValue) == [0, 1, 2])

        #expect(
            [RKLLM_CPU0, RKLLM_CPU1, RKLLM_CPU2, RKLLM_CPU3, RKLLM_CPU4, RKLLM_CPU5, RKLLM_CPU6, RKLLM_CPU7]
                == [1, 2, 4, 8, 16, 32, 64, 128])
        // The big cores of RK3588, as the vendor demo sets them.
        #expect(RKLLM_CPU4 | RKLLM_CPU5 | RKLLM_CPU6 | RKLLM_CPU7 == 0xF0)
    }

    @Test("dlsym names are the vendor's")
    func exportedSymbolNames() {
        #expect(
            [
                RKLLM_SYM_CREATE_DEFAULT_PARAM, RKLLM_SYM_INIT, RKLLM_SYM_LOAD_LORA, RKLLM_SYM_LOAD_PROMPT_CACHE,
                RKLLM_SYM_RELEASE_PROMPT_CACHE, RKLLM_SYM_DESTROY, RKLLM_SYM_RUN, RKLLM_SYM_RUN_ASYNC,
                RKLLM_SYM_ABORT, RKLLM_SYM_IS_RUNNING, RKLLM_SYM_CLEAR_KV_CACHE, RKLLM_SYM_GET_KV_CACHE_SIZE,
                RKLLM_SYM_SET_CHAT_TEMPLATE, RKLLM_SYM_SET_FUNCTION_TOOLS, RKLLM_SYM_SET_CROSS_ATTN_PARAMS,
            ] == [
                "rkllm_createDefaultParam", "rkllm_init", "rkllm_load_lora", "rkllm_load_prompt_cache",
                "rkllm_release_prompt_cache", "rkllm_destroy", "rkllm_run", "rkllm_run_async",
                "rkllm_abort", "rkllm_is_running", "rkllm_clear_kv_cache", "rkllm_get_kv_cache_size",
                "rkllm_set_chat_template", "rkllm_set_function_tools", "rkllm_set_cross_attn_params",
            ])
    }
}

// MARK: - What changed between 1.2.x and 1.3.0

@Suite("1.2.x and 1.3.0 differ where the reference says")
struct VersionDifferenceTests {
    private static func fieldNames<T>(_ value: T) -> [String] {
        Mirror(reflecting: value).children.compactMap(\.label)
    }

    @Test("RKLLMParam: ignore_eos_token added, image markers removed, 208 -> 184 bytes")
    func param() {
        let old = Self.fieldNames(RKLLM12Param())
        let new = Self.fieldNames(RKLLM13Param())
        #expect(!old.contains("ignore_eos_token") && new.contains("ignore_eos_token"))
        for marker in ["img_start", "img_end", "img_content"] {
            #expect(old.contains(marker) && !new.contains(marker), "\(marker)")
        }
        #expect(MemoryLayout<RKLLM12Param>.size == 208)
        #expect(MemoryLayout<RKLLM13Param>.size == 184)
        // is_async moves by one byte; extend_param moves up by 28.
        #expect(MemoryLayout<RKLLM12Param>.offset(of: \.is_async) == 57)
        #expect(MemoryLayout<RKLLM13Param>.offset(of: \.is_async) == 58)
        #expect(MemoryLayout<RKLLM12Param>.offset(of: \.extend_param) == 88)
        #expect(MemoryLayout<RKLLM13Param>.offset(of: \.extend_param) == 60)
    }

    @Test("RKLLMMultiModalInput is restructured into image and video parts, 48 -> 144 bytes")
    func multimodal() {
        #expect(Self.fieldNames(RKLLM12MultiModalInput()).contains("image_width"))
        #expect(Self.fieldNames(RKLLM13MultiModalInput()) == ["prompt", "image", "video"])
        #expect(Self.fieldNames(RKLLM13ImageInput()).contains("image_start"))
        #expect(MemoryLayout<RKLLM12MultiModalInput>.size == 48)
        #expect(MemoryLayout<RKLLM13MultiModalInput>.size == 144)
    }

    @Test("RKLLMInput keeps its head and grows with the union, 64 -> 160 bytes")
    func input() {
        #expect(Self.fieldNames(RKLLM12Input()) == Self.fieldNames(RKLLM13Input()))
        #expect(MemoryLayout<RKLLM12Input>.offset(of: \.payload) == MemoryLayout<RKLLM13Input>.offset(of: \.payload))
        #expect(MemoryLayout<RKLLM12Input>.size == 64)
        #expect(MemoryLayout<RKLLM13Input>.size == 160)
    }

    @Test("RKLLMInferParam gains sampling_params and max_new_tokens, 32 -> 40 bytes")
    func inferParam() {
        #expect(Self.fieldNames(RKLLM12InferParam()) == ["mode", "lora_params", "prompt_cache_params", "keep_history"])
        #expect(
            Self.fieldNames(RKLLM13InferParam()) == [
                "mode", "lora_params", "prompt_cache_params", "sampling_params", "keep_history", "max_new_tokens",
            ])
        #expect(MemoryLayout<RKLLM12InferParam>.offset(of: \.keep_history) == 24)
        #expect(MemoryLayout<RKLLM13InferParam>.offset(of: \.keep_history) == 32)
        #expect(MemoryLayout<RKLLM12InferParam>.size == 32)
        #expect(MemoryLayout<RKLLM13InferParam>.size == 40)
    }

    @Test("types unchanged between the versions are one type under both names")
    func sharedTypesAreIdentical() {
        #expect(RKLLM12ExtendParam.self == RKLLM13ExtendParam.self)
        #expect(RKLLM12LoraAdapter.self == RKLLM13LoraAdapter.self)
        #expect(RKLLM12EmbedInput.self == RKLLM13EmbedInput.self)
        #expect(RKLLM12TokenInput.self == RKLLM13TokenInput.self)
        #expect(RKLLM12LoraParam.self == RKLLM13LoraParam.self)
        #expect(RKLLM12PromptCacheParam.self == RKLLM13PromptCacheParam.self)
        #expect(RKLLM12CrossAttnParam.self == RKLLM13CrossAttnParam.self)
        #expect(RKLLM12ResultLastHiddenLayer.self == RKLLM13ResultLastHiddenLayer.self)
        #expect(RKLLM12ResultLogits.self == RKLLM13ResultLogits.self)
        #expect(RKLLM12PerfStat.self == RKLLM13PerfStat.self)
        #expect(RKLLM12Result.self == RKLLM13Result.self)
        #expect(RKLLM12InputType.self == RKLLM13InputType.self)
        #expect(RKLLM12InferMode.self == RKLLM13InferMode.self)
    }

    @Test("rkllm_init takes a bare result callback in 1.2.x and an RKLLMCallback struct in 1.3.0")
    func initSignatures() {
        // The explicit parameter types make this a compile-time check of each typedef's shape.
        let init12: rkllm12_init_fn = {
            (_: UnsafeMutablePointer<LLMHandle?>?, param: UnsafeMutablePointer<RKLLM12Param>?, callback: RKLLM12ResultCallback?)
                -> Int32 in
            var result = RKLLMResult()
            return (callback?(&result, nil, RKLLM_RUN_FINISH) ?? -1) + (param?.pointee.max_context_len ?? 0)
        }
        let init13: rkllm13_init_fn = {
            (
                _: UnsafeMutablePointer<LLMHandle?>?, param: UnsafeMutablePointer<RKLLM13Param>?,
                callbacks: UnsafeMutablePointer<RKLLM13Callback>?
            ) -> Int32 in
            var result = RKLLMResult()
            let callback = callbacks?.pointee.result_callback
            return (callback?(&result, callbacks?.pointee.result_userdata, RKLLM_RUN_FINISH) ?? -1)
                + (param?.pointee.max_context_len ?? 0)
        }
        // Returns the state it was called with, so the sum shows the callback ran with RKLLM_RUN_FINISH.
        let echoState: RKLLM13ResultCallback = { _, _, state in Int32(state.rawValue) }

        var handle: LLMHandle?
        var param12 = RKLLM12Param()
        param12.max_context_len = 4096
        #expect(init12(&handle, &param12, echoState) == 4098)

        var param13 = RKLLM13Param()
        param13.max_context_len = 4096
        var callbacks = RKLLM13Callback()
        callbacks.result_callback = echoState
        #expect(init13(&handle, &param13, &callbacks) == 4098)
    }

    @Test("run takes the version's own input and infer-param types")
    func runSignatures() {
        let run12: rkllm12_run_fn = {
            (
                _: LLMHandle?, input: UnsafeMutablePointer<RKLLM12Input>?, infer: UnsafeMutablePointer<RKLLM12InferParam>?,
                _: UnsafeMutableRawPointer?
            ) -> Int32 in
            Int32(input?.pointee.input_type.rawValue ?? 99) + (infer?.pointee.keep_history ?? 99)
        }
        let run13: rkllm13_run_fn = {
            (
                _: LLMHandle?, input: UnsafeMutablePointer<RKLLM13Input>?, infer: UnsafeMutablePointer<RKLLM13InferParam>?,
                _: UnsafeMutableRawPointer?
            ) -> Int32 in
            Int32(input?.pointee.input_type.rawValue ?? 99) + (infer?.pointee.max_new_tokens ?? 99)
        }
        var input12 = RKLLM12Input()
        input12.input_type = RKLLM_INPUT_TOKEN
        var infer12 = RKLLM12InferParam()
        infer12.keep_history = 1
        #expect(run12(nil, &input12, &infer12, nil) == 2)

        var input13 = RKLLM13Input()
        input13.input_type = RKLLM_INPUT_EMBED
        var infer13 = RKLLM13InferParam()
        infer13.max_new_tokens = 64
        #expect(run13(nil, &input13, &infer13, nil) == 66)

        let defaults12: rkllm12_createDefaultParam_fn = { RKLLM12Param() }
        let defaults13: rkllm13_createDefaultParam_fn = { RKLLM13Param() }
        #expect(defaults12().extend_param.n_batch == 0)
        #expect(defaults13().extend_param.n_batch == 0)
    }

    @Test("entry points that did not change have one signature under three names")
    func unchangedSignatures() {
        let clear: rkllm_clear_kv_cache_fn = {
            (
                _: LLMHandle?, keepSystemPrompt: Int32, start: UnsafeMutablePointer<Int32>?,
                end: UnsafeMutablePointer<Int32>?
            ) -> Int32 in
            keepSystemPrompt + (start?.pointee ?? 0) + (end?.pointee ?? 0)
        }
        let clear12: rkllm12_clear_kv_cache_fn = clear
        let clear13: rkllm13_clear_kv_cache_fn = clear
        var start: Int32 = 10
        var end: Int32 = 20
        #expect(clear12(nil, 1, &start, &end) == 31)
        #expect(clear13(nil, 1, nil, nil) == 1)

        let tools: rkllm_set_function_tools_fn = {
            (_: LLMHandle?, _: UnsafePointer<CChar>?, _: UnsafePointer<CChar>?, _: UnsafePointer<CChar>?) -> Int32 in 0
        }
        let tools12: rkllm12_set_function_tools_fn = tools
        let tools13: rkllm13_set_function_tools_fn = tools
        #expect(tools12(nil, nil, nil, nil) == 0 && tools13(nil, nil, nil, nil) == 0)
    }
}
