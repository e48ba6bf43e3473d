/*
 * sim.c: the RKLLMSim handle: default parameters, init/destroy, abort/is_running, LoRA loading, KV-cache
 * queries and the small entry points. RKLLMSim SIMULATES Rockchip's librkllmrt.so over llama.cpp (CPU);
 * see sim.h and README.md. The run loop is in run.c, templates in template.c, prompt caches in cache.c.
 */
#include "sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The Swift engine tells the two ABIs apart by scanning the library file for "rkllm-runtime version: "
 * followed by X.Y.Z, the way tools do with the vendor's binary, whose init log line carries it. The array
 * keeps the exact bytes in .rodata even if the log line below is ever reworded; each build contains only
 * its own version. */
__attribute__((used)) static const char sim_version_banner[] = "rkllm-runtime version: " SIM_RUNTIME_VERSION;

_Thread_local sim_handle *sim_tls_running;

/* ---- handle plumbing ---- */

sim_handle *sim_handle_from(LLMHandle handle, const char *fn) {
    sim_handle *h = handle;
    if (!h) {
        sim_log('E', "%s: handle is NULL", fn);
        return NULL;
    }
    if (h->magic != SIM_MAGIC) {
        sim_log('E', "%s: not a handle returned by rkllm_init (or already destroyed)", fn);
        return NULL;
    }
    return h;
}

int sim_lock_api(sim_handle *h, const char *fn) {
    if (sim_tls_running == h) {
        /* the run holds the lock on this very thread: waiting would deadlock, and changing the state under
         * a run in progress is not something the simulator can do safely */
        sim_log('E', "%s: called from inside the result callback of a run on the same handle; not supported by "
                     "RKLLMSim",
                fn);
        return -1;
    }
    pthread_mutex_lock(&h->lock);
    return 0;
}

void sim_unlock_api(sim_handle *h) {
    pthread_mutex_unlock(&h->lock);
}

void sim_seq_reset(sim_handle *h, int b) {
    sim_seq *q = &h->seqs[b];
    llama_memory_seq_rm(h->mem, b, -1, -1);
    q->hist.n = 0;
    q->kv_n = 0;
    q->sys_len = 0;
    sim_images_clear(&q->images);
}

void sim_seq_truncate(sim_handle *h, int b, int n) {
    sim_seq *q = &h->seqs[b];
    if (n < 0) n = 0;
    if (n >= q->hist.n) return;
    q->hist.n = n;
    if (q->kv_n > n) {
        if (!llama_memory_seq_rm(h->mem, b, n, -1)) {
            /* a partial removal the memory cannot do: drop the KV entirely, the tokens are recomputed */
            llama_memory_seq_rm(h->mem, b, -1, -1);
            q->kv_n = 0;
        } else {
            q->kv_n = n;
        }
    }
    if (q->sys_len > n) q->sys_len = n;
}

int sim_tokenize(sim_handle *h, const char *text, bool add_special, sim_tokens *out) {
    size_t len = strlen(text);
    if (len > (size_t)INT32_MAX / 2) {
        sim_log('E', "text of %zu bytes is too long to tokenize", len);
        return -1;
    }
    int cap = (int)len + 8;
    toks_reserve(out, out->n + cap);
    int n = llama_tokenize(h->vocab, text, (int32_t)len, out->v + out->n, cap, add_special, true);
    if (n < 0 && n != INT32_MIN) {
        cap = -n;
        toks_reserve(out, out->n + cap);
        n = llama_tokenize(h->vocab, text, (int32_t)len, out->v + out->n, cap, add_special, true);
    }
    if (n < 0) {
        sim_log('E', "llama.cpp could not tokenize a text of %zu bytes", len);
        return -1;
    }
    out->n += n;
    return 0;
}

void sim_token_piece(sim_handle *h, llama_token tok, bool skip_special, sim_buf *out) {
    char small[128];
    int n = llama_token_to_piece(h->vocab, tok, small, (int32_t)sizeof small, 0, !skip_special);
    if (n >= 0) {
        buf_put(out, small, (size_t)n);
        return;
    }
    char *big = sim_xmalloc((size_t)-n);
    n = llama_token_to_piece(h->vocab, tok, big, -n, 0, !skip_special);
    if (n > 0) buf_put(out, big, (size_t)n);
    else buf_put(out, "", 0);
    free(big);
}

