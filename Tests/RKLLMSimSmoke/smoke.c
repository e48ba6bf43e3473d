/*
 * smoke.c: contract check of an RKLLMSim build (the librkllmrt.so simulator over llama.cpp).
 *
 *   smoke <librkllmrt.so> <model.gguf> <12|13> [trace-file]
 *
 * dlopen()s the library like the Swift engine does, resolves the entry points through the function-pointer
 * types of rkllm_abi.h for the given ABI generation, and exercises the runtime contract the engine relies
 * on: init and its failures, greedy generation, keep_history, KV clearing, abort (from another thread and
 * from the callback), pause, n_batch = 2 routing, prompt-cache save/load, hidden-layer and logits modes,
 * UTF-8 WAITING, the RKLLMSIM_REPLY hook, errors, the is_running convention, n_keep shifting, run_async and
 * multimodal input (synthetic image embeddings: expansion, determinism, several images, refusals, history,
 * prompt-cache reuse by placeholder).
 * Prints one line per check group; exits non-zero if any check failed. With a trace file, RKLLMSIM_TRACE
 * is set to it (scripts/rkllmsim-smoke.sh then checks that every line is JSON).
 */
#define _POSIX_C_SOURCE 200809L
#include <dlfcn.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rkllm_abi.h"

static int failures;
static int checks;
#define CHECK(cond, ...)                                                                                           \
    do {                                                                                                           \
        checks++;                                                                                                  \
        if (!(cond)) {                                                                                             \
            failures++;                                                                                            \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                                        \
            fprintf(stderr, __VA_ARGS__);                                                                          \
            fputc('\n', stderr);                                                                                   \
        }                                                                                                          \
    } while (0)

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- the library, one ABI at a time ---- */

static int abi;
static const char *model_path;
static struct {
    rkllm12_createDefaultParam_fn default12;
    rkllm13_createDefaultParam_fn default13;
    rkllm12_init_fn init12;
    rkllm13_init_fn init13;
    rkllm12_run_fn run12;
    rkllm13_run_fn run13;
    rkllm12_run_async_fn run_async12;
    rkllm13_run_async_fn run_async13;
    rkllm_abort_fn abort_run;
    rkllm_is_running_fn is_running;
    rkllm_destroy_fn destroy;
    rkllm_clear_kv_cache_fn clear_kv_cache;
    rkllm_get_kv_cache_size_fn get_kv_cache_size;
    rkllm_set_chat_template_fn set_chat_template;
    rkllm_set_function_tools_fn set_function_tools;
    rkllm_load_lora_fn load_lora;
    rkllm_load_prompt_cache_fn load_prompt_cache;
    rkllm_release_prompt_cache_fn release_prompt_cache;
    rkllm_set_cross_attn_params_fn set_cross_attn_params;
} api;

static void *sym(void *lib, const char *name) {
    void *p = dlsym(lib, name);
    if (!p) {
        fprintf(stderr, "FAIL: %s not exported\n", name);
        exit(2);
    }
    return p;
}

static void load_api(const char *path) {
    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        fprintf(stderr, "FAIL: dlopen %s: %s\n", path, dlerror());
        exit(2);
    }
    /* the casts go through void* as POSIX allows for dlsym results */
    if (abi == 12) {
        *(void **)&api.default12 = sym(lib, RKLLM_SYM_CREATE_DEFAULT_PARAM);
        *(void **)&api.init12 = sym(lib, RKLLM_SYM_INIT);
        *(void **)&api.run12 = sym(lib, RKLLM_SYM_RUN);
        *(void **)&api.run_async12 = sym(lib, RKLLM_SYM_RUN_ASYNC);
    } else {
        *(void **)&api.default13 = sym(lib, RKLLM_SYM_CREATE_DEFAULT_PARAM);
        *(void **)&api.init13 = sym(lib, RKLLM_SYM_INIT);
        *(void **)&api.run13 = sym(lib, RKLLM_SYM_RUN);
        *(void **)&api.run_async13 = sym(lib, RKLLM_SYM_RUN_ASYNC);
    }
    *(void **)&api.abort_run = sym(lib, RKLLM_SYM_ABORT);
    *(void **)&api.is_running = sym(lib, RKLLM_SYM_IS_RUNNING);
    *(void **)&api.destroy = sym(lib, RKLLM_SYM_DESTROY);
    *(void **)&api.clear_kv_cache = sym(lib, RKLLM_SYM_CLEAR_KV_CACHE);
    *(void **)&api.get_kv_cache_size = sym(lib, RKLLM_SYM_GET_KV_CACHE_SIZE);
    *(void **)&api.set_chat_template = sym(lib, RKLLM_SYM_SET_CHAT_TEMPLATE);
    *(void **)&api.set_function_tools = sym(lib, RKLLM_SYM_SET_FUNCTION_TOOLS);
    *(void **)&api.load_lora = sym(lib, RKLLM_SYM_LOAD_LORA);
    *(void **)&api.load_prompt_cache = sym(lib, RKLLM_SYM_LOAD_PROMPT_CACHE);
    *(void **)&api.release_prompt_cache = sym(lib, RKLLM_SYM_RELEASE_PROMPT_CACHE);
    *(void **)&api.set_cross_attn_params = sym(lib, RKLLM_SYM_SET_CROSS_ATTN_PARAMS);

    /* the version string the Swift engine scans for */
    FILE *f = fopen(path, "rb");
    char want[64];
    snprintf(want, sizeof want, "rkllm-runtime version: %s", abi == 12 ? "1.2.3" : "1.3.0");
    size_t cap = 1 << 20, n = 0, got;
    char *data = malloc(cap);
    while (f && (got = fread(data + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) data = realloc(data, cap *= 2);
    }
    if (f) fclose(f);
    bool found = false;
    for (size_t i = 0; i + strlen(want) <= n && !found; i++) found = memcmp(data + i, want, strlen(want)) == 0;
    free(data);
    CHECK(found, "\"%s\" not in %s", want, path);
}

/* ---- what the callback saw ---- */

#define MAXB 4
typedef struct {
    char text[MAXB][16384];
    size_t text_n[MAXB];
    int tokens[MAXB];      /* NORMAL/WAITING results with token_id >= 0 */
    int first_token[MAXB];
    bool ended[MAXB];      /* saw token_id < 0 in a NORMAL/WAITING step */
    int normal, waiting, finish, error, calls;
    int violations;        /* contract breaches seen inside the callback */
    RKLLMPerfStat perf[MAXB];
    int pause_after;       /* return 1 at this call (0: never) */
    int abort_after;       /* call rkllm_abort from inside at this call (0: never) */
    LLMHandle handle;
    int hidden_embd, hidden_tokens, hidden_bad;
    int logits_vocab, logits_tokens;
    int n_batch;
    float *logits_out;      /* GET_LOGITS: the last logits are copied here (logits_vocab floats) */
    const char *watch_path; /* a file whose existence is recorded at each callback */
    int watch_seen_before_finish, watch_seen_at_finish;
} collector;

static void collector_reset(collector *c, int n_batch) {
    memset(c, 0, sizeof *c);
    c->n_batch = n_batch;
    for (int b = 0; b < MAXB; b++) c->first_token[b] = -1;
}

static bool utf8_incomplete(const char *s, size_t n) {
    int cont = 0;
    while (n > 0 && cont < 4) {
        unsigned char ch = (unsigned char)s[n - 1];
        if ((ch & 0xC0) == 0x80) {
            cont++;
            n--;
            continue;
        }
        int need = ch >= 0xC2 && ch <= 0xDF ? 1 : ch >= 0xE0 && ch <= 0xEF ? 2 : ch >= 0xF0 && ch <= 0xF4 ? 3 : 0;
        return need > cont;
    }
    return false;
}

