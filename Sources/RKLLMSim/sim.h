/*
 * sim.h: internals of RKLLMSim, a SIMULATOR of Rockchip's librkllmrt.so built on llama.cpp's libllama.
 *
 * RKLLMSim is not the vendor runtime and never touches an NPU. It exports the same symbols with the same
 * struct layouts (Sources/CRKLLM/rkllm_abi.h) so that the Swift RKLLM engine can be developed and tested
 * on machines without an RK3588: the GGUF model runs on the CPU through libllama, and the runtime's
 * documented behaviour (chat template applied to PROMPT input, multimodal input, keep_history, n_keep,
 * prompt-cache files, abort, pause, per-batch results, WAITING for split UTF-8) is reproduced on top of it.
 *
 * One source tree, compiled twice: -DRKLLMSIM_ABI=12 gives a library with the 1.2.1-1.2.3 ABI (reporting
 * itself as runtime 1.2.3), -DRKLLMSIM_ABI=13 one with the 1.3.0 ABI. The few types and signatures that
 * differ are selected below; everything else is shared.
 */
#ifndef RKLLMSIM_SIM_H
#define RKLLMSIM_SIM_H

/* clock_gettime, nanosleep, strdup, fileno: POSIX 2008 on top of strict C11. Every .c includes this file
 * first, so this is seen before any system header. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "llama.h"
#include "rkllm_abi.h"

/* ---- ABI generation ------------------------------------------------------------------------------- */

#if !defined(RKLLMSIM_ABI)
#error "compile RKLLMSim with -DRKLLMSIM_ABI=12 (runtime 1.2.1-1.2.3) or -DRKLLMSIM_ABI=13 (runtime 1.3.0)"
#elif RKLLMSIM_ABI == 12
typedef RKLLM12Param sim_param_t;
typedef RKLLM12Input sim_input_t;
typedef RKLLM12InferParam sim_infer_t;
typedef RKLLM12ResultCallback sim_init_callback_t; /* 1.2.x: rkllm_init takes the bare callback */
#define SIM_RUNTIME_VERSION "1.2.3"
#define SIM_ABI_13 0
#elif RKLLMSIM_ABI == 13
typedef RKLLM13Param sim_param_t;
typedef RKLLM13Input sim_input_t;
typedef RKLLM13InferParam sim_infer_t;
typedef RKLLM13Callback *sim_init_callback_t; /* 1.3.0: a pointer to the callback struct */
#define SIM_RUNTIME_VERSION "1.3.0"
#define SIM_ABI_13 1
#else
#error "RKLLMSIM_ABI must be 12 or 13"
#endif

/* Only the rkllm_* entry points leave the library (built with -fvisibility=hidden). */
#define SIM_API __attribute__((visibility("default")))

/* The vendor's prefill works in chunks; ours are llama.cpp batches of at most this many tokens, and the
 * abort flag is checked between them. */
#define SIM_PREFILL_CHUNK 512
/* Hidden-layer/logits runs request an output row per token; smaller chunks bound llama.cpp's output
 * buffer (n_vocab floats per row). */
#define SIM_EMBED_CHUNK 64
/* Tokens the repeat/frequency/presence penalties look back over (llama.cpp's usual default). */
#define SIM_PENALTY_LAST_N 64

/* ---- small containers (util.c) ------------------------------------------------------------------- */

typedef struct {
    char *p; /* always NUL-terminated once anything was written (or after buf_reset) */
    size_t n;
    size_t cap;
} sim_buf;