/* ---- llama.cpp log filter ----
 * llama.cpp logs a page per model load and debug lines per run (LoRA switches, state reads) to stderr by
 * default; the runtime's stderr should carry its own lines. The first rkllm_init therefore installs a logger
 * that writes only warnings and errors to stderr. It does not forward to the logger it replaces: both ABI
 * builds of the simulator may be loaded into one process (the tests do), and two filters forwarding to each
 * other would loop forever. It stays installed (the library is linked -z nodelete, so the pointer stays
 * valid); a host that installs its own logger later simply replaces it. RKLLM_LOG_LEVEL >= 2 at the first
 * init leaves llama.cpp's log alone. */

static pthread_mutex_t load_lock = PTHREAD_MUTEX_INITIALIZER;
static enum ggml_log_level last_log_level = GGML_LOG_LEVEL_INFO;

static void filtered_log(enum ggml_log_level level, const char *text, void *ud) {
    (void)ud;
    if (level == GGML_LOG_LEVEL_CONT) level = last_log_level;
    else last_log_level = level;
    if (level != GGML_LOG_LEVEL_WARN && level != GGML_LOG_LEVEL_ERROR) return;
    fputs(text, stderr);
}

/* Called with load_lock held. */
static void install_log_filter(void) {
    llama_log_set(filtered_log, NULL);
}

static pthread_once_t backend_once = PTHREAD_ONCE_INIT;
static void backend_init(void) {
    llama_backend_init();
}

/* ---- rkllm_createDefaultParam ---- */

SIM_API sim_param_t rkllm_createDefaultParam(void) {
    sim_param_t p;
    memset(&p, 0, sizeof p);
    p.model_path = NULL;
    p.max_context_len = 512;
    p.max_new_tokens = -1; /* until the context is full */
    p.top_k = 40;
    p.n_keep = 0;
    p.top_p = 0.9f;
    p.temperature = 0.8f;
    p.repeat_penalty = 1.1f;
    p.frequency_penalty = 0.0f;
    p.presence_penalty = 0.0f;
    p.mirostat = 0;
    p.mirostat_tau = 5.0f;
    p.mirostat_eta = 0.1f;
    p.skip_special_token = true;
    p.is_async = false;
#if SIM_ABI_13
    p.ignore_eos_token = false;
#else
    p.img_start = NULL;
    p.img_end = NULL;
    p.img_content = NULL;
#endif
    p.extend_param.base_domain_id = 0;
    p.extend_param.embed_flash = 0;
    p.extend_param.enabled_cpus_num = 4;
    p.extend_param.enabled_cpus_mask = 0; /* simulator: no pinning, all CPUs */
    p.extend_param.n_batch = 1;
    p.extend_param.use_cross_attn = 0;
    return p;
}

/* ---- rkllm_init ---- */

