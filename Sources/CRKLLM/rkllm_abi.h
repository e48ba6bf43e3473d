/*
 * rkllm_abi.h: RockchipLlama's own C11 declaration of the librkllmrt.so ABI.
 *
 * The vendor's rkllm.h cannot be used from a Swift C module: it includes <cstdint> and uses `bool`
 * without <stdbool.h>, so it only compiles as C++. This file re-declares the same binary interface in
 * plain C11. Nothing here is linked; the engine dlopen()s the library, reads the runtime version and
 * then dlsym()s the entry points below through the function-pointer typedefs of that version.
 *
 * Two ABI generations are declared side by side because they are binary-incompatible:
 *
 *   "12"  runtime 1.2.1, 1.2.2 and 1.2.3 (one ABI across the three releases)
 *   "13"  runtime 1.3.0
 *
 * 1.2.0 and older are NOT covered. 1.2.0 lacks `role`/`enable_thinking` in the input, `n_batch` and
 * `use_cross_attn` in the extend params, and perf stats; its result callback returns void and its
 * rkllm_clear_kv_cache takes two arguments. Calling a 1.2.0 library through the "12" typedefs is wrong.
 *
 * Naming:
 *   - A type that differs between the generations exists only with a version number after the vendor
 *     prefix: RKLLM12Param / RKLLM13Param, RKLLM12Input / RKLLM13Input, ...
 *   - A type that is byte-for-byte the same in both is defined once under the vendor's own name
 *     (RKLLMResult, RKLLMExtendParam, ...) and ALSO given both versioned names as typedefs, so the engine
 *     can spell every type of one generation with the same prefix.
 *   - A type that exists only in 1.3.0 has only the RKLLM13 name.
 *   - Function pointers: rkllm12_<symbol>_fn / rkllm13_<symbol>_fn, where <symbol> is the exported name
 *     without its "rkllm_" prefix (rkllm_createDefaultParam -> rkllm13_createDefaultParam_fn). Entry points
 *     whose signature did not change also get a version-free rkllm_<symbol>_fn.
 *   - The dlsym names are the vendor's and are the same in both generations: RKLLM_SYM_* below.
 *   - LLMHandle, LLMCallState and the CPU mask constants are shared and declared once.
 *
 * Layout: every type's size and alignment and every field's offset and size are checked with static
 * assertions at the end of this file, against the sizes and offsets of the vendor's rkllm.h for 1.2.x and
 * 1.3.x on LP64 (aarch64 and x86_64).
 */
#ifndef ROCKCHIPLLAMA_RKLLM_ABI_H
#define ROCKCHIPLLAMA_RKLLM_ABI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ====================================================================================================
 * Shared by both generations
 * ==================================================================================================== */

/* Opaque runtime instance, filled in by rkllm_init. */
typedef void *LLMHandle;

/* Bits for RKLLMExtendParam.enabled_cpus_mask (the vendor calls them CPU0..CPU7). On RK3588/RK3576
 * CPUs 4-7 are the big cores. */
#define RKLLM_CPU0 (1u << 0)
#define RKLLM_CPU1 (1u << 1)
#define RKLLM_CPU2 (1u << 2)
#define RKLLM_CPU3 (1u << 3)
#define RKLLM_CPU4 (1u << 4)
#define RKLLM_CPU5 (1u << 5)
#define RKLLM_CPU6 (1u << 6)
#define RKLLM_CPU7 (1u << 7)

/* State passed to the result callback. WAITING means the bytes decoded so far end inside a UTF-8
 * sequence: keep them and join them with the next callback's text. Perf stats are only valid at FINISH.
 * (Up to 1.1.4 there was a fifth value, 4 = GET_LAST_HIDDEN_LAYER; it no longer exists.) */
typedef enum {
    RKLLM_RUN_NORMAL = 0,
    RKLLM_RUN_WAITING = 1,
    RKLLM_RUN_FINISH = 2,
    RKLLM_RUN_ERROR = 3,
} LLMCallState;

/* Which member of the input union is valid. PROMPT text goes through the model's chat template. */
typedef enum {
    RKLLM_INPUT_PROMPT = 0,
    RKLLM_INPUT_TOKEN = 1,
    RKLLM_INPUT_EMBED = 2,
    RKLLM_INPUT_MULTIMODAL = 3,
} RKLLMInputType;
typedef RKLLMInputType RKLLM12InputType;
typedef RKLLMInputType RKLLM13InputType;

/* What a run produces: generated text, or the last hidden layer / logits handed to the callback (those
 * buffers are only valid inside the callback that receives them). */
typedef enum {
    RKLLM_INFER_GENERATE = 0,
    RKLLM_INFER_GET_LAST_HIDDEN_LAYER = 1,
    RKLLM_INFER_GET_LOGITS = 2,
} RKLLMInferMode;
typedef RKLLMInferMode RKLLM12InferMode;
typedef RKLLMInferMode RKLLM13InferMode;

/* ----------------------------------------------------------------------------------------------------
 * Structs that are identical in 1.2.1-1.2.3 and 1.3.0
 * ---------------------------------------------------------------------------------------------------- */

/* Hardware placement, nested by value inside the init params. */
typedef struct {
    int32_t base_domain_id;     /* IOMMU domain the model is mapped into (~4 GB each); 0 by default. A
                                   second model or a vision encoder on the same NPU wants another one. */
    int8_t embed_flash;         /* 1: leave the embedding table in the model file and read it on demand
                                   instead of holding it in RAM. */
    int8_t enabled_cpus_num;    /* how many CPUs the runtime uses (1-8 on RK3588/RK3576, 1-4 on RK3562) */
    uint32_t enabled_cpus_mask; /* RKLLM_CPUn bits */
    uint8_t n_batch;            /* inputs per forward pass; >1 means rkllm_run takes an array of n_batch
                                   inputs and the callback gets n_batch results */
    int8_t use_cross_attn;      /* 1 only for custom models fed through rkllm_set_cross_attn_params */
    uint8_t reserved[104];      /* keeps the struct at 120 bytes for future fields; leave zeroed */
} RKLLMExtendParam;
typedef RKLLMExtendParam RKLLM12ExtendParam;
typedef RKLLMExtendParam RKLLM13ExtendParam;