static int on_result(RKLLMResult *res, void *userdata, LLMCallState state) {
    collector *c = userdata;
    if (!c) {
        fprintf(stderr, "FAIL: callback got NULL userdata\n");
        failures++;
        return 0;
    }
    c->calls++;
    if (c->watch_path && access(c->watch_path, F_OK) == 0) {
        if (state == RKLLM_RUN_FINISH) c->watch_seen_at_finish++;
        else c->watch_seen_before_finish++;
    }
    switch (state) {
    case RKLLM_RUN_NORMAL:
    case RKLLM_RUN_WAITING:
        if (state == RKLLM_RUN_NORMAL) c->normal++;
        else c->waiting++;
        for (int b = 0; b < c->n_batch; b++) {
            RKLLMResult *r = &res[b];
            if (r->last_hidden_layer.hidden_states) {
                c->hidden_embd = r->last_hidden_layer.embd_size;
                c->hidden_tokens = r->last_hidden_layer.num_tokens;
                size_t n = (size_t)c->hidden_embd * (size_t)c->hidden_tokens;
                for (size_t i = 0; i < n; i++)
                    if (!isfinite(r->last_hidden_layer.hidden_states[i])) c->hidden_bad++;
            }
            if (r->logits.logits) {
                c->logits_vocab = r->logits.vocab_size;
                c->logits_tokens = r->logits.num_tokens;
                if (c->logits_out) memcpy(c->logits_out, r->logits.logits, (size_t)c->logits_vocab * sizeof(float));
            }
            if (r->token_id < 0) {
                if (r->text) c->violations++; /* finished slot with text */
                c->ended[b] = true;
                continue;
            }
            if (c->ended[b]) c->violations++; /* a finished slot came back */
            if (c->first_token[b] < 0) c->first_token[b] = r->token_id;
            c->tokens[b]++;
            if (state == RKLLM_RUN_WAITING && r->text) c->violations++;
            if (r->text) {
                size_t n = strlen(r->text);
                if (utf8_incomplete(r->text, n)) c->violations++;
                if (c->text_n[b] + n < sizeof c->text[b]) {
                    memcpy(c->text[b] + c->text_n[b], r->text, n + 1);
                    c->text_n[b] += n;
                }
            }
        }
        break;
    case RKLLM_RUN_FINISH:
        c->finish++;
        for (int b = 0; b < c->n_batch; b++) {
            if (res[b].text || res[b].token_id >= 0) c->violations++;
            c->perf[b] = res[b].perf;
        }
        break;
    case RKLLM_RUN_ERROR:
        c->error++;
        break;
    }
    if (c->abort_after && c->calls == c->abort_after) api.abort_run(c->handle);
    if (c->pause_after && c->calls == c->pause_after) return 1;
    return 0;
}

/* ---- ABI-neutral wrappers ---- */

typedef struct {
    const char *model;
    int ctx, n_batch, n_keep, max_new, top_k;
    const char *img_start, *img_end, *img_content; /* 1.2 only: the image tags are init parameters */
} init_opts;

static collector default_collector; /* 1.3: RKLLMCallback.result_userdata */

static LLMHandle do_init(const init_opts *o, int *rc_out) {
    LLMHandle h = NULL;
    int rc;
    if (abi == 12) {
        RKLLM12Param p = api.default12();
        p.model_path = o->model;
        p.max_context_len = o->ctx;
        p.max_new_tokens = o->max_new;
        p.top_k = o->top_k;
        p.n_keep = o->n_keep;
        p.extend_param.n_batch = (uint8_t)o->n_batch;
        p.img_start = o->img_start;
        p.img_end = o->img_end;
        p.img_content = o->img_content;
        rc = api.init12(&h, &p, on_result);
    } else {
        RKLLM13Param p = api.default13();
        p.model_path = o->model;
        p.max_context_len = o->ctx;
        p.max_new_tokens = o->max_new;
        p.top_k = o->top_k;
        p.n_keep = o->n_keep;
        p.extend_param.n_batch = (uint8_t)o->n_batch;
        RKLLM13Callback cb = {on_result, &default_collector, NULL, NULL, NULL, NULL};
        rc = api.init13(&h, &p, &cb); /* the struct is copied: cb may go out of scope */
    }
    if (rc_out) *rc_out = rc;
    return h;
}

/* A multimodal input; the tag strings are per call in 1.3 only (1.2 takes them at init). */
typedef struct {
    char *prompt;
    float *embed;
    size_t n_tokens, n_image, width, height;
    const char *start, *end, *content;
    size_t n_video;
} mm_desc;

typedef struct {
    const char *role;
    int type;
    const char *text;
    int32_t *ids;
    size_t n_ids;
    bool thinking;
    const mm_desc *mm; /* RKLLM_INPUT_MULTIMODAL */
} in_desc;

typedef struct {
    int mode, keep_history;
    const char *lora;
    const char *save_cache;
    int max_new;                  /* 1.3 only */
    RKLLM13SamplingParam *sampling; /* 1.3 only */
} run_opts;

static int do_run_ex(LLMHandle h, const in_desc *in, int n, const run_opts *o, void *userdata, bool async) {
    RKLLMLoraParam lora = {o->lora};
    RKLLMPromptCacheParam cache = {1, o->save_cache};
    if (abi == 12) {
        RKLLM12Input inputs[MAXB];
        memset(inputs, 0, sizeof inputs);
        for (int b = 0; b < n; b++) {
            inputs[b].role = in[b].role;
            inputs[b].enable_thinking = in[b].thinking;
            inputs[b].input_type = (RKLLMInputType)in[b].type;
            if (in[b].type == RKLLM_INPUT_TOKEN) {
                inputs[b].payload.token_input.input_ids = in[b].ids;
                inputs[b].payload.token_input.n_tokens = in[b].n_ids;
            } else if (in[b].type == RKLLM_INPUT_MULTIMODAL) {
                RKLLM12MultiModalInput *m = &inputs[b].payload.multimodal_input;
                m->prompt = in[b].mm->prompt;
                m->image_embed = in[b].mm->embed;
                m->n_image_tokens = in[b].mm->n_tokens;
                m->n_image = in[b].mm->n_image;
                m->image_width = in[b].mm->width;
                m->image_height = in[b].mm->height;
            } else {
                inputs[b].payload.prompt_input = in[b].text;
            }
        }
        RKLLM12InferParam ip;
        memset(&ip, 0, sizeof ip);
        ip.mode = (RKLLMInferMode)o->mode;
        ip.keep_history = o->keep_history;
        ip.lora_params = o->lora ? &lora : NULL;
        ip.prompt_cache_params = o->save_cache ? &cache : NULL;
        return async ? api.run_async12(h, inputs, &ip, userdata) : api.run12(h, inputs, &ip, userdata);
    }
    RKLLM13Input inputs[MAXB];
    memset(inputs, 0, sizeof inputs);
    for (int b = 0; b < n; b++) {
        inputs[b].role = in[b].role;
        inputs[b].enable_thinking = in[b].thinking;
        inputs[b].input_type = (RKLLMInputType)in[b].type;
        if (in[b].type == RKLLM_INPUT_TOKEN) {
            inputs[b].payload.token_input.input_ids = in[b].ids;
            inputs[b].payload.token_input.n_tokens = in[b].n_ids;
        } else if (in[b].type == RKLLM_INPUT_MULTIMODAL) {
            RKLLM13MultiModalInput *m = &inputs[b].payload.multimodal_input;
            m->prompt = in[b].mm->prompt;
            m->image.image_embed = in[b].mm->embed;
            m->image.n_image_tokens = in[b].mm->n_tokens;
            m->image.n_image = in[b].mm->n_image;
            m->image.image_width = in[b].mm->width;
            m->image.image_height = in[b].mm->height;
            m->image.image_start = in[b].mm->start;
            m->image.image_end = in[b].mm->end;
            m->image.image_content = in[b].mm->content;
            m->video.n_video = in[b].mm->n_video;
        } else {
            inputs[b].payload.prompt_input = in[b].text;
        }
    }
    RKLLM13InferParam ip;
    memset(&ip, 0, sizeof ip);
    ip.mode = (RKLLMInferMode)o->mode;
    ip.keep_history = o->keep_history;
    ip.lora_params = o->lora ? &lora : NULL;
    ip.prompt_cache_params = o->save_cache ? &cache : NULL;
    ip.max_new_tokens = o->max_new;
    ip.sampling_params = o->sampling;
    return async ? api.run_async13(h, inputs, &ip, userdata) : api.run13(h, inputs, &ip, userdata);
}