static void trace_init(const sim_param_t *p, int result) {
    sim_buf tr = {0};
    if (!trace_begin(&tr, "rkllm_init")) return;
    trace_str(&tr, "version", SIM_RUNTIME_VERSION);
    if (p) {
        trace_str(&tr, "model_path", p->model_path);
        trace_int(&tr, "max_context_len", p->max_context_len);
        trace_int(&tr, "max_new_tokens", p->max_new_tokens);
        trace_int(&tr, "n_keep", p->n_keep);
        trace_int(&tr, "top_k", p->top_k);
        trace_float(&tr, "top_p", p->top_p);
        trace_float(&tr, "temperature", p->temperature);
        trace_float(&tr, "repeat_penalty", p->repeat_penalty);
        trace_float(&tr, "frequency_penalty", p->frequency_penalty);
        trace_float(&tr, "presence_penalty", p->presence_penalty);
        trace_int(&tr, "mirostat", p->mirostat);
        trace_float(&tr, "mirostat_tau", p->mirostat_tau);
        trace_float(&tr, "mirostat_eta", p->mirostat_eta);
        trace_bool(&tr, "skip_special_token", p->skip_special_token);
#if SIM_ABI_13
        trace_bool(&tr, "ignore_eos_token", p->ignore_eos_token);
#endif
        trace_bool(&tr, "is_async", p->is_async);
        trace_int(&tr, "base_domain_id", p->extend_param.base_domain_id);
        trace_int(&tr, "embed_flash", p->extend_param.embed_flash);
        trace_int(&tr, "cpus_num", p->extend_param.enabled_cpus_num);
        trace_int(&tr, "cpus_mask", p->extend_param.enabled_cpus_mask);
        trace_int(&tr, "n_batch", p->extend_param.n_batch);
        trace_int(&tr, "use_cross_attn", p->extend_param.use_cross_attn);
#if !SIM_ABI_13
        trace_str(&tr, "img_start", p->img_start);
        trace_str(&tr, "img_end", p->img_end);
        trace_str(&tr, "img_content", p->img_content);
#endif
    }
    trace_int(&tr, "result", result);
    trace_end(&tr);
    buf_free(&tr);
}

static void handle_free(sim_handle *h) {
    if (!h) return;
    for (int i = 0; i < h->n_loras; i++) {
        if (h->loras[i].adapter) llama_adapter_lora_free(h->loras[i].adapter);
        free(h->loras[i].name);
        free(h->loras[i].path);
    }
    free(h->loras);
    sim_cache_release(h);
    if (h->seqs)
        for (int b = 0; b < h->n_batch; b++) {
            toks_free(&h->seqs[b].hist);
            sim_images_clear(&h->seqs[b].images);
        }
    free(h->seqs);
    sim_template_free(&h->tmpl);
#if !SIM_ABI_13
    free(h->img_start);
    free(h->img_end);
    free(h->img_content);
#endif
    if (h->batch_cap) llama_batch_free(h->batch);
    if (h->ebatch_cap) llama_batch_free(h->ebatch);
    if (h->ctx) llama_free(h->ctx);
    if (h->model) llama_model_free(h->model);
    pthread_mutex_destroy(&h->lock);
    h->magic = 0;
    free(h);
}

static int init_fail(sim_handle *h, const sim_param_t *p, const char *why, const char *detail) {
    sim_log('E', "%s%s%s", why, detail ? ": " : "", detail ? detail : "");
    handle_free(h);
    trace_init(p, -1);
    return -1;
}