/* Argument of rkllm_load_lora. */
typedef struct {
    const char *lora_adapter_path;
    const char *lora_adapter_name; /* the name later selected per run through RKLLMLoraParam */
    float scale;
} RKLLMLoraAdapter;
typedef RKLLMLoraAdapter RKLLM12LoraAdapter;
typedef RKLLMLoraAdapter RKLLM13LoraAdapter;

/* RKLLM_INPUT_EMBED payload: n_tokens x embedding-dim floats. */
typedef struct {
    float *embed;
    size_t n_tokens;
} RKLLMEmbedInput;
typedef RKLLMEmbedInput RKLLM12EmbedInput;
typedef RKLLMEmbedInput RKLLM13EmbedInput;

/* RKLLM_INPUT_TOKEN payload. */
typedef struct {
    int32_t *input_ids;
    size_t n_tokens;
} RKLLMTokenInput;
typedef RKLLMTokenInput RKLLM12TokenInput;
typedef RKLLMTokenInput RKLLM13TokenInput;

/* Per-run LoRA selection (NULL pointer in the infer params = no adapter). */
typedef struct {
    const char *lora_adapter_name;
} RKLLMLoraParam;
typedef RKLLMLoraParam RKLLM12LoraParam;
typedef RKLLMLoraParam RKLLM13LoraParam;

/* Per-run prompt-cache request: with save_prompt_cache = 1 the runtime writes the prefill state of this
 * run to prompt_cache_path once the run ends; rkllm_load_prompt_cache reads it back later. */
typedef struct {
    int save_prompt_cache;
    const char *prompt_cache_path;
} RKLLMPromptCacheParam;
typedef RKLLMPromptCacheParam RKLLM12PromptCacheParam;
typedef RKLLMPromptCacheParam RKLLM13PromptCacheParam;

/* Encoder state for cross-attention models (all float32). */
typedef struct {
    float *encoder_k_cache; /* [layers][tokens][kv_heads][head_dim] */
    float *encoder_v_cache; /* [layers][kv_heads][head_dim][tokens]: note the different order from K */
    float *encoder_mask;    /* [tokens] */
    int32_t *encoder_pos;   /* [tokens] */
    int num_tokens;
} RKLLMCrossAttnParam;
typedef RKLLMCrossAttnParam RKLLM12CrossAttnParam;
typedef RKLLMCrossAttnParam RKLLM13CrossAttnParam;

/* Filled in RKLLM_INFER_GET_LAST_HIDDEN_LAYER mode; num_tokens x embd_size floats. */
typedef struct {
    const float *hidden_states;
    int embd_size;
    int num_tokens;
} RKLLMResultLastHiddenLayer;
typedef RKLLMResultLastHiddenLayer RKLLM12ResultLastHiddenLayer;
typedef RKLLMResultLastHiddenLayer RKLLM13ResultLastHiddenLayer;

/* Filled in RKLLM_INFER_GET_LOGITS mode; num_tokens x vocab_size floats. */
typedef struct {
    const float *logits;
    int vocab_size;
    int num_tokens;
} RKLLMResultLogits;
typedef RKLLMResultLogits RKLLM12ResultLogits;
typedef RKLLMResultLogits RKLLM13ResultLogits;

/* Timings of one run; only meaningful in the RKLLM_RUN_FINISH callback. */
typedef struct {
    float prefill_time_ms;
    int prefill_tokens;
    float generate_time_ms;
    int generate_tokens;
    float memory_usage_mb; /* peak resident set (VmHWM) of the process */
} RKLLMPerfStat;
typedef RKLLMPerfStat RKLLM12PerfStat;
typedef RKLLMPerfStat RKLLM13PerfStat;

/* What the result callback receives; with n_batch > 1 it is an array of n_batch of these. */
typedef struct {
    const char *text;  /* may be NULL (always check in batched runs) */
    int32_t token_id;  /* negative: this batch slot has finished */
    RKLLMResultLastHiddenLayer last_hidden_layer;
    RKLLMResultLogits logits;
    RKLLMPerfStat perf; /* held by value, although the vendor comment calls it a pointer */
} RKLLMResult;
typedef RKLLMResult RKLLM12Result;
typedef RKLLMResult RKLLM13Result;

/* Token/text callback. The pointer argument is only valid during the call. Return 0 to continue,
 * 1 to pause (the KV cache is kept; call rkllm_run again to resume), and in 1.3.0 also 2 to have the
 * runtime free the current output buffer right away (large hidden-layer/logits results).
 * The int return exists since 1.2.1 and is unchanged in 1.3.0. */
typedef int (*LLMResultCallback)(RKLLMResult *result, void *userdata, LLMCallState state);
typedef LLMResultCallback RKLLM12ResultCallback;
typedef LLMResultCallback RKLLM13ResultCallback;

/* ====================================================================================================
 * 1.2.1 - 1.2.3
 * ==================================================================================================== */

/* Init parameters, 208 bytes. Start from rkllm_createDefaultParam() and override. Compared with 1.3.0:
 * no ignore_eos_token, and three image-marker strings before extend_param. */
typedef struct {
    const char *model_path;
    int32_t max_context_len;
    int32_t max_new_tokens;
    int32_t top_k; /* an integer: some third-party bindings declare it float, which is wrong */
    int32_t n_keep; /* KV entries kept at the front when the window shifts or is cleared; cover the system
                       prompt for multi-turn use */
    float top_p;
    float temperature;
    float repeat_penalty;
    float frequency_penalty;
    float presence_penalty;
    int32_t mirostat; /* 0 off, 1 mirostat, 2 mirostat 2.0 */
    float mirostat_tau;
    float mirostat_eta;
    bool skip_special_token;
    bool is_async;
    const char *img_start;   /* image marker strings for multimodal prompts; removed in 1.3.0 */
    const char *img_end;
    const char *img_content;
    RKLLMExtendParam extend_param;
} RKLLM12Param;