static int run1(LLMHandle h, const char *role, const char *text, int keep_history, collector *c) {
    collector_reset(c, 1);
    c->handle = h;
    in_desc in = {role, RKLLM_INPUT_PROMPT, text, NULL, 0, false, NULL};
    run_opts o = {RKLLM_INFER_GENERATE, keep_history, NULL, NULL, 0, NULL};
    return do_run_ex(h, &in, 1, &o, c, false);
}

static int kv_size(LLMHandle h, int b) {
    int sizes[MAXB] = {0};
    int rc = api.get_kv_cache_size(h, sizes);
    CHECK(rc == 0, "get_kv_cache_size returned %d", rc);
    return sizes[b];
}

static int running_value(bool running) {
    /* 1.3.0: 1 while a run is in progress; 1.2.x: 0 while running (the two headers' comments differ) */
    if (abi == 13) return running ? 1 : 0;
    return running ? 0 : 1;
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        exit(2);
    }
    fputs(text, f);
    fclose(f);
}

static void group(const char *name) {
    static int last_failures, last_checks;
    static const char *current;
    static double started;
    if (current)
        printf("smoke %s: %-28s %s (%d checks, %.0f ms)\n", abi == 12 ? "1.2" : "1.3", current,
               failures == last_failures ? "ok" : "FAILED", checks - last_checks, now_ms() - started);
    fflush(stdout);
    current = name;
    last_failures = failures;
    last_checks = checks;
    started = now_ms();
}

/* ---- checks ---- */

static char tmpdir[256];

static void check_init_failures(void) {
    group("init failures");
    int rc = 0;
    init_opts o = {"/nonexistent/model.gguf", 512, 1, 0, 16, 1, NULL, NULL, NULL};
    LLMHandle h = do_init(&o, &rc);
    CHECK(rc == -1 && h == NULL, "bad model path: rc %d handle %p", rc, h);
    char junk[300];
    snprintf(junk, sizeof junk, "%s/junk.gguf", tmpdir);
    write_file(junk, "this is not a gguf file");
    o.model = junk;
    h = do_init(&o, &rc);
    CHECK(rc == -1 && h == NULL, "junk model file: rc %d", rc);
    o.model = model_path;
    o.ctx = 0;
    h = do_init(&o, &rc);
    CHECK(rc == -1 && h == NULL, "max_context_len 0: rc %d", rc);
    o.ctx = 512;
    o.n_batch = 0;
    h = do_init(&o, &rc);
    CHECK(rc == -1 && h == NULL, "n_batch 0: rc %d", rc);
    if (abi == 12) rc = api.init12(&h, NULL, on_result);
    else rc = api.init13(&h, NULL, NULL);
    CHECK(rc == -1, "NULL param: rc %d", rc);
}

typedef struct {
    LLMHandle h;
    collector *c;        /* the run's collector: abort once tokens flow */
    int during_running;  /* is_running seen while the run was going */
    int second_run_rc;   /* a concurrent rkllm_run */
} abort_ctx;

static void *abort_thread(void *arg) {
    abort_ctx *a = arg;
    double t0 = now_ms();
    while (__atomic_load_n(&a->c->tokens[0], __ATOMIC_RELAXED) < 2 && now_ms() - t0 < 20000) sleep_ms(5);
    a->during_running = api.is_running(a->h);
    collector other;
    a->second_run_rc = run1(a->h, "user", "hi", 0, &other);
    sleep_ms(100);
    api.abort_run(a->h);
    return NULL;
}