SIM_API int rkllm_init(LLMHandle *handle, sim_param_t *param, sim_init_callback_t callback) {
    if (handle) *handle = NULL;
    if (!handle) return init_fail(NULL, param, "rkllm_init: handle pointer is NULL", NULL);
    if (!param) return init_fail(NULL, param, "rkllm_init: param is NULL", NULL);
    sim_log('I', "%s, rknpu driver version: none (RKLLMSim simulator), platform: simulator", sim_version_banner);
    if (!param->model_path || !*param->model_path)
        return init_fail(NULL, param, "rkllm_init: model_path is empty", NULL);
    struct stat st;
    if (stat(param->model_path, &st) != 0 || !S_ISREG(st.st_mode))
        return init_fail(NULL, param, "rkllm_init: model file not found", param->model_path);
    if (param->max_context_len <= 0)
        return init_fail(NULL, param, "rkllm_init: max_context_len must be > 0", NULL);
    int n_batch = param->extend_param.n_batch;
    if (n_batch < 1 || (size_t)n_batch > llama_max_parallel_sequences())
        return init_fail(NULL, param, "rkllm_init: extend_param.n_batch must be between 1 and the simulator's limit",
                         NULL);

    sim_handle *h = sim_xcalloc(1, sizeof *h);
    pthread_mutex_init(&h->lock, NULL);
    h->magic = SIM_MAGIC;
    h->n_batch = n_batch;
    h->max_ctx = param->max_context_len;
    h->n_keep = param->n_keep;
    h->max_new_tokens = param->max_new_tokens;
    h->skip_special = param->skip_special_token;
#if SIM_ABI_13
    h->ignore_eos = param->ignore_eos_token;
    if (callback) {
        h->callback = callback->result_callback;
        h->callback_userdata = callback->result_userdata;
        /* tokenizer/embed callbacks are for models exported without them; a GGUF always has both */
    }
#else
    h->ignore_eos = false;
    h->callback = callback;
    /* the caller may free the tag strings once rkllm_init returns */
    h->img_start = param->img_start ? sim_strdup(param->img_start) : NULL;
    h->img_end = param->img_end ? sim_strdup(param->img_end) : NULL;
    h->img_content = param->img_content ? sim_strdup(param->img_content) : NULL;
#endif
    h->sampling = (sim_sampling){param->top_k,          param->top_p,
                                 param->temperature,    param->repeat_penalty,
                                 param->frequency_penalty, param->presence_penalty,
                                 param->mirostat,       param->mirostat_tau,
                                 param->mirostat_eta};
    h->model_file_size = (uint64_t)st.st_size;

    pthread_once(&backend_once, backend_init);
    pthread_mutex_lock(&load_lock);
    if (sim_log_level() < 2) install_log_filter();

    struct llama_model_params mp = llama_model_default_params();
    mp.n_gpu_layers = 0; /* CPU only: the simulator stands in for an NPU, not for a GPU */
    h->model = llama_model_load_from_file(param->model_path, mp);

    int threads = (int)sim_env_double("RKLLMSIM_THREADS", 2);
    if (threads < 1) threads = 1;
    if (param->extend_param.enabled_cpus_num > 0 && threads > param->extend_param.enabled_cpus_num)
        threads = param->extend_param.enabled_cpus_num;
    if (h->model) {
        struct llama_context_params cp = llama_context_default_params();
        /* one KV stream of max_context_len per batch slot (llama.cpp rounds a stream up to 256 cells;
         * asking for the rounded size avoids its warning, and the simulator enforces max_context_len) */
        uint32_t per_seq = ((uint32_t)h->max_ctx + 255u) / 256u * 256u;
        cp.n_ctx = per_seq * (uint32_t)n_batch;
        cp.n_seq_max = (uint32_t)n_batch;
        cp.kv_unified = false;
        cp.n_batch = SIM_PREFILL_CHUNK;
        cp.n_ubatch = SIM_PREFILL_CHUNK;
        cp.n_threads = threads;
        cp.n_threads_batch = threads;
        /* pooling left to the model: NONE for generative models, i.e. per-token hidden states for
         * GET_LAST_HIDDEN_LAYER (asking for NONE explicitly only earns a llama.cpp warning) */
        cp.embeddings = false;
        cp.no_perf = true;
        h->ctx = llama_init_from_model(h->model, cp);
    }
    pthread_mutex_unlock(&load_lock);

    if (!h->model) return init_fail(h, param, "rkllm_init: llama.cpp could not load the model", param->model_path);
    if (!h->ctx) return init_fail(h, param, "rkllm_init: llama.cpp could not create a context", NULL);
    if ((int)llama_n_ctx_seq(h->ctx) < h->max_ctx)
        return init_fail(h, param, "rkllm_init: llama.cpp gave each sequence less than max_context_len", NULL);
    h->vocab = llama_model_get_vocab(h->model);
    h->mem = llama_get_memory(h->ctx);
    h->n_vocab = llama_vocab_n_tokens(h->vocab);
    h->n_embd = llama_model_n_embd(h->model);
    h->n_embd_inp = llama_model_n_embd_inp(h->model);
    h->n_layer = llama_model_n_layer(h->model);
    h->seqs = sim_xcalloc((size_t)n_batch, sizeof *h->seqs);
    h->batch_cap = SIM_PREFILL_CHUNK > n_batch ? SIM_PREFILL_CHUNK : n_batch;
    h->batch = llama_batch_init(h->batch_cap, 0, 1);
    if (sim_template_init(h)) return init_fail(h, param, "rkllm_init: no usable chat template", NULL);

    if (sim_log_level() >= 1)
        sim_log('I', "RKLLMSim: %s, max_context_len %d, n_batch %d, %d threads (llama.cpp %s)", param->model_path,
                h->max_ctx, n_batch, threads, llama_version());
    *handle = h;
    trace_init(param, 0);
    return 0;
}