/* Multimodal payload, flat, 48 bytes (1.2.1/1.2.2 spelled the vendor name "RKLLMMultiModelInput"). */
typedef struct {
    char *prompt; /* contains one <image> tag per image */
    float *image_embed; /* n_image x n_image_tokens x embedding-dim floats */
    size_t n_image_tokens;
    size_t n_image;
    size_t image_width;  /* used for rotary position computation (mrope) */
    size_t image_height;
} RKLLM12MultiModalInput;

/* The vendor header uses an anonymous union here. It is named (type and member) in this file so Swift
 * sees a stored `payload` field whose offset can be checked; the bytes are the same. */
typedef union {
    const char *prompt_input;
    RKLLMEmbedInput embed_input;
    RKLLMTokenInput token_input;
    RKLLM12MultiModalInput multimodal_input;
} RKLLM12InputPayload;

/* One input of a run, 64 bytes. */
typedef struct {
    const char *role;     /* "user", or "tool" for a tool-result turn */
    bool enable_thinking; /* thinking mode for templates that support it; ignored once
                             rkllm_set_chat_template has replaced the template */
    RKLLMInputType input_type;
    RKLLM12InputPayload payload;
} RKLLM12Input;

/* Per-run parameters, 32 bytes. No sampling override or max_new_tokens in this generation. */
typedef struct {
    RKLLMInferMode mode;
    RKLLMLoraParam *lora_params;                /* NULL: no adapter */
    RKLLMPromptCacheParam *prompt_cache_params; /* NULL: do not save a cache */
    int keep_history; /* 1: keep this turn in the KV cache for the next run; 0: start from scratch */
} RKLLM12InferParam;

/* ====================================================================================================
 * 1.3.0
 * ==================================================================================================== */

/* Init parameters, 184 bytes. ignore_eos_token is new and sits between the two older bools, which moves
 * is_async by one byte; the image-marker strings are gone (they moved into RKLLM13ImageInput), so
 * extend_param now starts at offset 60 instead of 88. */
typedef struct {
    const char *model_path;
    int32_t max_context_len;
    int32_t max_new_tokens; /* default cap; a run may override it (RKLLM13InferParam.max_new_tokens) */
    int32_t top_k;          /* an integer, see RKLLM12Param */
    int32_t n_keep;
    float top_p;
    float temperature;
    float repeat_penalty;
    float frequency_penalty;
    float presence_penalty;
    int32_t mirostat;
    float mirostat_tau;
    float mirostat_eta;
    bool skip_special_token;
    bool ignore_eos_token; /* new: keep generating past EOS */
    bool is_async;
    RKLLMExtendParam extend_param;
} RKLLM13Param;

/* Image part of a 1.3.0 multimodal input (an anonymous struct in the vendor header). */
typedef struct {
    float *image_embed; /* n_image x n_image_tokens x embedding-dim floats */
    size_t n_image_tokens;
    size_t n_image;
    const char *image_start; /* marker strings; in 1.2.x these were init parameters */
    const char *image_end;
    const char *image_content;
    size_t image_width;
    size_t image_height;
} RKLLM13ImageInput;

/* Video part of a 1.3.0 multimodal input (new in 1.3.0; anonymous in the vendor header). */
typedef struct {
    float *video_embed;
    size_t n_frame_tokens;
    size_t n_frame_per_video;
    size_t n_video;
    const char *video_start;
    const char *video_end;
    const char *video_content;
    size_t frame_width;
    size_t frame_height;
} RKLLM13VideoInput;

/* Multimodal payload, 144 bytes (48 in 1.2.x), which is what makes RKLLM13Input 160 bytes. */
typedef struct {
    char *prompt;
    RKLLM13ImageInput image;
    RKLLM13VideoInput video;
} RKLLM13MultiModalInput;

/* Named for the same reason as RKLLM12InputPayload. */
typedef union {
    const char *prompt_input;
    RKLLMEmbedInput embed_input;
    RKLLMTokenInput token_input;
    RKLLM13MultiModalInput multimodal_input;
} RKLLM13InputPayload;

/* One input of a run, 160 bytes. Same head as 1.2.x; only the union grew. */
typedef struct {
    const char *role;
    bool enable_thinking;
    RKLLMInputType input_type;
    RKLLM13InputPayload payload;
} RKLLM13Input;

/* Per-run sampling override (new in 1.3.0), same meaning as the fields of RKLLM13Param. */
typedef struct {
    int32_t top_k;
    float top_p;
    float temperature;
    float repeat_penalty;
    float frequency_penalty;
    float presence_penalty;
    int32_t mirostat;
    float mirostat_tau;
    float mirostat_eta;
} RKLLM13SamplingParam;

/* Per-run parameters, 40 bytes: sampling_params is inserted before keep_history (which moves from 24 to
 * 32) and max_new_tokens is appended. */
typedef struct {
    RKLLMInferMode mode;
    RKLLMLoraParam *lora_params;
    RKLLMPromptCacheParam *prompt_cache_params;
    RKLLM13SamplingParam *sampling_params; /* NULL: use the init-time sampling */
    int keep_history;
    int32_t max_new_tokens; /* <= 0: use the init-time value */
} RKLLM13InferParam;

/* Supplies token ids for text when the model was exported without its tokenizer. Returns the number of
 * tokens written (at most n_tokens_max), negative on error. */
typedef int (*RKLLM13TokenizerCallback)(void *userdata, const char *text, int32_t text_len, int32_t *tokens,
                                        int32_t n_tokens_max);