static void check_main(void) {
    init_opts o = {model_path, 512, 1, -1, 48, 1, NULL, NULL, NULL};
    int rc;
    group("init + greedy run");
    LLMHandle h = do_init(&o, &rc);
    CHECK(rc == 0 && h != NULL, "init rc %d", rc);
    if (!h) exit(1);
    CHECK(api.is_running(h) == running_value(false), "idle is_running %d", api.is_running(h));
    collector c, c2;
    rc = run1(h, "user", "What is the capital of France?", 1, &c);
    CHECK(rc == 0, "run rc %d", rc);
    CHECK(c.text_n[0] > 0, "no text");
    CHECK(c.finish == 1 && c.error == 0, "finish %d error %d", c.finish, c.error);
    CHECK(c.violations == 0, "%d contract violations", c.violations);
    CHECK(c.perf[0].prefill_tokens > 0 && c.perf[0].generate_tokens == c.tokens[0],
          "perf prefill %d generate %d, tokens seen %d", c.perf[0].prefill_tokens, c.perf[0].generate_tokens,
          c.tokens[0]);
    CHECK(c.perf[0].prefill_time_ms > 0 && c.perf[0].generate_time_ms >= 0 && c.perf[0].memory_usage_mb > 0,
          "perf times %f %f mem %f", c.perf[0].prefill_time_ms, c.perf[0].generate_time_ms,
          c.perf[0].memory_usage_mb);
    int k1 = kv_size(h, 0);
    CHECK(k1 == c.perf[0].prefill_tokens + c.perf[0].generate_tokens, "kv %d != prefill %d + generated %d", k1,
          c.perf[0].prefill_tokens, c.perf[0].generate_tokens);
    printf("  greedy: \"%s\" (%d+%d tokens)\n", c.text[0], c.perf[0].prefill_tokens, c.perf[0].generate_tokens);

    group("determinism (keep_history=0)");
    rc = run1(h, "user", "What is the capital of France?", 0, &c2);
    CHECK(rc == 0 && strcmp(c.text[0], c2.text[0]) == 0, "greedy rerun differs: \"%s\"", c2.text[0]);

    group("keep_history continuation");
    rc = run1(h, "user", "What is the capital of France?", 1, &c);
    k1 = kv_size(h, 0);
    rc = run1(h, "user", "And of Germany?", 1, &c);
    int k2 = kv_size(h, 0);
    CHECK(rc == 0 && c.finish == 1, "rc %d finish %d", rc, c.finish);
    CHECK(k2 > k1, "kv did not grow: %d -> %d", k1, k2);
    CHECK(c.perf[0].prefill_tokens < k2 - c.perf[0].generate_tokens,
          "continuation prefilled %d tokens (kv %d): history was recomputed", c.perf[0].prefill_tokens, k2);
    printf("  turn 2: \"%s\" (kv %d -> %d)\n", c.text[0], k1, k2);

    group("clear_kv_cache");
    rc = api.clear_kv_cache(h, 0, NULL, NULL);
    CHECK(rc == 0 && kv_size(h, 0) == 0, "rc %d kv %d", rc, kv_size(h, 0));

    group("function tools + tool role");
    const char *tools = "[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"description\":\"Weather "
                        "of a city\",\"parameters\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":"
                        "\"string\"}}}}}]";
    rc = api.set_function_tools(h, "You are a helpful assistant.", tools, "tool_response");
    CHECK(rc == 0, "set_function_tools rc %d", rc);
    rc = run1(h, "user", "What's the weather in Paris?", 1, &c);
    CHECK(rc == 0 && c.finish == 1, "rc %d", rc);
    int with_turn = kv_size(h, 0);
    rc = api.clear_kv_cache(h, 1, NULL, NULL);
    int sys = kv_size(h, 0);
    CHECK(rc == 0 && sys > 50 && sys < with_turn, "keep_system_prompt left %d of %d", sys, with_turn);
    rc = run1(h, "tool", "{\"temperature\": 21}", 1, &c);
    CHECK(rc == 0 && c.finish == 1 && kv_size(h, 0) > sys, "tool turn rc %d", rc);
    int p_tool = c.perf[0].prefill_tokens;
    CHECK(p_tool > 5 && p_tool < sys, "tool turn prefilled %d tokens with %d kept", p_tool, sys);
    rc = api.set_function_tools(h, "", NULL, NULL); /* back to no tools */
    CHECK(rc == 0 && kv_size(h, 0) == 0, "set_function_tools clears histories");

    group("RKLLMSIM_REPLY + UTF-8 WAITING");
    char reply_path[300];
    snprintf(reply_path, sizeof reply_path, "%s/reply.txt", tmpdir);
    const char *call = "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>";
    write_file(reply_path, call);
    setenv("RKLLMSIM_REPLY", reply_path, 1);
    rc = run1(h, "user", "Weather?", 0, &c);
    CHECK(rc == 0 && strcmp(c.text[0], call) == 0, "reply text \"%s\"", c.text[0]);
    const char *utf = "h\xc3\xa9llo \xe4\xb8\x96\xe7\x95\x8c \xf0\x9f\x8e\x89 ok"; /* héllo 世界 🎉 ok */
    write_file(reply_path, utf);
    rc = run1(h, "user", "Say hello", 0, &c);
    CHECK(rc == 0 && strcmp(c.text[0], utf) == 0, "utf-8 reply \"%s\"", c.text[0]);
    CHECK(c.waiting == 5 && c.violations == 0, "waiting %d violations %d", c.waiting, c.violations);
    CHECK(c.perf[0].generate_tokens == c.tokens[0], "generated %d, seen %d", c.perf[0].generate_tokens, c.tokens[0]);
    unsetenv("RKLLMSIM_REPLY");

    group("pause (callback returns 1)");
    collector_reset(&c, 1);
    c.pause_after = 3;
    {
        in_desc in = {"user", RKLLM_INPUT_PROMPT, "Tell me a story about a dragon.", NULL, 0, false, NULL};
        run_opts ro = {RKLLM_INFER_GENERATE, 1, NULL, NULL, 0, NULL};
        rc = do_run_ex(h, &in, 1, &ro, &c, false);
    }
    CHECK(rc == 0 && c.finish == 0 && c.calls == 3, "rc %d finish %d calls %d", rc, c.finish, c.calls);
    int paused_kv = kv_size(h, 0);
    rc = run1(h, "user", "Continue.", 1, &c2);
    CHECK(rc == 0 && c2.finish == 1 && kv_size(h, 0) > paused_kv, "resume after pause rc %d", rc);

    group("abort from another thread");
    char long_reply[4096] = "";
    for (int i = 0; i < 60; i++) strcat(long_reply, "word ");
    write_file(reply_path, long_reply);
    setenv("RKLLMSIM_REPLY", reply_path, 1);
    setenv("RKLLMSIM_TOKEN_DELAY_MS", "40", 1);
    collector_reset(&c, 1);
    abort_ctx a = {h, &c, -99, -99};
    pthread_t t;
    pthread_create(&t, NULL, abort_thread, &a);
    {
        in_desc in = {"user", RKLLM_INPUT_PROMPT, "Go on.", NULL, 0, false, NULL};
        run_opts ro = {RKLLM_INFER_GENERATE, 0, NULL, NULL, 0, NULL};
        rc = do_run_ex(h, &in, 1, &ro, &c, false);
    }
    pthread_join(t, NULL);
    CHECK(rc == 0 && c.finish == 1, "aborted run rc %d finish %d", rc, c.finish);
    CHECK(c.perf[0].generate_tokens >= 2 && c.perf[0].generate_tokens < 40, "generated %d (max_new_tokens 48)",
          c.perf[0].generate_tokens);
    CHECK(a.during_running == running_value(true), "is_running during run: %d", a.during_running);
    CHECK(a.second_run_rc == -1, "concurrent rkllm_run returned %d", a.second_run_rc);
    CHECK(api.is_running(h) == running_value(false), "is_running after: %d", api.is_running(h));

    group("abort from inside the callback");
    collector_reset(&c, 1);
    c.handle = h;
    c.abort_after = 2;
    {
        in_desc in = {"user", RKLLM_INPUT_PROMPT, "Go on.", NULL, 0, false, NULL};
        run_opts ro = {RKLLM_INFER_GENERATE, 0, NULL, NULL, 0, NULL};
        rc = do_run_ex(h, &in, 1, &ro, &c, false);
    }
    CHECK(rc == 0 && c.finish == 1 && c.perf[0].generate_tokens == 2, "rc %d finish %d generated %d", rc, c.finish,
          c.perf[0].generate_tokens);

    group("run_async");
    collector_reset(&c, 1);
    {
        in_desc in = {"user", RKLLM_INPUT_PROMPT, "Go on.", NULL, 0, false, NULL};
        run_opts ro = {RKLLM_INFER_GENERATE, 0, NULL, NULL, 0, NULL};
        rc = do_run_ex(h, &in, 1, &ro, &c, true);
    }
    CHECK(rc == 0, "run_async rc %d", rc);
    sleep_ms(100);
    CHECK(api.is_running(h) == running_value(true), "is_running during async run %d", api.is_running(h));
    double t0 = now_ms();
    while (api.is_running(h) == running_value(true) && now_ms() - t0 < 30000) sleep_ms(10);
    CHECK(c.finish == 1 && c.perf[0].generate_tokens == 48, "async finish %d generated %d", c.finish,
          c.perf[0].generate_tokens);
    unsetenv("RKLLMSIM_TOKEN_DELAY_MS");
    unsetenv("RKLLMSIM_REPLY");

    group("prompt cache");
    char cache_path[300], bad_path[300];
    snprintf(cache_path, sizeof cache_path, "%s/prompt.cache", tmpdir);
    snprintf(bad_path, sizeof bad_path, "%s/bad.cache", tmpdir);
    rc = api.set_chat_template(h,
                               "<|im_start|>system\nYou are a meticulous assistant for ACME Corporation. You answer "
                               "questions about ACME products politely, briefly and accurately.<|im_end|>\n",
                               "<|im_start|>user\n", "<|im_end|>\n<|im_start|>assistant\n");
    CHECK(rc == 0, "set_chat_template rc %d", rc);
    const char *q = "Which products does ACME sell?";
    {
        /* "written after inference": a save run that is paused or aborted writes nothing */
        in_desc in = {"user", RKLLM_INPUT_PROMPT, q, NULL, 0, false, NULL};
        run_opts ro = {RKLLM_INFER_GENERATE, 0, NULL, cache_path, 0, NULL};
        collector_reset(&c, 1);
        c.pause_after = 2;
        rc = do_run_ex(h, &in, 1, &ro, &c, false);
        CHECK(rc == 0 && c.finish == 0 && access(cache_path, F_OK) != 0, "paused save run rc %d wrote %s", rc,
              cache_path);
        collector_reset(&c, 1);
        c.handle = h;
        c.abort_after = 2;
        rc = do_run_ex(h, &in, 1, &ro, &c, false);
        CHECK(rc == 0 && c.finish == 1 && access(cache_path, F_OK) != 0, "aborted save run rc %d wrote %s", rc,
              cache_path);
    }
    collector_reset(&c, 1);
    c.watch_path = cache_path;
    {
        in_desc in = {"user", RKLLM_INPUT_PROMPT, q, NULL, 0, false, NULL};
        run_opts ro = {RKLLM_INFER_GENERATE, 0, NULL, cache_path, 0, NULL};
        rc = do_run_ex(h, &in, 1, &ro, &c, false);
    }
    CHECK(rc == 0 && access(cache_path, R_OK) == 0, "save run rc %d, file %s", rc, cache_path);
    CHECK(c.watch_seen_before_finish == 0 && c.watch_seen_at_finish == 1,
          "the cache file appeared during %d token callbacks and at %d FINISH (expected: only once finished)",
          c.watch_seen_before_finish, c.watch_seen_at_finish);
    int full = c.perf[0].prefill_tokens;
    CHECK(api.load_prompt_cache(h, cache_path) == 0, "load_prompt_cache failed");
    rc = run1(h, "user", q, 0, &c2);
    CHECK(rc == 0 && c2.perf[0].prefill_tokens < full, "cached run prefilled %d of %d", c2.perf[0].prefill_tokens, full);
    CHECK(strcmp(c.text[0], c2.text[0]) == 0, "cached run answered differently: \"%s\" vs \"%s\"", c2.text[0],
          c.text[0]);
    rc = run1(h, "user", "Does ACME sell anvils?", 0, &c2);
    CHECK(rc == 0 && c2.perf[0].prefill_tokens < full, "partial-match run prefilled %d (full prompt %d)",
          c2.perf[0].prefill_tokens, full);
    printf("  prefill: %d tokens uncached, %d with a shared prefix only\n", full, c2.perf[0].prefill_tokens);
    CHECK(api.load_prompt_cache(h, "/nonexistent/x.cache") == -1, "missing cache file accepted");
    write_file(bad_path, "RKSIMPC1 but not really a cache file at all, just some bytes................");
    CHECK(api.load_prompt_cache(h, bad_path) == -1, "corrupt cache file accepted");
    {
        /* the real file, one byte flipped near the end (checksum) */
        FILE *f = fopen(cache_path, "rb");
        fseek(f, 0, SEEK_END);
        long n = ftell(f);
        rewind(f);
        char *data = malloc((size_t)n);
        CHECK(fread(data, 1, (size_t)n, f) == (size_t)n, "read cache");
        fclose(f);
        data[n - 10] ^= 0x55;
        f = fopen(bad_path, "wb");
        fwrite(data, 1, (size_t)n, f);
        fclose(f);
        free(data);
        CHECK(api.load_prompt_cache(h, bad_path) == -1, "damaged cache file accepted");
    }
    CHECK(api.release_prompt_cache(h) == 0, "release_prompt_cache");
    rc = run1(h, "user", q, 0, &c2);
    CHECK(rc == 0 && c2.perf[0].prefill_tokens == full, "after release prefilled %d, expected %d",
          c2.perf[0].prefill_tokens, full);

    group("GET_LAST_HIDDEN_LAYER / LOGITS");
    collector_reset(&c, 1);
    {
        in_desc in = {"user", RKLLM_INPUT_PROMPT, "Embed this sentence.", NULL, 0, false, NULL};
        run_opts ro = {RKLLM_INFER_GET_LAST_HIDDEN_LAYER, 0, NULL, NULL, 0, NULL};
        rc = do_run_ex(h, &in, 1, &ro, &c, false);
    }
    CHECK(rc == 0 && c.normal == 1 && c.finish == 1, "rc %d normal %d finish %d", rc, c.normal, c.finish);
    CHECK(c.hidden_embd == 576 && c.hidden_tokens == c.perf[0].prefill_tokens && c.hidden_tokens > 5 &&
              c.hidden_bad == 0,
          "hidden %d x %d (bad %d), prefill %d", c.hidden_tokens, c.hidden_embd, c.hidden_bad,
          c.perf[0].prefill_tokens);
    CHECK(c.perf[0].generate_tokens == 0 && kv_size(h, 0) == 0, "hidden mode generated or kept tokens");
    collector_reset(&c, 1);
    {
        in_desc in = {"user", RKLLM_INPUT_PROMPT, "Logits please.", NULL, 0, false, NULL};
        run_opts ro = {RKLLM_INFER_GET_LOGITS, 0, NULL, NULL, 0, NULL};
        rc = do_run_ex(h, &in, 1, &ro, &c, false);
    }
    CHECK(rc == 0 && c.logits_vocab == 49152 && c.logits_tokens == 1 && c.finish == 1, "logits %d x %d",
          c.logits_tokens, c.logits_vocab);

    group("TOKEN input");
    {
        int32_t ids[] = {1, 9690, 198, 19556, 2};
        collector_reset(&c, 1);
        in_desc in = {"user", RKLLM_INPUT_TOKEN, NULL, ids, 5, false, NULL};
        run_opts ro = {RKLLM_INFER_GENERATE, 0, NULL, NULL, 0, NULL};
        rc = do_run_ex(h, &in, 1, &ro, &c, false);
        CHECK(rc == 0 && c.perf[0].prefill_tokens == 5 && c.finish == 1, "rc %d prefill %d", rc,
              c.perf[0].prefill_tokens);
    }

    group("errors");
    collector_reset(&c, 1);
    {
        in_desc in = {"user", RKLLM_INPUT_EMBED, NULL, NULL, 0, false, NULL};
        run_opts ro = {RKLLM_INFER_GENERATE, 0, NULL, NULL, 0, NULL};
        rc = do_run_ex(h, &in, 1, &ro, &c, false);
    }
    CHECK(rc == -1 && c.error == 1 && c.finish == 0, "EMBED input: rc %d error %d", rc, c.error);
    collector_reset(&c, 1);
    {
        in_desc in = {"user", RKLLM_INPUT_PROMPT, "hi", NULL, 0, false, NULL};
        run_opts ro = {RKLLM_INFER_GENERATE, 0, "no-such-lora", NULL, 0, NULL};
        rc = do_run_ex(h, &in, 1, &ro, &c, false);
    }
    CHECK(rc == -1 && c.error == 1, "unknown LoRA: rc %d error %d", rc, c.error);
    RKLLMLoraAdapter lora = {"/nonexistent/lora.gguf", "x", 1.0f};
    CHECK(api.load_lora(h, &lora) == -1, "bad LoRA path accepted");
    CHECK(api.set_cross_attn_params(h, NULL) == -1, "cross attention accepted");
    {
        static char big[8000];
        big[0] = '\0';
        for (int i = 0; i < 700; i++) strcat(big, "hello ");
        rc = run1(h, "user", big, 0, &c);
        CHECK(rc == -1 && c.error == 1 && c.finish == 0, "over-long prompt: rc %d error %d", rc, c.error);
    }

    if (abi == 13) {
        group("1.3 per-run overrides");
        RKLLM13SamplingParam sp = {1, 0.9f, 0.0f, 1.0f, 0.0f, 0.0f, 0, 5.0f, 0.1f};
        collector_reset(&c, 1);
        in_desc in = {"user", RKLLM_INPUT_PROMPT, "Tell me a long story about the sea.", NULL, 0, false, NULL};
        run_opts ro = {RKLLM_INFER_GENERATE, 0, NULL, NULL, 5, &sp};
        rc = do_run_ex(h, &in, 1, &ro, &c, false);
        CHECK(rc == 0 && c.perf[0].generate_tokens <= 5 && c.finish == 1, "max_new_tokens 5: generated %d",
              c.perf[0].generate_tokens);
        collector_reset(&default_collector, 1);
        rc = do_run_ex(h, &in, 1, &ro, NULL, false); /* userdata NULL -> RKLLMCallback.result_userdata */
        CHECK(rc == 0 && default_collector.finish == 1, "result_userdata not used (finish %d)", default_collector.finish);
    }

    group("destroy");
    CHECK(api.destroy(h) == 0, "destroy");

    group("destroy during an async run");
    h = do_init(&o, &rc);
    CHECK(rc == 0, "init");
    write_file(reply_path, long_reply);
    setenv("RKLLMSIM_REPLY", reply_path, 1);
    setenv("RKLLMSIM_TOKEN_DELAY_MS", "40", 1);
    collector_reset(&c, 1);
    {
        in_desc in = {"user", RKLLM_INPUT_PROMPT, "Go on.", NULL, 0, false, NULL};
        run_opts ro = {RKLLM_INFER_GENERATE, 0, NULL, NULL, 0, NULL};
        rc = do_run_ex(h, &in, 1, &ro, &c, true);
    }
    CHECK(rc == 0, "run_async rc %d", rc);
    t0 = now_ms();
    while (__atomic_load_n(&c.tokens[0], __ATOMIC_RELAXED) < 1 && now_ms() - t0 < 20000) sleep_ms(5);
    rc = api.destroy(h);
    CHECK(rc == 0 && c.finish == 1 && c.perf[0].generate_tokens < 48, "destroy rc %d, finish %d, generated %d", rc,
          c.finish, c.perf[0].generate_tokens);
    unsetenv("RKLLMSIM_TOKEN_DELAY_MS");
    unsetenv("RKLLMSIM_REPLY");
}