/* ---- rkllm_destroy ---- */

SIM_API int rkllm_destroy(LLMHandle handle) {
    sim_handle *h = sim_handle_from(handle, "rkllm_destroy");
    if (!h) return -1;
    if (sim_tls_running == h) {
        sim_log('E', "rkllm_destroy: called from inside the result callback; call rkllm_abort there instead");
        return -1;
    }
    sim_buf tr = {0};
    if (trace_begin(&tr, "rkllm_destroy")) trace_end(&tr);
    buf_free(&tr);
    /* stop a run in progress (sync on another thread, or async) and wait until it has let go */
    atomic_store(&h->destroying, 1);
    atomic_store(&h->abort_flag, 1);
    while (atomic_load(&h->running)) sim_sleep_ms(1);
    pthread_mutex_lock(&h->lock);
    pthread_mutex_unlock(&h->lock);
    handle_free(h);
    return 0;
}

/* ---- abort / is_running: lock-free, callable from any thread and from inside the callback ---- */

SIM_API int rkllm_abort(LLMHandle handle) {
    sim_handle *h = sim_handle_from(handle, "rkllm_abort");
    if (!h) return -1;
    sim_buf tr = {0};
    if (trace_begin(&tr, "rkllm_abort")) trace_end(&tr);
    buf_free(&tr);
    atomic_store(&h->abort_flag, 1);
    return 0;
}

SIM_API int rkllm_is_running(LLMHandle handle) {
    sim_handle *h = handle;
    bool running = h && h->magic == SIM_MAGIC && atomic_load(&h->running);
#if SIM_ABI_13
    return running ? 1 : 0; /* 1.3.0 header: "1 if a task is running" */
#else
    return running ? 0 : 1; /* 1.2.x header: "0 if a task is running, non-zero otherwise" */
#endif
}

/* ---- LoRA ---- */

SIM_API int rkllm_load_lora(LLMHandle handle, RKLLMLoraAdapter *lora_adapter) {
    sim_handle *h = sim_handle_from(handle, "rkllm_load_lora");
    if (!h) return -1;
    int rc = -1;
    const char *name = lora_adapter ? lora_adapter->lora_adapter_name : NULL;
    const char *path = lora_adapter ? lora_adapter->lora_adapter_path : NULL;
    if (!lora_adapter || !name || !*name || !path || !*path) {
        sim_log('E', "rkllm_load_lora: lora_adapter needs a path and a name");
    } else if (sim_lock_api(h, "rkllm_load_lora") == 0) {
        struct llama_adapter_lora *adapter = llama_adapter_lora_init(h->model, path);
        if (!adapter) {
            sim_log('E', "rkllm_load_lora: llama.cpp could not load the LoRA adapter %s (a GGUF LoRA is needed)", path);
        } else {
            int i = 0;
            while (i < h->n_loras && strcmp(h->loras[i].name, name) != 0) i++;
            if (i == h->n_loras) {
                h->loras = sim_xrealloc(h->loras, (size_t)(h->n_loras + 1) * sizeof *h->loras);
                h->n_loras++;
            } else {
                llama_adapter_lora_free(h->loras[i].adapter);
                free(h->loras[i].name);
                free(h->loras[i].path);
            }
            h->loras[i] = (sim_lora){sim_strdup(name), sim_strdup(path), lora_adapter->scale, adapter};
            rc = 0;
        }
        sim_unlock_api(h);
    }
    sim_buf tr = {0};
    if (trace_begin(&tr, "rkllm_load_lora")) {
        trace_str(&tr, "name", name);
        trace_str(&tr, "path", path);
        trace_float(&tr, "scale", lora_adapter ? lora_adapter->scale : 0.0f);
        trace_int(&tr, "result", rc);
        trace_end(&tr);
    }
    buf_free(&tr);
    return rc;
}