/* Supplies embeddings when the model was exported without its embedding table: fill `len` bytes
 * (num_tokens x embedding-dim x sizeof(float)) at `embed`. Returns 0 on success. */
typedef int (*RKLLM13GetEmbedCallback)(void *userdata, int32_t *tokens, uint64_t num_tokens, void *embed,
                                       uint64_t len);

/* What rkllm_init takes instead of a bare callback since 1.3.0. The tokenizer and embed callbacks may be
 * NULL unless the model needs them. result_userdata is used when rkllm_run's own userdata is NULL. */
typedef struct {
    RKLLM13ResultCallback result_callback;
    void *result_userdata;
    RKLLM13TokenizerCallback tokenizer_callback;
    void *tokenizer_userdata;
    RKLLM13GetEmbedCallback embed_callback;
    void *embed_userdata;
} RKLLM13Callback;

/* ====================================================================================================
 * Exported symbols (dlsym names; identical in both generations) and their function-pointer types.
 * All int-returning calls return 0 on success and non-zero (the doc says -1) on failure, except
 * rkllm_is_running, whose meaning is inverted between the two headers (see below).
 * ==================================================================================================== */

#define RKLLM_SYM_CREATE_DEFAULT_PARAM "rkllm_createDefaultParam"
#define RKLLM_SYM_INIT "rkllm_init"
#define RKLLM_SYM_LOAD_LORA "rkllm_load_lora"
#define RKLLM_SYM_LOAD_PROMPT_CACHE "rkllm_load_prompt_cache"
#define RKLLM_SYM_RELEASE_PROMPT_CACHE "rkllm_release_prompt_cache"
#define RKLLM_SYM_DESTROY "rkllm_destroy"
#define RKLLM_SYM_RUN "rkllm_run"
#define RKLLM_SYM_RUN_ASYNC "rkllm_run_async"
#define RKLLM_SYM_ABORT "rkllm_abort"
#define RKLLM_SYM_IS_RUNNING "rkllm_is_running"
#define RKLLM_SYM_CLEAR_KV_CACHE "rkllm_clear_kv_cache"
#define RKLLM_SYM_GET_KV_CACHE_SIZE "rkllm_get_kv_cache_size"
#define RKLLM_SYM_SET_CHAT_TEMPLATE "rkllm_set_chat_template"
#define RKLLM_SYM_SET_FUNCTION_TOOLS "rkllm_set_function_tools"
#define RKLLM_SYM_SET_CROSS_ATTN_PARAMS "rkllm_set_cross_attn_params"

/* --- Entry points whose signature is the same in both generations --------------------------------- */

typedef int (*rkllm_load_lora_fn)(LLMHandle handle, RKLLMLoraAdapter *lora_adapter);
typedef int (*rkllm_load_prompt_cache_fn)(LLMHandle handle, const char *prompt_cache_path);
typedef int (*rkllm_release_prompt_cache_fn)(LLMHandle handle);
typedef int (*rkllm_destroy_fn)(LLMHandle handle);
/* Asks the current run to stop. */
typedef int (*rkllm_abort_fn)(LLMHandle handle);
/* Undecided convention: the 1.2.x header comment says 0 = a run is in progress, the 1.3.0 comment says
 * 1 = a run is in progress. Verify on a device before relying on it. */
typedef int (*rkllm_is_running_fn)(LLMHandle handle);
/* With both arrays NULL, clears the whole cache (keeping the system prompt when keep_system_prompt = 1).
 * Otherwise clears [start_pos[i], end_pos[i]) for each batch slot i; ranges only work on a run paused by
 * the callback with keep_history = 0. */
typedef int (*rkllm_clear_kv_cache_fn)(LLMHandle handle, int keep_system_prompt, int *start_pos, int *end_pos);
/* Writes the current KV length of each batch slot; cache_sizes must hold n_batch ints. */
typedef int (*rkllm_get_kv_cache_size_fn)(LLMHandle handle, int *cache_sizes);
/* Replaces the template taken from the model (and disables enable_thinking). */
typedef int (*rkllm_set_chat_template_fn)(LLMHandle handle, const char *system_prompt, const char *prompt_prefix,
                                          const char *prompt_postfix);
/* tools is an OpenAI-style JSON array of function definitions; tool_response_str is the marker the
 * template uses for tool output (the vendor demos pass "tool_response"). */
typedef int (*rkllm_set_function_tools_fn)(LLMHandle handle, const char *system_prompt, const char *tools,
                                           const char *tool_response_str);
typedef int (*rkllm_set_cross_attn_params_fn)(LLMHandle handle, RKLLMCrossAttnParam *cross_attn_params);

/* --- 1.2.1 - 1.2.3 ---------------------------------------------------------------------------------- */

/* Returns the struct by value (208 bytes: returned through a caller-provided buffer on both ABIs). */
typedef RKLLM12Param (*rkllm12_createDefaultParam_fn)(void);
/* The callback is passed directly; per-run userdata comes from rkllm_run. */
typedef int (*rkllm12_init_fn)(LLMHandle *handle, RKLLM12Param *param, RKLLM12ResultCallback callback);
/* rkllm_input points to n_batch inputs. Blocks until the run ends; callbacks fire on the runtime's
 * thread meanwhile. */
typedef int (*rkllm12_run_fn)(LLMHandle handle, RKLLM12Input *rkllm_input, RKLLM12InferParam *rkllm_infer_params,
                              void *userdata);
/* Non-blocking variant of run; it appears in the header only, the vendor PDFs do not describe it. */
typedef int (*rkllm12_run_async_fn)(LLMHandle handle, RKLLM12Input *rkllm_input,
                                    RKLLM12InferParam *rkllm_infer_params, void *userdata);