static void check_batch(void) {
    group("n_batch=2 routing");
    int rc;
    init_opts o1 = {model_path, 256, 1, 0, 16, 1, NULL, NULL, NULL};
    LLMHandle single = do_init(&o1, &rc);
    CHECK(rc == 0, "init single");
    const char *p[2] = {"What is the capital of France?", "Write a haiku about rain."};
    collector s[2];
    for (int b = 0; b < 2; b++) run1(single, "user", p[b], 0, &s[b]);
    api.destroy(single);

    init_opts o2 = {model_path, 256, 2, 0, 16, 1, NULL, NULL, NULL};
    LLMHandle h = do_init(&o2, &rc);
    CHECK(rc == 0 && h, "init n_batch 2 rc %d", rc);
    if (!h) return;
    collector c;
    collector_reset(&c, 2);
    in_desc in[2] = {{"user", RKLLM_INPUT_PROMPT, p[0], NULL, 0, false, NULL}, {"user", RKLLM_INPUT_PROMPT, p[1], NULL, 0, false, NULL}};
    run_opts ro = {RKLLM_INFER_GENERATE, 1, NULL, NULL, 0, NULL};
    rc = do_run_ex(h, in, 2, &ro, &c, false);
    CHECK(rc == 0 && c.finish == 1 && c.violations == 0, "rc %d finish %d violations %d", rc, c.finish, c.violations);
    for (int b = 0; b < 2; b++) {
        CHECK(c.text_n[b] > 0, "batch %d got no text", b);
        CHECK(c.first_token[b] == s[b].first_token[0], "batch %d first token %d, alone %d", b, c.first_token[b],
              s[b].first_token[0]);
        CHECK(c.perf[b].generate_tokens == c.tokens[b], "batch %d perf %d seen %d", b, c.perf[b].generate_tokens,
              c.tokens[b]);
        printf("  batch %d: \"%s\"\n", b, c.text[b]);
    }
    CHECK(strcmp(c.text[0], c.text[1]) != 0, "both batches produced the same text");
    CHECK(c.ended[0] != c.ended[1], "expected exactly one slot to finish before the other (ended %d %d)", c.ended[0],
          c.ended[1]);
    int sizes[2];
    api.get_kv_cache_size(h, sizes);
    CHECK(sizes[0] == c.perf[0].prefill_tokens + c.perf[0].generate_tokens &&
              sizes[1] == c.perf[1].prefill_tokens + c.perf[1].generate_tokens,
          "kv sizes %d %d", sizes[0], sizes[1]);
    /* range clear on batch 1 only */
    int start[2] = {0, 2}, end[2] = {0, 5};
    CHECK(api.clear_kv_cache(h, 0, start, end) == 0, "range clear");
    int after[2];
    api.get_kv_cache_size(h, after);
    CHECK(after[0] == sizes[0] && after[1] == sizes[1] - 3, "range clear: %d %d -> %d %d", sizes[0], sizes[1],
          after[0], after[1]);

    group("n_batch=2 prompt cache");
    char cache_path[300];
    snprintf(cache_path, sizeof cache_path, "%s/batch.cache", tmpdir);
    collector_reset(&c, 2);
    ro.keep_history = 0;
    ro.save_cache = cache_path;
    rc = do_run_ex(h, in, 2, &ro, &c, false);
    int full0 = c.perf[0].prefill_tokens;
    CHECK(rc == 0 && api.load_prompt_cache(h, cache_path) == 0, "save/load rc %d", rc);
    in[1] = in[0]; /* both slots now match the cache (saved from batch 0) */
    ro.save_cache = NULL;
    collector_reset(&c, 2);
    rc = do_run_ex(h, in, 2, &ro, &c, false);
    CHECK(rc == 0 && c.perf[0].prefill_tokens < full0 && c.perf[1].prefill_tokens < full0, "prefill %d %d of %d",
          c.perf[0].prefill_tokens, c.perf[1].prefill_tokens, full0);
    CHECK(strcmp(c.text[0], c.text[1]) == 0, "restored slots answered differently");
    api.destroy(h);
}