void buf_put(sim_buf *b, const char *s, size_t n);
void buf_puts(sim_buf *b, const char *s); /* NULL appends nothing */
void buf_printf(sim_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_reset(sim_buf *b);
void buf_free(sim_buf *b);
/* JSON value writers: a quoted, escaped string (NULL -> null) and a float in its shortest exact form. */
void buf_json_str(sim_buf *b, const char *s);
void buf_json_float(sim_buf *b, float v);

typedef struct {
    llama_token *v;
    int n;
    int cap;
} sim_tokens;

void toks_reserve(sim_tokens *t, int cap);
void toks_push(sim_tokens *t, llama_token tok);
void toks_append(sim_tokens *t, const llama_token *v, int n);
void toks_erase(sim_tokens *t, int start, int end); /* removes [start, end) */
void toks_free(sim_tokens *t);

char *sim_strdup(const char *s); /* NULL -> "" (never returns NULL; aborts on out-of-memory) */
void *sim_xmalloc(size_t n);
void *sim_xcalloc(size_t n, size_t size);
void *sim_xrealloc(void *p, size_t n);

double sim_now_ms(void);
void sim_sleep_ms(double ms);
double sim_env_double(const char *name, double fallback);
float sim_peak_rss_mb(void);
int sim_log_level(void); /* RKLLM_LOG_LEVEL, as on the real runtime */
/* Diagnostics on stderr in the runtime's own style: "E rkllm: ...", "W rkllm: ...", "I rkllm: ...". */
void sim_log(char level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- the handle ---------------------------------------------------------------------------------- */

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
} sim_sampling;

/* ---- images (image.c) ------------------------------------------------------------------------------
 * An image position of a history holds no token: it holds a PLACEHOLDER, a value below any token id,
 * derived from a hash of the image's embedding rows (row i of an image whose placeholder base is B holds
 * B + i, modulo 2^30). Equal placeholders at equal positions after an equal prefix mean equal embeddings,
 * so prefix reuse (prompt cache) works across images, and a different image at the same place stops it.
 * The rows themselves are kept by the slot (sim_seq.images) for as long as its history refers to them,
 * so that image positions can be recomputed (context shift, range clear). */

#define SIM_PH_MASK 0x3FFFFFFFu /* placeholders are INT32_MIN + (30 bits) */

static inline bool sim_is_placeholder(llama_token t) {
    return t < -(1 << 30); /* [INT32_MIN, INT32_MIN + 2^30 - 1]; -1 and -2 are never placeholders */
}

static inline llama_token sim_placeholder(uint32_t base, int row) {
    return (llama_token)(INT32_MIN + (int32_t)((base + (uint32_t)row) & SIM_PH_MASK));
}

typedef struct {
    uint64_t hash;     /* of the rows (and their count) */
    uint32_t base;     /* placeholder of row 0, before INT32_MIN is added */
    int n_rows;        /* n_image_tokens */
    const float *rows; /* n_rows x n_embd_inp floats */
    bool owned;        /* rows is a copy to free (a slot's store) or the caller's buffer (a run's input) */
} sim_image;

typedef struct {
    sim_image *v;
    int n;
} sim_image_list;

void sim_images_clear(sim_image_list *l);

/* One batch slot = one llama.cpp sequence (seq_id = batch index). */
typedef struct {
    sim_tokens hist; /* the conversation of this slot, positions 0..n-1: what a keep_history=1 run continues;
                        image positions hold placeholders (above), never token ids */
    sim_image_list images; /* the embedding rows behind the placeholders of hist (and maybe stale ones) */
    int kv_n;        /* how many leading hist tokens are in the KV cache; the rest is computed by the next run
                        (the last generated token, or tokens after a range clear or an n_keep shift) */
    int sys_len;     /* leading hist tokens that are the system block (kept by clear_kv_cache(keep=1)) */
} sim_seq;

typedef struct {
    char *name;
    char *path;
    float scale;
    struct llama_adapter_lora *adapter;
} sim_lora;

/* A prompt cache read by rkllm_load_prompt_cache: the tokens it covers and the llama.cpp sequence state
 * of those tokens, held in memory so the file may go away afterwards. */
typedef struct {
    bool loaded;
    sim_tokens tokens;
    uint8_t *state;
    size_t state_size;
} sim_prompt_cache;

/* The prompt "triple" the runtime applies to PROMPT input, plus what we derive to continue a conversation.
 * All strings are owned and never NULL. */
typedef struct {
    char *system;   /* complete system block put at the start of a fresh sequence ("" = none) */
    char *default_system; /* the model template's own system block, restored by tools without content */
    char *prefix;   /* before the user text */
    char *postfix;  /* after the user text; ends with the assistant header */
    char *eot;      /* ends an assistant turn before the next prefix when continuing (ChatML: "<|im_end|>\n") */
    char *sys_head; /* the template's system form around a system text: sys_head + text + sys_tail */
    char *sys_tail;
    bool has_system_form; /* sys_head/sys_tail could be derived from the model's template */
    bool custom;          /* rkllm_set_chat_template replaced the triple: enable_thinking is ignored */
    bool think_switch;    /* the GGUF template reads enable_thinking (Qwen3 style) */
    char *tool_tag;       /* wraps role "tool" input: <tag>\n...\n</tag> */
} sim_template;

typedef struct sim_handle {
    uint32_t magic;
    struct llama_model *model;
    struct llama_context *ctx;
    const struct llama_vocab *vocab;
    llama_memory_t mem;
    int n_vocab;
    int n_embd;
    int n_embd_inp; /* width of an input embedding row (llama_model_n_embd_inp): image_embed's row width */
    int n_layer;
    uint64_t model_file_size;

    /* init parameters */
    int max_ctx; /* tokens one slot may hold (max_context_len) */
    int n_batch;
    int n_keep;
    int max_new_tokens;
    bool skip_special;
    bool ignore_eos;
    sim_sampling sampling;
#if !SIM_ABI_13
    char *img_start; /* 1.2: RKLLMParam.img_start/img_end/img_content, copied at init (NULL: not set) */
    char *img_end;
    char *img_content;
#endif
    LLMResultCallback callback;
    void *callback_userdata; /* 1.3: RKLLMCallback.result_userdata */

    sim_template tmpl;
    sim_seq *seqs; /* n_batch of them */
    sim_lora *loras;
    int n_loras;
    sim_prompt_cache pcache;
    struct llama_batch batch;
    int batch_cap;
    struct llama_batch ebatch; /* embedding rows (image positions); allocated at the first image */
    int ebatch_cap;

    /* Serialises every API call that touches the state above; a run holds it for its whole duration.
     * rkllm_abort and rkllm_is_running only touch the atomics. */
    pthread_mutex_t lock;
    atomic_int running;    /* a run (sync or async) is in progress or about to start */
    atomic_int abort_flag; /* rkllm_abort was called during the current run */
    atomic_int destroying; /* rkllm_destroy is waiting for the run to end */
} sim_handle;

#define SIM_MAGIC 0x524b5349u /* "RKSI" */

/* The handle whose run is executing on this thread (set for the duration of a run): lets the other
 * entry points refuse calls made from inside the result callback instead of deadlocking on the lock. */
extern _Thread_local sim_handle *sim_tls_running;

/* Validates a handle argument; NULL if it is not one of ours (prints why). */
sim_handle *sim_handle_from(LLMHandle handle, const char *fn);
/* Takes the API lock for a call other than run/abort/is_running; fails (-1) when called from inside this
 * handle's own callback, where waiting for the lock would deadlock. */
int sim_lock_api(sim_handle *h, const char *fn);
void sim_unlock_api(sim_handle *h);

/* Forgets the history of slot b and removes it from the KV cache. */
void sim_seq_reset(sim_handle *h, int b);
/* Cuts slot b's history to n tokens (KV cache included). */
void sim_seq_truncate(sim_handle *h, int b, int n);

/* Tokenizes text and appends to out (special-token text becomes special tokens). 0 or -1. */
int sim_tokenize(sim_handle *h, const char *text, bool add_special, sim_tokens *out);
/* Appends the text of a token to out; special tokens are empty when skip_special. */
void sim_token_piece(sim_handle *h, llama_token tok, bool skip_special, sim_buf *out);

/* ---- template.c ---------------------------------------------------------------------------------- */

int sim_template_init(sim_handle *h); /* derives the triple from the GGUF template */
void sim_template_free(sim_template *t);
/* Builds the tokens a run adds to slot b for one input. `fresh`: the slot starts empty (the system block
 * is included and *sys_len receives its token count). Multimodal input also gets the images behind its
 * placeholders in *images (rows pointing into the input). On error prints why and returns -1. */
int sim_build_input(sim_handle *h, int b, const sim_input_t *in, bool fresh, sim_tokens *out, int *sys_len,
                    sim_image_list *images);

/* ---- image.c ------------------------------------------------------------------------------------- */

/* A multimodal input seen the same way in both ABIs (1.2 tags come from the init param). */
typedef struct {
    const char *prompt;
    const float *embed;
    size_t n_tokens; /* per image */
    size_t n_image;
    size_t width, height;
    const char *start, *end, *content;
    bool video; /* 1.3: some video field is set */
} sim_mm;

void sim_mm_view(const sim_handle *h, const sim_input_t *in, sim_mm *v);
/* The counts are set, within max_context_len, and image_embed is not NULL: n_image x n_tokens x n_embd_inp
 * floats may be read. */
bool sim_mm_readable(const sim_handle *h, const sim_mm *v);
/* Checks a multimodal input before anything is read from image_embed. 0, or -1 after printing why. */
int sim_mm_check(sim_handle *h, int b, const sim_mm *v);
/* Appends head + prompt + tail with each <image> expanded to start tag, placeholders, end tag; the images
 * go to *images. 0 or -1. */
int sim_mm_tokens(sim_handle *h, int b, const sim_mm *v, const char *head, const char *tail, sim_tokens *out,
                  sim_image_list *images);
/* Makes slot b keep the rows of `added` (copies) and forget the images its history no longer refers to. */
void sim_seq_images_commit(sim_handle *h, int b, const sim_image_list *added);
/* The embedding row behind placeholder t in slot b, or NULL. */
const float *sim_seq_image_row(const sim_handle *h, int b, llama_token t);
/* Trace of a multimodal input: ,"text":...,"image":{...}[,"video":...] */
void sim_mm_trace(const sim_handle *h, const sim_input_t *in, sim_buf *tr);

/* ---- cache.c ------------------------------------------------------------------------------------- */

/* Copies slot b's computed tokens and their sequence state into *snap (taken right after its prefill, so
 * the file holds the prompt and not the answer). 0, or -1 after printing why. */
int sim_cache_capture(sim_handle *h, int b, sim_prompt_cache *snap);
/* Writes a captured state to path (temp file + rename). 0, or -1 after printing why. */
int sim_cache_write(const sim_handle *h, const sim_prompt_cache *snap, const char *path);
void sim_cache_snapshot_free(sim_prompt_cache *snap);
/* For a slot that starts empty with `tokens`: restores the loaded prompt cache into slot b if it shares a
 * prefix with them and returns how many tokens are now in the KV cache (0 = nothing reused). */
int sim_cache_restore(sim_handle *h, int b, const sim_tokens *tokens);
void sim_cache_release(sim_handle *h);

/* ---- trace.c ------------------------------------------------------------------------------------- */

/* RKLLMSIM_TRACE=<file>: one JSON object per line per API call, appended and flushed immediately.
 * trace_begin returns false (and the caller writes nothing) when tracing is off. */
bool trace_begin(sim_buf *b, const char *call);
bool trace_begin_event(sim_buf *b, const char *event);
void trace_key(sim_buf *b, const char *key); /* writes ,"key": */
void trace_int(sim_buf *b, const char *key, long long v);
void trace_bool(sim_buf *b, const char *key, bool v);
void trace_float(sim_buf *b, const char *key, float v);
void trace_str(sim_buf *b, const char *key, const char *v); /* NULL -> null */
void trace_end(sim_buf *b);                                  /* closes the object and writes the line */

#endif /* RKLLMSIM_SIM_H */