typedef rkllm_load_lora_fn rkllm12_load_lora_fn;
typedef rkllm_load_prompt_cache_fn rkllm12_load_prompt_cache_fn;
typedef rkllm_release_prompt_cache_fn rkllm12_release_prompt_cache_fn;
typedef rkllm_destroy_fn rkllm12_destroy_fn;
typedef rkllm_abort_fn rkllm12_abort_fn;
typedef rkllm_is_running_fn rkllm12_is_running_fn;
typedef rkllm_clear_kv_cache_fn rkllm12_clear_kv_cache_fn;
typedef rkllm_get_kv_cache_size_fn rkllm12_get_kv_cache_size_fn;
typedef rkllm_set_chat_template_fn rkllm12_set_chat_template_fn;
typedef rkllm_set_function_tools_fn rkllm12_set_function_tools_fn;
typedef rkllm_set_cross_attn_params_fn rkllm12_set_cross_attn_params_fn;

/* --- 1.3.0 ------------------------------------------------------------------------------------------- */

typedef RKLLM13Param (*rkllm13_createDefaultParam_fn)(void);
/* Takes a pointer to the callback struct instead of a function pointer: a bare callback passed to a
 * 1.3.0 library would be dereferenced as if it pointed to an RKLLM13Callback. */
typedef int (*rkllm13_init_fn)(LLMHandle *handle, RKLLM13Param *param, RKLLM13Callback *callback);
/* userdata: when NULL the runtime passes RKLLM13Callback.result_userdata to the callback instead. */
typedef int (*rkllm13_run_fn)(LLMHandle handle, RKLLM13Input *rkllm_input, RKLLM13InferParam *rkllm_infer_params,
                              void *userdata);
typedef int (*rkllm13_run_async_fn)(LLMHandle handle, RKLLM13Input *rkllm_input,
                                    RKLLM13InferParam *rkllm_infer_params, void *userdata);
typedef rkllm_load_lora_fn rkllm13_load_lora_fn;
typedef rkllm_load_prompt_cache_fn rkllm13_load_prompt_cache_fn;
typedef rkllm_release_prompt_cache_fn rkllm13_release_prompt_cache_fn;
typedef rkllm_destroy_fn rkllm13_destroy_fn;
typedef rkllm_abort_fn rkllm13_abort_fn;
typedef rkllm_is_running_fn rkllm13_is_running_fn;
typedef rkllm_clear_kv_cache_fn rkllm13_clear_kv_cache_fn;
typedef rkllm_get_kv_cache_size_fn rkllm13_get_kv_cache_size_fn;
typedef rkllm_set_chat_template_fn rkllm13_set_chat_template_fn;
typedef rkllm_set_function_tools_fn rkllm13_set_function_tools_fn;
typedef rkllm_set_cross_attn_params_fn rkllm13_set_cross_attn_params_fn;

/* ====================================================================================================
 * Layout checks
 *
 * The numbers are those of the vendor's rkllm.h for LP64 (8-byte pointers and size_t, 4-byte
 * int, float and enums, 1-byte bool, natural alignment). aarch64 (AAPCS64, Linux and Apple) and x86_64
 * (System V) agree on every type used here: there are no bit-fields, long doubles or 128-bit integers,
 * and both give enums with small non-negative values 4 bytes. So one set of checks covers both and no
 * per-architecture branch is needed. On a 32-bit target (the vendor also ships armhf) the declarations
 * above are still the right C, but every pointer-bearing size differs, so the checks are skipped there.
 * ==================================================================================================== */

#if defined(__LP64__) || defined(_LP64)