static void check_shift(void) {
    group("n_keep shift");
    int rc;
    init_opts o = {model_path, 128, 1, -1, 12, 1, NULL, NULL, NULL};
    LLMHandle h = do_init(&o, &rc);
    CHECK(rc == 0, "init");
    if (!h) return;
    rc = api.set_chat_template(h, "<|im_start|>system\nYou are terse.<|im_end|>\n", "<|im_start|>user\n",
                               "<|im_end|>\n<|im_start|>assistant\n");
    collector c;
    int max_seen = 0, bad = 0;
    for (int i = 0; i < 10; i++) {
        rc = run1(h, "user", "Tell me one more fact about the moon.", 1, &c);
        if (rc != 0 || c.finish != 1) bad++;
        int k = kv_size(h, 0);
        if (k > max_seen) max_seen = k;
    }
    CHECK(bad == 0 && max_seen <= 128, "bad runs %d, largest kv %d", bad, max_seen);
    CHECK(max_seen > 100, "the context never filled (largest kv %d)", max_seen);
    api.destroy(h);
}


/* ---- multimodal input (synthetic image embeddings) ---- */

#define MM_EMBD 576   /* SmolLM2-135M's input embedding width */
#define MM_TOK 4      /* positions per synthetic image */
#define MM_VOCAB 49152
#define MM_TAG_TOKENS 6 /* "<img>" and "</img>" are 3 SmolLM2 tokens each */

/* Deterministic pseudo-random rows, uniform in [-0.235, 0.235]: standard deviation 0.136, that of SmolLM2's token
 * embeddings (token_embd.weight, dequantized). */
static void fill_image(float *rows, size_t n_tokens, unsigned seed) {
    uint32_t x = 2463534242u ^ (seed * 2654435761u);
    for (size_t i = 0; i < n_tokens * MM_EMBD; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        rows[i] = ((float)(x >> 8) / 16777216.0f - 0.5f) * 0.47f;
    }
}

static mm_desc mm_make(char *prompt, float *embed, size_t n_image) {
    mm_desc m = {prompt, embed, MM_TOK, n_image, 224, 224, "<img>", "</img>", "<empty_output>", 0};
    return m;
}

static int run_mm(LLMHandle h, const mm_desc *m, int mode, int keep_history, const char *save, bool async,
                  collector *c) {
    collector_reset(c, 1);
    c->handle = h;
    in_desc in = {"user", RKLLM_INPUT_MULTIMODAL, NULL, NULL, 0, false, m};
    run_opts o = {mode, keep_history, NULL, save, 0, NULL};
    return do_run_ex(h, &in, 1, &o, c, async);
}

static int mm_logits(LLMHandle h, const mm_desc *m, float *out) {
    collector c;
    collector_reset(&c, 1);
    c.logits_out = out;
    in_desc in = {"user", RKLLM_INPUT_MULTIMODAL, NULL, NULL, 0, false, m};
    run_opts o = {RKLLM_INFER_GET_LOGITS, 0, NULL, NULL, 0, NULL};
    int rc = do_run_ex(h, &in, 1, &o, &c, false);
    CHECK(rc == 0 && c.finish == 1 && c.logits_vocab == MM_VOCAB, "logits run rc %d vocab %d", rc, c.logits_vocab);
    return rc;
}

static float max_diff(const float *a, const float *b, size_t n) {
    float d = 0;
    for (size_t i = 0; i < n; i++) d = fabsf(a[i] - b[i]) > d ? fabsf(a[i] - b[i]) : d;
    return d;
}

/* A refused run: -1, one ERROR, no FINISH, and the slot's history untouched. */
static void mm_refused(LLMHandle h, const mm_desc *m, const char *what) {
    collector c;
    int before = kv_size(h, 0);
    int rc = run_mm(h, m, RKLLM_INFER_GENERATE, 1, NULL, false, &c);
    CHECK(rc == -1 && c.error == 1 && c.finish == 0 && c.normal == 0, "%s: rc %d error %d finish %d", what, rc,
          c.error, c.finish);
    CHECK(kv_size(h, 0) == before, "%s: history changed %d -> %d", what, before, kv_size(h, 0));
}