/* ---- KV cache ---- */

static void trace_int_array(sim_buf *tr, const char *key, const int *v, int n) {
    trace_key(tr, key);
    if (!v) {
        buf_puts(tr, "null");
        return;
    }
    buf_puts(tr, "[");
    for (int i = 0; i < n; i++) buf_printf(tr, "%s%d", i ? "," : "", v[i]);
    buf_puts(tr, "]");
}

SIM_API int rkllm_clear_kv_cache(LLMHandle handle, int keep_system_prompt, int *start_pos, int *end_pos) {
    sim_handle *h = sim_handle_from(handle, "rkllm_clear_kv_cache");
    if (!h) return -1;
    sim_buf tr = {0};
    if (trace_begin(&tr, "rkllm_clear_kv_cache")) {
        trace_int(&tr, "keep_system_prompt", keep_system_prompt);
        trace_int_array(&tr, "start_pos", start_pos, h->n_batch);
        trace_int_array(&tr, "end_pos", end_pos, h->n_batch);
        trace_end(&tr);
    }
    buf_free(&tr);
    if (!start_pos != !end_pos) {
        sim_log('E', "rkllm_clear_kv_cache: start_pos and end_pos must both be NULL or both be arrays");
        return -1;
    }
    if (sim_lock_api(h, "rkllm_clear_kv_cache")) return -1;
    for (int b = 0; b < h->n_batch; b++) {
        sim_seq *q = &h->seqs[b];
        if (!start_pos) {
            if (keep_system_prompt) sim_seq_truncate(h, b, q->sys_len);
            else sim_seq_reset(h, b);
            continue;
        }
        /* a range: drop those tokens from the conversation; everything after them is recomputed at its new
         * position by the next run (simpler than shifting the cache, same result) */
        int s = start_pos[b] < 0 ? 0 : start_pos[b];
        int e = end_pos[b] > q->hist.n ? q->hist.n : end_pos[b];
        if (s >= e) continue;
        int sys_len = q->sys_len > s ? s : q->sys_len;
        if (q->kv_n > s) {
            if (llama_memory_seq_rm(h->mem, b, s, -1)) {
                q->kv_n = s;
            } else {
                llama_memory_seq_rm(h->mem, b, -1, -1);
                q->kv_n = 0;
            }
        }
        toks_erase(&q->hist, s, e);
        q->sys_len = sys_len;
    }
    sim_unlock_api(h);
    return 0;
}

SIM_API int rkllm_get_kv_cache_size(LLMHandle handle, int *cache_sizes) {
    sim_handle *h = sim_handle_from(handle, "rkllm_get_kv_cache_size");
    if (!h) return -1;
    if (!cache_sizes) {
        sim_log('E', "rkllm_get_kv_cache_size: cache_sizes is NULL");
        return -1;
    }
    if (sim_lock_api(h, "rkllm_get_kv_cache_size")) return -1;
    for (int b = 0; b < h->n_batch; b++) cache_sizes[b] = h->seqs[b].hist.n;
    sim_unlock_api(h);
    sim_buf tr = {0};
    if (trace_begin(&tr, "rkllm_get_kv_cache_size")) {
        trace_int_array(&tr, "sizes", cache_sizes, h->n_batch);
        trace_end(&tr);
    }
    buf_free(&tr);
    return 0;
}

SIM_API int rkllm_set_cross_attn_params(LLMHandle handle, RKLLMCrossAttnParam *cross_attn_params) {
    (void)cross_attn_params;
    sim_handle *h = sim_handle_from(handle, "rkllm_set_cross_attn_params");
    if (!h) return -1;
    sim_buf tr = {0};
    if (trace_begin(&tr, "rkllm_set_cross_attn_params")) {
        trace_int(&tr, "result", -1);
        trace_end(&tr);
    }
    buf_free(&tr);
    sim_log('E', "rkllm_set_cross_attn_params: cross-attention is not supported by RKLLMSim");
    return -1;
}