/* C11 spells it _Static_assert/_Alignof; the C++ branch only exists so a C++ simulator could include us. */
#ifdef __cplusplus
#define RKLLM_ABI_STATIC_ASSERT static_assert
#define RKLLM_ABI_ALIGNOF alignof
#else
#define RKLLM_ABI_STATIC_ASSERT _Static_assert
#define RKLLM_ABI_ALIGNOF _Alignof
#endif
#define RKLLM_ABI_CHECK_TYPE(type, size, align)                                                  \
    RKLLM_ABI_STATIC_ASSERT(sizeof(type) == (size), #type " size");                              \
    RKLLM_ABI_STATIC_ASSERT(RKLLM_ABI_ALIGNOF(type) == (align), #type " alignment")

/* Each field's size is checked with its offset: a field declared too narrow can hide in padding without
 * moving any offset (a size_t written as int32_t just before a pointer, for example). */
#define RKLLM_ABI_CHECK_FIELD(type, field, offset, size)                                         \
    RKLLM_ABI_STATIC_ASSERT(offsetof(type, field) == (offset), #type "." #field " offset");     \
    RKLLM_ABI_STATIC_ASSERT(sizeof(((type *)0)->field) == (size), #type "." #field " size")

RKLLM_ABI_CHECK_TYPE(LLMHandle, 8, 8);
RKLLM_ABI_CHECK_TYPE(LLMCallState, 4, 4);
RKLLM_ABI_CHECK_TYPE(RKLLMInputType, 4, 4);
RKLLM_ABI_CHECK_TYPE(RKLLMInferMode, 4, 4);
RKLLM_ABI_CHECK_TYPE(bool, 1, 1);

/* Shared structs. */

RKLLM_ABI_CHECK_TYPE(RKLLMExtendParam, 120, 4);
RKLLM_ABI_CHECK_FIELD(RKLLMExtendParam, base_domain_id, 0, 4);
RKLLM_ABI_CHECK_FIELD(RKLLMExtendParam, embed_flash, 4, 1);
RKLLM_ABI_CHECK_FIELD(RKLLMExtendParam, enabled_cpus_num, 5, 1);
RKLLM_ABI_CHECK_FIELD(RKLLMExtendParam, enabled_cpus_mask, 8, 4);
RKLLM_ABI_CHECK_FIELD(RKLLMExtendParam, n_batch, 12, 1);
RKLLM_ABI_CHECK_FIELD(RKLLMExtendParam, use_cross_attn, 13, 1);
RKLLM_ABI_CHECK_FIELD(RKLLMExtendParam, reserved, 14, 104);

RKLLM_ABI_CHECK_TYPE(RKLLMLoraAdapter, 24, 8);
RKLLM_ABI_CHECK_FIELD(RKLLMLoraAdapter, lora_adapter_path, 0, 8);
RKLLM_ABI_CHECK_FIELD(RKLLMLoraAdapter, lora_adapter_name, 8, 8);
RKLLM_ABI_CHECK_FIELD(RKLLMLoraAdapter, scale, 16, 4);

RKLLM_ABI_CHECK_TYPE(RKLLMEmbedInput, 16, 8);
RKLLM_ABI_CHECK_FIELD(RKLLMEmbedInput, embed, 0, 8);
RKLLM_ABI_CHECK_FIELD(RKLLMEmbedInput, n_tokens, 8, 8);

RKLLM_ABI_CHECK_TYPE(RKLLMTokenInput, 16, 8);
RKLLM_ABI_CHECK_FIELD(RKLLMTokenInput, input_ids, 0, 8);
RKLLM_ABI_CHECK_FIELD(RKLLMTokenInput, n_tokens, 8, 8);

RKLLM_ABI_CHECK_TYPE(RKLLMLoraParam, 8, 8);
RKLLM_ABI_CHECK_FIELD(RKLLMLoraParam, lora_adapter_name, 0, 8);

RKLLM_ABI_CHECK_TYPE(RKLLMPromptCacheParam, 16, 8);
RKLLM_ABI_CHECK_FIELD(RKLLMPromptCacheParam, save_prompt_cache, 0, 4);
RKLLM_ABI_CHECK_FIELD(RKLLMPromptCacheParam, prompt_cache_path, 8, 8);

RKLLM_ABI_CHECK_TYPE(RKLLMCrossAttnParam, 40, 8);
RKLLM_ABI_CHECK_FIELD(RKLLMCrossAttnParam, encoder_k_cache, 0, 8);
RKLLM_ABI_CHECK_FIELD(RKLLMCrossAttnParam, encoder_v_cache, 8, 8);
RKLLM_ABI_CHECK_FIELD(RKLLMCrossAttnParam, encoder_mask, 16, 8);
RKLLM_ABI_CHECK_FIELD(RKLLMCrossAttnParam, encoder_pos, 24, 8);
RKLLM_ABI_CHECK_FIELD(RKLLMCrossAttnParam, num_tokens, 32, 4);

RKLLM_ABI_CHECK_TYPE(RKLLMResultLastHiddenLayer, 16, 8);
RKLLM_ABI_CHECK_FIELD(RKLLMResultLastHiddenLayer, hidden_states, 0, 8);
RKLLM_ABI_CHECK_FIELD(RKLLMResultLastHiddenLayer, embd_size, 8, 4);
RKLLM_ABI_CHECK_FIELD(RKLLMResultLastHiddenLayer, num_tokens, 12, 4);

RKLLM_ABI_CHECK_TYPE(RKLLMResultLogits, 16, 8);
RKLLM_ABI_CHECK_FIELD(RKLLMResultLogits, logits, 0, 8);
RKLLM_ABI_CHECK_FIELD(RKLLMResultLogits, vocab_size, 8, 4);
RKLLM_ABI_CHECK_FIELD(RKLLMResultLogits, num_tokens, 12, 4);

RKLLM_ABI_CHECK_TYPE(RKLLMPerfStat, 20, 4);
RKLLM_ABI_CHECK_FIELD(RKLLMPerfStat, prefill_time_ms, 0, 4);
RKLLM_ABI_CHECK_FIELD(RKLLMPerfStat, prefill_tokens, 4, 4);
RKLLM_ABI_CHECK_FIELD(RKLLMPerfStat, generate_time_ms, 8, 4);
RKLLM_ABI_CHECK_FIELD(RKLLMPerfStat, generate_tokens, 12, 4);
RKLLM_ABI_CHECK_FIELD(RKLLMPerfStat, memory_usage_mb, 16, 4);

RKLLM_ABI_CHECK_TYPE(RKLLMResult, 72, 8);
RKLLM_ABI_CHECK_FIELD(RKLLMResult, text, 0, 8);
RKLLM_ABI_CHECK_FIELD(RKLLMResult, token_id, 8, 4);
RKLLM_ABI_CHECK_FIELD(RKLLMResult, last_hidden_layer, 16, 16);
RKLLM_ABI_CHECK_FIELD(RKLLMResult, logits, 32, 16);
RKLLM_ABI_CHECK_FIELD(RKLLMResult, perf, 48, 20);

/* 1.2.1 - 1.2.3 */

RKLLM_ABI_CHECK_TYPE(RKLLM12Param, 208, 8);
RKLLM_ABI_CHECK_FIELD(RKLLM12Param, model_path, 0, 8);
RKLLM_ABI_CHECK_FIELD(RKLLM12Param, max_context_len, 8, 4);
RKLLM_ABI_CHECK_FIELD(RKLLM12Param, max_new_tokens, 12, 4);
RKLLM_ABI_CHECK_FIELD(RKLLM12Param, top_k, 16, 4);
RKLLM_ABI_CHECK_FIELD(RKLLM12Param, n_keep, 20, 4);
RKLLM_ABI_CHECK_FIELD(RKLLM12Param, top_p, 24, 4);
RKLLM_ABI_CHECK_FIELD(RKLLM12Param, temperature, 28, 4);
RKLLM_ABI_CHECK_FIELD(RKLLM12Param, repeat_penalty, 32, 4);
RKLLM_ABI_CHECK_FIELD(RKLLM12Param, frequency_penalty, 36, 4);
RKLLM_ABI_CHECK_FIELD(RKLLM12Param, presence_penalty, 40, 4);
RKLLM_ABI_CHECK_FIELD(RKLLM12Param, mirostat, 44, 4);
RKLLM_ABI_CHECK_FIELD(RKLLM12Param, mirostat_tau, 48, 4);
RKLLM_ABI_CHECK_FIELD(RKLLM12Param, mirostat_eta, 52, 4);
RKLLM_ABI_CHECK_FIELD(RKLLM12Param, skip_special_token, 56, 1);
RKLLM_ABI_CHECK_FIELD(RKLLM12Param, is_async, 57, 1);
RKLLM_ABI_CHECK_FIELD(RKLLM12Param, img_start, 64, 8);
RKLLM_ABI_CHECK_FIELD(RKLLM12Param, img_end, 72, 8);
RKLLM_ABI_CHECK_FIELD(RKLLM12Param, img_content, 80, 8);
RKLLM_ABI_CHECK_FIELD(RKLLM12Param, extend_param, 88, 120);

RKLLM_ABI_CHECK_TYPE(RKLLM12MultiModalInput, 48, 8);
RKLLM_ABI_CHECK_FIELD(RKLLM12MultiModalInput, prompt, 0, 8);
RKLLM_ABI_CHECK_FIELD(RKLLM12MultiModalInput, image_embed, 8, 8);
RKLLM_ABI_CHECK_FIELD(RKLLM12MultiModalInput, n_image_tokens, 16, 8);
RKLLM_ABI_CHECK_FIELD(RKLLM12MultiModalInput, n_image, 24, 8);
RKLLM_ABI_CHECK_FIELD(RKLLM12MultiModalInput, image_width, 32, 8);
RKLLM_ABI_CHECK_FIELD(RKLLM12MultiModalInput, image_height, 40, 8);

RKLLM_ABI_CHECK_TYPE(RKLLM12InputPayload, 48, 8);
RKLLM_ABI_CHECK_FIELD(RKLLM12InputPayload, prompt_input, 0, 8);
RKLLM_ABI_CHECK_FIELD(RKLLM12InputPayload, embed_input, 0, 16);
RKLLM_ABI_CHECK_FIELD(RKLLM12InputPayload, token_input, 0, 16);
RKLLM_ABI_CHECK_FIELD(RKLLM12InputPayload, multimodal_input, 0, 48);

RKLLM_ABI_CHECK_TYPE(RKLLM12Input, 64, 8);
RKLLM_ABI_CHECK_FIELD(RKLLM12Input, role, 0, 8);
RKLLM_ABI_CHECK_FIELD(RKLLM12Input, enable_thinking, 8, 1);
RKLLM_ABI_CHECK_FIELD(RKLLM12Input, input_type, 12, 4);
RKLLM_ABI_CHECK_FIELD(RKLLM12Input, payload, 16, 48);

RKLLM_ABI_CHECK_TYPE(RKLLM12InferParam, 32, 8);
RKLLM_ABI_CHECK_FIELD(RKLLM12InferParam, mode, 0, 4);
RKLLM_ABI_CHECK_FIELD(RKLLM12InferParam, lora_params, 8, 8);
RKLLM_ABI_CHECK_FIELD(RKLLM12InferParam, prompt_cache_params, 16, 8);
RKLLM_ABI_CHECK_FIELD(RKLLM12InferParam, keep_history, 24, 4);

/* 1.3.0 */

RKLLM_ABI_CHECK_TYPE(RKLLM13Param, 184, 8);
RKLLM_ABI_CHECK_FIELD(RKLLM13Param, model_path, 0, 8);
RKLLM_ABI_CHECK_FIELD(RKLLM13Param, max_context_len, 8, 4);
RKLLM_ABI_CHECK_FIELD(RKLLM13Param, max_new_tokens, 12, 4);
RKLLM_ABI_CHECK_FIELD(RKLLM13Param, top_k, 16, 4);
RKLLM_ABI_CHECK_FIELD(RKLLM13Param, n_keep, 20, 4);
RKLLM_ABI_CHECK_FIELD(RKLLM13Param, top_p, 24, 4);
RKLLM_ABI_CHECK_FIELD(RKLLM13Param, temperature, 28, 4);
RKLLM_ABI_CHECK_FIELD(RKLLM13Param, repeat_penalty, 32, 4);
RKLLM_ABI_CHECK_FIELD(RKLLM13Param, frequency_penalty, 36, 4);
RKLLM_ABI_CHECK_FIELD(RKLLM13Param, presence_penalty, 40, 4);
RKLLM_ABI_CHECK_FIELD(RKLLM13Param, mirostat, 44, 4);
RKLLM_ABI_CHECK_FIELD(RKLLM13Param, mirostat_tau, 48, 4);
RKLLM_ABI_CHECK_FIELD(RKLLM13Param, mirostat_eta, 52, 4);
RKLLM_ABI_CHECK_FIELD(RKLLM13Param, skip_special_token, 56, 1);
RKLLM_ABI_CHECK_FIELD(RKLLM13Param, ignore_eos_token, 57, 1);
RKLLM_ABI_CHECK_FIELD(RKLLM13Param, is_async, 58, 1);
RKLLM_ABI_CHECK_FIELD(RKLLM13Param, extend_param, 60, 120);

RKLLM_ABI_CHECK_TYPE(RKLLM13ImageInput, 64, 8);
RKLLM_ABI_CHECK_FIELD(RKLLM13ImageInput, image_embed, 0, 8);
RKLLM_ABI_CHECK_FIELD(RKLLM13ImageInput, n_image_tokens, 8, 8);
RKLLM_ABI_CHECK_FIELD(RKLLM13ImageInput, n_image, 16, 8);
RKLLM_ABI_CHECK_FIELD(RKLLM13ImageInput, image_start, 24, 8);
RKLLM_ABI_CHECK_FIELD(RKLLM13ImageInput, image_end, 32, 8);
RKLLM_ABI_CHECK_FIELD(RKLLM13ImageInput, image_content, 40, 8);
RKLLM_ABI_CHECK_FIELD(RKLLM13ImageInput, image_width, 48, 8);
RKLLM_ABI_CHECK_FIELD(RKLLM13ImageInput, image_height, 56, 8);

RKLLM_ABI_CHECK_TYPE(RKLLM13VideoInput, 72, 8);
RKLLM_ABI_CHECK_FIELD(RKLLM13VideoInput, video_embed, 0, 8);
RKLLM_ABI_CHECK_FIELD(RKLLM13VideoInput, n_frame_tokens, 8, 8);
RKLLM_ABI_CHECK_FIELD(RKLLM13VideoInput, n_frame_per_video, 16, 8);
RKLLM_ABI_CHECK_FIELD(RKLLM13VideoInput, n_video, 24, 8);
RKLLM_ABI_CHECK_FIELD(RKLLM13VideoInput, video_start, 32, 8);
RKLLM_ABI_CHECK_FIELD(RKLLM13VideoInput, video_end, 40, 8);
RKLLM_ABI_CHECK_FIELD(RKLLM13VideoInput, video_content, 48, 8);
RKLLM_ABI_CHECK_FIELD(RKLLM13VideoInput, frame_width, 56, 8);
RKLLM_ABI_CHECK_FIELD(RKLLM13VideoInput, frame_height, 64, 8);

RKLLM_ABI_CHECK_TYPE(RKLLM13MultiModalInput, 144, 8);
RKLLM_ABI_CHECK_FIELD(RKLLM13MultiModalInput, prompt, 0, 8);
RKLLM_ABI_CHECK_FIELD(RKLLM13MultiModalInput, image, 8, 64);
RKLLM_ABI_CHECK_FIELD(RKLLM13MultiModalInput, video, 72, 72);

RKLLM_ABI_CHECK_TYPE(RKLLM13InputPayload, 144, 8);
RKLLM_ABI_CHECK_FIELD(RKLLM13InputPayload, prompt_input, 0, 8);
RKLLM_ABI_CHECK_FIELD(RKLLM13InputPayload, embed_input, 0, 16);
RKLLM_ABI_CHECK_FIELD(RKLLM13InputPayload, token_input, 0, 16);
RKLLM_ABI_CHECK_FIELD(RKLLM13InputPayload, multimodal_input, 0, 144);

RKLLM_ABI_CHECK_TYPE(RKLLM13Input, 160, 8);
RKLLM_ABI_CHECK_FIELD(RKLLM13Input, role, 0, 8);
RKLLM_ABI_CHECK_FIELD(RKLLM13Input, enable_thinking, 8, 1);
RKLLM_ABI_CHECK_FIELD(RKLLM13Input, input_type, 12, 4);
RKLLM_ABI_CHECK_FIELD(RKLLM13Input, payload, 16, 144);

RKLLM_ABI_CHECK_TYPE(RKLLM13SamplingParam, 36, 4);
RKLLM_ABI_CHECK_FIELD(RKLLM13SamplingParam, top_k, 0, 4);
RKLLM_ABI_CHECK_FIELD(RKLLM13SamplingParam, top_p, 4, 4);
RKLLM_ABI_CHECK_FIELD(RKLLM13SamplingParam, temperature, 8, 4);
RKLLM_ABI_CHECK_FIELD(RKLLM13SamplingParam, repeat_penalty, 12, 4);
RKLLM_ABI_CHECK_FIELD(RKLLM13SamplingParam, frequency_penalty, 16, 4);
RKLLM_ABI_CHECK_FIELD(RKLLM13SamplingParam, presence_penalty, 20, 4);
RKLLM_ABI_CHECK_FIELD(RKLLM13SamplingParam, mirostat, 24, 4);
RKLLM_ABI_CHECK_FIELD(RKLLM13SamplingParam, mirostat_tau, 28, 4);
RKLLM_ABI_CHECK_FIELD(RKLLM13SamplingParam, mirostat_eta, 32, 4);

RKLLM_ABI_CHECK_TYPE(RKLLM13InferParam, 40, 8);
RKLLM_ABI_CHECK_FIELD(RKLLM13InferParam, mode, 0, 4);
RKLLM_ABI_CHECK_FIELD(RKLLM13InferParam, lora_params, 8, 8);
RKLLM_ABI_CHECK_FIELD(RKLLM13InferParam, prompt_cache_params, 16, 8);
RKLLM_ABI_CHECK_FIELD(RKLLM13InferParam, sampling_params, 24, 8);
RKLLM_ABI_CHECK_FIELD(RKLLM13InferParam, keep_history, 32, 4);
RKLLM_ABI_CHECK_FIELD(RKLLM13InferParam, max_new_tokens, 36, 4);

RKLLM_ABI_CHECK_TYPE(RKLLM13Callback, 48, 8);
RKLLM_ABI_CHECK_FIELD(RKLLM13Callback, result_callback, 0, 8);
RKLLM_ABI_CHECK_FIELD(RKLLM13Callback, result_userdata, 8, 8);
RKLLM_ABI_CHECK_FIELD(RKLLM13Callback, tokenizer_callback, 16, 8);
RKLLM_ABI_CHECK_FIELD(RKLLM13Callback, tokenizer_userdata, 24, 8);
RKLLM_ABI_CHECK_FIELD(RKLLM13Callback, embed_callback, 32, 8);
RKLLM_ABI_CHECK_FIELD(RKLLM13Callback, embed_userdata, 40, 8);

#undef RKLLM_ABI_CHECK_TYPE
#undef RKLLM_ABI_CHECK_FIELD
#undef RKLLM_ABI_STATIC_ASSERT
#undef RKLLM_ABI_ALIGNOF

#endif /* LP64 */

#ifdef __cplusplus
}
#endif

#endif /* ROCKCHIPLLAMA_RKLLM_ABI_H */