static void check_multimodal(void) {
    group("multimodal: one image");
    int rc;
    init_opts o = {model_path, 512, 1, -1, 16, 1, "<img>", "</img>", "<empty_output>"};
    LLMHandle h = do_init(&o, &rc);
    CHECK(rc == 0 && h, "init rc %d", rc);
    if (!h) return;
    static float A[MM_TOK * MM_EMBD], B[MM_TOK * MM_EMBD], AB[2 * MM_TOK * MM_EMBD], BA[2 * MM_TOK * MM_EMBD];
    fill_image(A, MM_TOK, 1);
    fill_image(B, MM_TOK, 2);
    memcpy(AB, A, sizeof A);
    memcpy(AB + MM_TOK * MM_EMBD, B, sizeof B);
    memcpy(BA, B, sizeof B);
    memcpy(BA + MM_TOK * MM_EMBD, A, sizeof A);
    char p1[] = "<image>What is in the image?";
    static collector c, c2;
    static char text_a[16384], text_b[16384];
    rc = run1(h, "user", "What is in the image?", 0, &c2);
    int text_prefill = c2.perf[0].prefill_tokens;
    mm_desc ma = mm_make(p1, A, 1), mb = mm_make(p1, B, 1);
    rc = run_mm(h, &ma, RKLLM_INFER_GENERATE, 0, NULL, false, &c);
    CHECK(rc == 0 && c.finish == 1 && c.error == 0 && c.text_n[0] > 0 && c.violations == 0,
          "rc %d finish %d error %d text \"%s\"", rc, c.finish, c.error, c.text[0]);
    CHECK(c.perf[0].prefill_tokens == text_prefill + MM_TOK + MM_TAG_TOKENS,
          "prefilled %d: the text alone is %d, + %d image positions + %d tag tokens", c.perf[0].prefill_tokens,
          text_prefill, MM_TOK, MM_TAG_TOKENS);
    CHECK(kv_size(h, 0) == c.perf[0].prefill_tokens + c.perf[0].generate_tokens, "kv %d", kv_size(h, 0));
    snprintf(text_a, sizeof text_a, "%s", c.text[0]);
    int first_a = c.first_token[0];
    int full_a = c.perf[0].prefill_tokens;
    printf("  image A: \"%s\" (%d+%d tokens)\n", text_a, c.perf[0].prefill_tokens, c.perf[0].generate_tokens);

    group("multimodal: same / other image");
    rc = run_mm(h, &ma, RKLLM_INFER_GENERATE, 0, NULL, false, &c);
    CHECK(rc == 0 && strcmp(c.text[0], text_a) == 0, "same embeddings, other text: \"%s\"", c.text[0]);
    rc = run_mm(h, &mb, RKLLM_INFER_GENERATE, 0, NULL, false, &c);
    CHECK(rc == 0 && c.finish == 1 && c.text_n[0] > 0, "image B rc %d", rc);
    snprintf(text_b, sizeof text_b, "%s", c.text[0]);
    int first_b = c.first_token[0];
    printf("  image B: \"%s\"\n", text_b);
    CHECK(strcmp(text_a, text_b) != 0, "images A and B give the same text");
    float *la = malloc(MM_VOCAB * sizeof(float)), *la2 = malloc(MM_VOCAB * sizeof(float)),
          *lb = malloc(MM_VOCAB * sizeof(float));
    mm_logits(h, &ma, la);
    mm_logits(h, &ma, la2);
    mm_logits(h, &mb, lb);
    CHECK(max_diff(la, la2, MM_VOCAB) == 0.0f, "same image, logits differ by %g", max_diff(la, la2, MM_VOCAB));
    CHECK(max_diff(la, lb, MM_VOCAB) > 1e-3f, "images A and B give the same logits (%g)", max_diff(la, lb, MM_VOCAB));

    group("multimodal: two images");
    char p2[] = "Compare <image> with <image>.";
    mm_desc mab = mm_make(p2, AB, 2), mba = mm_make(p2, BA, 2);
    rc = run_mm(h, &mab, RKLLM_INFER_GENERATE, 0, NULL, false, &c);
    CHECK(rc == 0 && c.finish == 1 && c.text_n[0] > 0, "two images rc %d finish %d", rc, c.finish);
    printf("  images A, B: \"%s\" (%d+%d tokens)\n", c.text[0], c.perf[0].prefill_tokens, c.perf[0].generate_tokens);
    mm_logits(h, &mab, la);
    mm_logits(h, &mba, lb);
    CHECK(max_diff(la, lb, MM_VOCAB) > 1e-3f, "A,B and B,A give the same logits: images not taken in order");
    collector_reset(&c, 1);
    {
        in_desc in = {"user", RKLLM_INPUT_MULTIMODAL, NULL, NULL, 0, false, &mab};
        run_opts ro = {RKLLM_INFER_GET_LAST_HIDDEN_LAYER, 0, NULL, NULL, 0, NULL};
        rc = do_run_ex(h, &in, 1, &ro, &c, false);
    }
    CHECK(rc == 0 && c.hidden_embd == MM_EMBD && c.hidden_tokens == c.perf[0].prefill_tokens && c.hidden_bad == 0,
          "hidden layer %d x %d, prefill %d", c.hidden_tokens, c.hidden_embd, c.perf[0].prefill_tokens);

    group("multimodal: keep_history turns");
    rc = run_mm(h, &ma, RKLLM_INFER_GENERATE, 1, NULL, false, &c);
    int k1 = kv_size(h, 0);
    CHECK(rc == 0 && c.finish == 1 && strcmp(c.text[0], text_a) == 0, "turn 1 rc %d \"%s\"", rc, c.text[0]);
    char p3[] = "<image>And what is in this one?";
    mm_desc mb3 = mm_make(p3, B, 1);
    rc = run_mm(h, &mb3, RKLLM_INFER_GENERATE, 1, NULL, false, &c);
    int k2 = kv_size(h, 0);
    CHECK(rc == 0 && c.finish == 1 && c.text_n[0] > 0, "image turn 2 rc %d", rc);
    CHECK(k2 > k1 && c.perf[0].prefill_tokens < k2 - c.perf[0].generate_tokens - k1 + 3,
          "turn 2 prefilled %d (kv %d -> %d): history recomputed", c.perf[0].prefill_tokens, k1, k2);
    printf("  turn 2 (image B): \"%s\" (kv %d -> %d)\n", c.text[0], k1, k2);

    group("multimodal: refusals");
    {
        mm_desc m = ma;
        m.n_image = 0;
        mm_refused(h, &m, "n_image 0");
        m = ma;
        m.n_tokens = 0;
        mm_refused(h, &m, "n_image_tokens 0");
        m = ma;
        m.embed = NULL;
        mm_refused(h, &m, "image_embed NULL");
        char two[] = "<image><image>Two tags, one image";
        m = mm_make(two, A, 1);
        mm_refused(h, &m, "2 tags, n_image 1");
        char none[] = "No tag at all";
        m = mm_make(none, A, 1);
        mm_refused(h, &m, "0 tags, n_image 1");
        m = mm_make(NULL, A, 1);
        mm_refused(h, &m, "NULL prompt");
        m = ma;
        m.n_tokens = 600; /* over max_context_len: refused before image_embed (4 rows) is read */
        mm_refused(h, &m, "n_image_tokens over the context");
        float *big = calloc(500 * MM_EMBD, sizeof(float));
        m = mm_make(p1, big, 1);
        m.n_tokens = 500; /* fits alone, not with the history and the text */
        mm_refused(h, &m, "history + text + image over the context");
        free(big);
        if (abi == 13) {
            m = ma;
            m.start = NULL;
            mm_refused(h, &m, "image_start NULL");
            m = ma;
            m.content = NULL;
            mm_refused(h, &m, "image_content NULL");
            m = ma;
            m.content = "<|image_pad|>"; /* 7 SmolLM2 tokens */
            mm_refused(h, &m, "multi-token content tag");
            m = ma;
            m.n_video = 1;
            mm_refused(h, &m, "video");
        } else {
            init_opts bad = o;
            bad.img_start = bad.img_end = bad.img_content = NULL;
            LLMHandle h2 = do_init(&bad, &rc);
            CHECK(rc == 0 && h2, "init without image tags rc %d", rc);
            if (h2) mm_refused(h2, &ma, "no img_* tags at init");
            if (h2) api.destroy(h2);
            bad = o;
            bad.img_content = "<|image_pad|>";
            h2 = do_init(&bad, &rc);
            if (h2) mm_refused(h2, &ma, "multi-token img_content");
            if (h2) api.destroy(h2);
            /* the caller may reuse its strings once rkllm_init has returned: the tags are copied */
            char start[] = "<img>", end[] = "</img>", content[] = "<empty_output>";
            init_opts own = o;
            own.img_start = start;
            own.img_end = end;
            own.img_content = content;
            h2 = do_init(&own, &rc);
            memset(start, 'x', sizeof start - 1);
            memset(end, 'x', sizeof end - 1);
            memset(content, 'x', sizeof content - 1);
            if (h2) {
                rc = run_mm(h2, &ma, RKLLM_INFER_GENERATE, 0, NULL, false, &c2);
                CHECK(rc == 0 && strcmp(c2.text[0], text_a) == 0, "tags not copied at init: rc %d \"%s\"", rc,
                      c2.text[0]);
                api.destroy(h2);
            }
        }
    }
    rc = run1(h, "user", "Thanks. Which of the two did you like more?", 1, &c);
    CHECK(rc == 0 && c.finish == 1 && kv_size(h, 0) > k2, "text turn after images rc %d", rc);
    {
        int start[1] = {3}, end[1] = {6};
        rc = api.clear_kv_cache(h, 0, start, end);
        int before = kv_size(h, 0);
        rc = run_mm(h, &ma, RKLLM_INFER_GENERATE, 1, NULL, false, &c);
        CHECK(rc == 0 && c.finish == 1 && c.perf[0].prefill_tokens > before - 6,
              "after a range clear: rc %d, prefilled %d of %d (images recomputed)", rc, c.perf[0].prefill_tokens,
              before);
    }

    group("multimodal: prompt cache");
    {
        char cache_path[300];
        snprintf(cache_path, sizeof cache_path, "%s/mm.cache", tmpdir);
        rc = run_mm(h, &ma, RKLLM_INFER_GENERATE, 0, cache_path, false, &c);
        CHECK(rc == 0 && access(cache_path, R_OK) == 0 && c.perf[0].prefill_tokens == full_a, "save rc %d prefill %d",
              rc, c.perf[0].prefill_tokens);
        CHECK(api.load_prompt_cache(h, cache_path) == 0, "load");
        /* an empty slot holds no image rows: only the placeholders' hash can tell A from B now */
        api.clear_kv_cache(h, 0, NULL, NULL);
        rc = run_mm(h, &ma, RKLLM_INFER_GENERATE, 0, NULL, false, &c);
        int pa = c.perf[0].prefill_tokens;
        CHECK(rc == 0 && pa == 1 && strcmp(c.text[0], text_a) == 0, "same image from the cache: prefill %d, \"%s\"",
              pa, c.text[0]);
        api.clear_kv_cache(h, 0, NULL, NULL);
        rc = run_mm(h, &mb, RKLLM_INFER_GENERATE, 0, NULL, false, &c);
        int pb = c.perf[0].prefill_tokens;
        /* reuse must stop at B's first image position: its rows, the end tag and the text are computed */
        CHECK(rc == 0 && pb > MM_TOK + 3 && pb < full_a && strcmp(c.text[0], text_b) == 0,
              "other image with the cache: prefill %d of %d, \"%s\" (uncached \"%s\")", pb, full_a, c.text[0], text_b);
        printf("  prefill with the cache of image A: image A %d, image B %d of %d\n", pa, pb, full_a);
        CHECK(api.release_prompt_cache(h) == 0, "release");
    }

    group("multimodal: run_async copies");
    {
        static float rows[MM_TOK * MM_EMBD];
        memcpy(rows, A, sizeof rows);
        char prompt[] = "<image>What is in the image?";
        char start[] = "<img>", end[] = "</img>", content[] = "<empty_output>";
        mm_desc m = mm_make(prompt, rows, 1);
        m.start = start;
        m.end = end;
        m.content = content;
        rc = run_mm(h, &m, RKLLM_INFER_GENERATE, 0, NULL, true, &c);
        /* the caller's buffers may go away once run_async has returned */
        memset(rows, 0, sizeof rows);
        memset(prompt, 'x', sizeof prompt - 1);
        memset(start, 'x', sizeof start - 1);
        memset(content, 'x', sizeof content - 1);
        double t0 = now_ms();
        while (api.is_running(h) == running_value(true) && now_ms() - t0 < 30000) sleep_ms(10);
        CHECK(rc == 0 && c.finish == 1 && strcmp(c.text[0], text_a) == 0, "async rc %d finish %d \"%s\"", rc, c.finish,
              c.text[0]);
    }
    api.destroy(h);

    group("multimodal: n_batch=2");
    {
        init_opts o2 = o;
        o2.n_batch = 2;
        LLMHandle hb = do_init(&o2, &rc);
        CHECK(rc == 0 && hb, "init rc %d", rc);
        if (hb) {
            collector_reset(&c, 2);
            in_desc in[2] = {{"user", RKLLM_INPUT_MULTIMODAL, NULL, NULL, 0, false, &ma},
                             {"user", RKLLM_INPUT_MULTIMODAL, NULL, NULL, 0, false, &mb}};
            run_opts ro = {RKLLM_INFER_GENERATE, 1, NULL, NULL, 0, NULL};
            rc = do_run_ex(hb, in, 2, &ro, &c, false);
            CHECK(rc == 0 && c.finish == 1 && c.violations == 0, "rc %d finish %d", rc, c.finish);
            CHECK(c.first_token[0] == first_a && c.first_token[1] == first_b, "first tokens %d %d, alone %d %d",
                  c.first_token[0], c.first_token[1], first_a, first_b);
            api.destroy(hb);
        }
    }

    group("multimodal: context shift");
    {
        init_opts os = o;
        os.ctx = 128;
        os.max_new = 12;
        LLMHandle hs = do_init(&os, &rc);
        CHECK(rc == 0 && hs, "init rc %d", rc);
        char p[] = "<image>Describe it.";
        int bad = 0, max_seen = 0;
        for (int i = 0; hs && i < 8; i++) {
            mm_desc m = mm_make(p, i % 2 ? B : A, 1);
            rc = run_mm(hs, &m, RKLLM_INFER_GENERATE, 1, NULL, false, &c);
            if (rc != 0 || c.finish != 1) bad++;
            int k = kv_size(hs, 0);
            if (k > max_seen) max_seen = k;
        }
        CHECK(bad == 0 && max_seen <= 128 && max_seen > 100, "bad runs %d, largest kv %d", bad, max_seen);
        if (hs) api.destroy(hs);
    }
    free(la);
    free(la2);
    free(lb);
}

int main(int argc, char **argv) {
    if (argc < 4 || (strcmp(argv[3], "12") != 0 && strcmp(argv[3], "13") != 0)) {
        fprintf(stderr, "usage: %s <librkllmrt.so> <model.gguf> <12|13> [trace-file]\n", argv[0]);
        return 2;
    }
    abi = atoi(argv[3]);
    model_path = argv[2];
    if (argc > 4) setenv("RKLLMSIM_TRACE", argv[4], 1);
    setenv("RKLLMSIM_SEED", "42", 1);
    snprintf(tmpdir, sizeof tmpdir, "%s/rkllmsim-smoke-%d", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
    char cmd[400];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", tmpdir);
    if (system(cmd) != 0) return 2;
    load_api(argv[1]);

    check_init_failures();
    check_main();
    check_batch();
    check_shift();
    check_multimodal();
    group(NULL);

    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    printf("smoke %s: %s, %d checks, %d failed\n", abi == 12 ? "1.2" : "1.3", failures ? "FAILED" : "passed", checks,
           failures);
    return failures ? 1 : 0;
}
