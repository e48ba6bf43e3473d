/*
 * run.c: rkllm_run / rkllm_run_async of RKLLMSim, the librkllmrt.so simulator over llama.cpp.
 *
 * A run, as the simulator performs it:
 *   1. check everything that can be refused (mode, LoRA name, inputs, context fit) before touching any
 *      state, so a refused run (ERROR callback, -1) leaves the conversations as they were;
 *   2. per batch slot: start empty (keep_history=0, or no history yet), restoring the loaded prompt cache
 *      when it shares a prefix, or continue the slot's history, shifting it after n_keep tokens if the new
 *      input does not fit;
 *   3. prefill each slot in chunks (abort is checked between chunks) and sample its first token;
 *   4. decode all live slots together, one token each per step, one callback per step with n_batch
 *      results; stop a slot at EOG, max_new_tokens or a full context;
 *   5. with save_prompt_cache, write batch 0's post-prefill state once the run has finished (not after a
 *      pause or an abort);
 *   6. one FINISH callback with perf in every result (not after a pause).
 */
#include "sim.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    bool finished;     /* no more tokens for this slot in this run */
    bool has_pending;  /* `pending` was produced and goes out with the next callback */
    llama_token pending;
    int n_before;      /* history length before this run's input was appended */
    int prefill;       /* tokens computed for this slot (cache hits excluded) */
    int generated;     /* tokens delivered through the callback */
    struct llama_sampler *smpl;
    int reply_pos;     /* RKLLMSIM_REPLY: next token of the canned reply */
    sim_buf held;      /* text bytes not yet delivered: they end inside a UTF-8 character */
} run_slot;

typedef struct {
    sim_handle *h;
    const sim_input_t *inputs;
    const sim_infer_t *infer;
    void *userdata;
    int n;
    run_slot *slots;
    RKLLMResult *results;
    sim_tokens *new_tokens; /* per slot: what this run appends */
    sim_image_list *new_images; /* per slot: the images behind the placeholders of new_tokens */
    int *new_sys_len;
    bool *fresh;
    int *keep; /* per slot: tokens an n_keep shift keeps (for the error message) */
    sim_sampling sampling;
    int max_new;
    bool ignore_eos;
    bool use_reply;
    sim_tokens reply;
    double token_delay_ms;
    double prefill_delay_ms;
    double t_start, t_prefill_end, t_end;
    bool aborted, paused;
    sim_prompt_cache save; /* save_prompt_cache: batch 0 after its prefill, written if the run finishes */
} run_state;

#define REPLY_END (-2) /* "sampled" past the end of the canned reply */

#if SIM_ABI_13
typedef RKLLM13MultiModalInput sim_mm_input_t;
#else
typedef RKLLM12MultiModalInput sim_mm_input_t;
#endif

static bool abort_requested(const run_state *r) {
    return atomic_load(&r->h->abort_flag) || atomic_load(&r->h->destroying);
}

static int invoke(run_state *r, LLMCallState state) {
    if (!r->h->callback) return 0;
    return r->h->callback(r->results, r->userdata, state);
}

static void clear_results(run_state *r) {
    memset(r->results, 0, (size_t)r->n * sizeof *r->results);
    for (int b = 0; b < r->n; b++) r->results[b].token_id = -1;
}

/* Refuses the run: message on stderr, one ERROR callback, -1. */
__attribute__((format(printf, 2, 3))) static int run_error(run_state *r, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    sim_log('E', "rkllm_run: %s", msg);
    clear_results(r);
    invoke(r, RKLLM_RUN_ERROR);
    return -1;
}

/* True when the bytes end inside a multi-byte UTF-8 character (a lead byte whose continuation bytes have not
 * all arrived). Malformed input is never held: it is passed on as it is. */
static bool utf8_incomplete(const char *s, size_t n) {
    int cont = 0;
    while (n > 0 && cont < 4) {
        unsigned char c = (unsigned char)s[n - 1];
        if ((c & 0xC0) == 0x80) {
            cont++;
            n--;
            continue;
        }
        int need = c >= 0xC2 && c <= 0xDF ? 1 : c >= 0xE0 && c <= 0xEF ? 2 : c >= 0xF0 && c <= 0xF4 ? 3 : 0;
        return need > cont;
    }
    return false;
}

static struct llama_sampler *make_sampler(const sim_handle *h, const sim_sampling *s, int b) {
    struct llama_sampler *chain = llama_sampler_chain_init(llama_sampler_chain_default_params());
    uint32_t seed = LLAMA_DEFAULT_SEED;
    const char *env = getenv("RKLLMSIM_SEED");
    if (env && *env) seed = (uint32_t)strtoul(env, NULL, 10) + (uint32_t)b;
    float repeat = s->repeat_penalty > 0 ? s->repeat_penalty : 1.0f;
    if (repeat != 1.0f || s->frequency_penalty != 0.0f || s->presence_penalty != 0.0f)
        llama_sampler_chain_add(chain, llama_sampler_init_penalties(h->n_vocab, SIM_PENALTY_LAST_N, repeat,
                                                                    s->frequency_penalty, s->presence_penalty));
    if (s->temperature <= 0.0f || s->top_k == 1) {
        llama_sampler_chain_add(chain, llama_sampler_init_greedy());
    } else if (s->mirostat == 1) {
        llama_sampler_chain_add(chain, llama_sampler_init_temp(s->temperature));
        llama_sampler_chain_add(chain, llama_sampler_init_mirostat(h->n_vocab, seed, s->mirostat_tau, s->mirostat_eta, 100));
    } else if (s->mirostat == 2) {
        llama_sampler_chain_add(chain, llama_sampler_init_temp(s->temperature));
        llama_sampler_chain_add(chain, llama_sampler_init_mirostat_v2(seed, s->mirostat_tau, s->mirostat_eta));
    } else {
        if (s->top_k > 0) llama_sampler_chain_add(chain, llama_sampler_init_top_k(s->top_k));
        if (s->top_p > 0.0f && s->top_p < 1.0f) llama_sampler_chain_add(chain, llama_sampler_init_top_p(s->top_p, 1));
        llama_sampler_chain_add(chain, llama_sampler_init_temp(s->temperature));
        llama_sampler_chain_add(chain, llama_sampler_init_dist(seed));
    }
    return chain;
}

/* Test hook RKLLMSIM_REPLY=<file>: the "generated" tokens are that file's text. */
static int load_reply(run_state *r, const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    sim_buf text = {0};
    char chunk[4096];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) buf_put(&text, chunk, got);
    fclose(f);
    buf_put(&text, "", 0);
    /* special-token text becomes special tokens; "<tool_call>" etc. stay text in SmolLM2's vocabulary */
    int rc = sim_tokenize(r->h, text.p, false, &r->reply);
    buf_free(&text);
    return rc;
}

static llama_token next_token(run_state *r, int b, int idx) {
    run_slot *s = &r->slots[b];
    if (r->use_reply) return s->reply_pos < r->reply.n ? r->reply.v[s->reply_pos++] : REPLY_END;
    return llama_sampler_sample(s->smpl, r->h->ctx, idx);
}

/* Records a produced token: pending for the next callback, or the end of this slot. */
static void take_token(run_state *r, int b, llama_token tok) {
    run_slot *s = &r->slots[b];
    if (tok == REPLY_END || (!r->ignore_eos && llama_vocab_is_eog(r->h->vocab, tok))) {
        s->finished = true; /* the end token is neither delivered nor kept */
        return;
    }
    if (r->h->seqs[b].hist.n >= r->h->max_ctx) {
        s->finished = true; /* context full: no room to keep the token */
        return;
    }
    s->pending = tok;
    s->has_pending = true;
}

static void batch_add(struct llama_batch *batch, llama_token tok, llama_pos pos, llama_seq_id seq, bool output) {
    int i = batch->n_tokens++;
    batch->token[i] = tok;
    batch->pos[i] = pos;
    batch->n_seq_id[i] = 1;
    batch->seq_id[i][0] = seq;
    batch->logits[i] = output;
}

/* An image position: its embedding row instead of a token. */
static void batch_add_row(struct llama_batch *batch, const float *row, int width, llama_pos pos, llama_seq_id seq,
                          bool output) {
    int i = batch->n_tokens++;
    memcpy(batch->embd + (size_t)i * (size_t)width, row, (size_t)width * sizeof(float));
    batch->pos[i] = pos;
    batch->n_seq_id[i] = 1;
    batch->seq_id[i][0] = seq;
    batch->logits[i] = output;
}

static struct llama_batch *image_batch(sim_handle *h) {
    if (!h->ebatch_cap) {
        h->ebatch = llama_batch_init(SIM_PREFILL_CHUNK, h->n_embd_inp, 1);
        h->ebatch_cap = SIM_PREFILL_CHUNK;
    }
    return &h->ebatch;
}

/* Computes slot b's pending history (hist[kv_n..]) in chunks: runs of tokens, and runs of image positions
 * decoded from their embedding rows. For GENERATE it then samples the first token; `rows` (hidden-layer/
 * logits modes) receives per-token hidden states or the last token's logits.
 * 0 done, 1 aborted, -1 llama.cpp failed. */
static int prefill(run_state *r, int b, int mode, float *rows) {
    sim_handle *h = r->h;
    sim_seq *q = &h->seqs[b];
    run_slot *s = &r->slots[b];
    if (q->kv_n >= q->hist.n) {
        /* everything is already in the cache (a cache hit or an empty continuation): recompute the last
         * token, whose logits are needed */
        if (!llama_memory_seq_rm(h->mem, b, q->hist.n - 1, -1)) return -1;
        q->kv_n = q->hist.n - 1;
    }
    int chunk_max = mode == RKLLM_INFER_GET_LAST_HIDDEN_LAYER ? SIM_EMBED_CHUNK : SIM_PREFILL_CHUNK;
    int last_n = 0;
    while (q->kv_n < q->hist.n) {
        if (abort_requested(r)) return 1;
        int n = q->hist.n - q->kv_n;
        if (n > chunk_max) n = chunk_max;
        /* a llama.cpp batch carries tokens or embeddings, not both: a chunk ends where the kind changes */
        bool image = sim_is_placeholder(q->hist.v[q->kv_n]);
        for (int i = 1; i < n; i++) {
            if (sim_is_placeholder(q->hist.v[q->kv_n + i]) != image) {
                n = i;
                break;
            }
        }
        struct llama_batch *batch = image ? image_batch(h) : &h->batch;
        batch->n_tokens = 0;
        for (int i = 0; i < n; i++) {
            int pos = q->kv_n + i;
            bool out = mode == RKLLM_INFER_GET_LAST_HIDDEN_LAYER || pos == q->hist.n - 1;
            if (!image) {
                batch_add(batch, q->hist.v[pos], pos, b, out);
                continue;
            }
            const float *row = sim_seq_image_row(h, b, q->hist.v[pos]);
            if (!row) {
                sim_log('E', "rkllm_run: RKLLMSim lost the embedding of image position %d of batch %d", pos, b);
                return -1;
            }
            batch_add_row(batch, row, h->n_embd_inp, pos, b, out);
        }
        int rc = llama_decode(h->ctx, *batch);
        if (rc != 0) {
            sim_log('E', "rkllm_run: llama_decode failed (%d) while prefilling batch %d", rc, b);
            return -1;
        }
        if (mode == RKLLM_INFER_GET_LAST_HIDDEN_LAYER) {
            for (int i = 0; i < n; i++) {
                const float *e = llama_get_embeddings_ith(h->ctx, i);
                if (!e) return -1;
                memcpy(rows + (size_t)(q->kv_n + i) * (size_t)h->n_embd, e, (size_t)h->n_embd * sizeof(float));
            }
        }
        q->kv_n += n;
        s->prefill += n;
        last_n = n;
        sim_sleep_ms(r->prefill_delay_ms * n);
    }
    if (mode == RKLLM_INFER_GET_LOGITS) {
        const float *l = llama_get_logits_ith(h->ctx, last_n - 1);
        if (!l) return -1;
        memcpy(rows, l, (size_t)h->n_vocab * sizeof(float));
    } else if (mode == RKLLM_INFER_GENERATE) {
        take_token(r, b, next_token(r, b, last_n - 1));
    }
    return 0;
}

static void fill_perf(run_state *r) {
    float prefill_ms = (float)(r->t_prefill_end - r->t_start);
    float generate_ms = (float)(r->t_end - r->t_prefill_end);
    float mem = sim_peak_rss_mb();
    for (int b = 0; b < r->n; b++) {
        RKLLMPerfStat *p = &r->results[b].perf;
        p->prefill_time_ms = prefill_ms;
        p->prefill_tokens = r->slots[b].prefill;
        p->generate_time_ms = generate_ms;
        p->generate_tokens = r->slots[b].generated;
        p->memory_usage_mb = mem;
    }
}

/* One generation step's callback: each slot's pending token and its text. */
static int emit_step(run_state *r) {
    sim_handle *h = r->h;
    clear_results(r);
    int with_text = 0, waiting = 0;
    for (int b = 0; b < r->n; b++) {
        run_slot *s = &r->slots[b];
        if (!s->has_pending) continue;
        r->results[b].token_id = s->pending;
        sim_token_piece(h, s->pending, h->skip_special, &s->held);
        if (utf8_incomplete(s->held.p, s->held.n)) {
            waiting++;
        } else {
            r->results[b].text = s->held.p;
            with_text++;
        }
    }
    LLMCallState state = with_text == 0 && waiting > 0 ? RKLLM_RUN_WAITING : RKLLM_RUN_NORMAL;
    int rc = invoke(r, state);
    for (int b = 0; b < r->n; b++)
        if (r->results[b].text) buf_reset(&r->slots[b].held);
    return rc;
}

static int generate(run_state *r) {
    sim_handle *h = r->h;
    for (;;) {
        if (abort_requested(r)) {
            r->aborted = true;
            return 0;
        }
        bool any = false;
        for (int b = 0; b < r->n; b++) any = any || r->slots[b].has_pending;
        if (!any) return 0;
        /* the NPU's time per step, stood in for by a sleep between the decode and the callback */
        sim_sleep_ms(r->token_delay_ms);
        int rc = emit_step(r);
        h->batch.n_tokens = 0;
        for (int b = 0; b < r->n; b++) {
            run_slot *s = &r->slots[b];
            if (!s->has_pending) continue;
            sim_seq *q = &h->seqs[b];
            toks_push(&q->hist, s->pending);
            s->has_pending = false;
            s->generated++;
            if ((r->max_new > 0 && s->generated >= r->max_new) || q->hist.n >= h->max_ctx) {
                /* the last token stays undecoded; the next run computes it with its input */
                s->finished = true;
                continue;
            }
            batch_add(&h->batch, s->pending, q->hist.n - 1, b, true);
        }
        if (rc == 1) {
            r->paused = true; /* the delivered tokens stay in the history; no FINISH */
            return 0;
        }
        if (abort_requested(r)) {
            r->aborted = true;
            return 0;
        }
        if (h->batch.n_tokens == 0) return 0;
        int drc = llama_decode(h->ctx, h->batch);
        if (drc != 0) {
            sim_log('E', "rkllm_run: llama_decode failed (%d) while generating", drc);
            return -1;
        }
        for (int i = 0; i < h->batch.n_tokens; i++) {
            int b = h->batch.seq_id[i][0];
            h->seqs[b].kv_n++;
            take_token(r, b, next_token(r, b, i));
        }
    }
}

/* How many history tokens slot q must drop after its first `keep` (n_keep; -1 = its system block) before
 * `add` new tokens are appended. 0 when the input fits with room for at least one generated token.
 * Otherwise the shift drops enough for the input plus min(max_new_tokens, max_context_len / 4) generated
 * tokens, or as many as it can; -1 if even that leaves the input itself over the context. */
static int shift_plan(const run_state *r, const sim_seq *q, int add, int *keep_out) {
    int max_ctx = r->h->max_ctx;
    int keep = r->h->n_keep < 0 ? q->sys_len : r->h->n_keep;
    if (keep > q->hist.n) keep = q->hist.n;
    *keep_out = keep;
    if (q->hist.n + add < max_ctx) return 0;
    int room = max_ctx / 4;
    if (r->max_new > 0 && r->max_new < room) room = r->max_new;
    if (room < 1) room = 1;
    int drop = q->hist.n + add + room - max_ctx;
    if (drop > q->hist.n - keep) drop = q->hist.n - keep;
    if (q->hist.n - drop + add > max_ctx) return -1;
    return drop;
}

static void trace_run_end(run_state *r, int result) {
    sim_buf tr = {0};
    if (!trace_begin_event(&tr, "run_end")) return;
    int prefill = 0, generated = 0;
    for (int b = 0; b < r->n; b++) {
        prefill += r->slots[b].prefill;
        generated += r->slots[b].generated;
    }
    trace_int(&tr, "prefill_tokens", prefill);
    trace_int(&tr, "generate_tokens", generated);
    trace_bool(&tr, "aborted", r->aborted);
    trace_bool(&tr, "paused", r->paused);
    trace_int(&tr, "result", result);
    trace_key(&tr, "kv_sizes");
    buf_puts(&tr, "[");
    for (int b = 0; b < r->n; b++) buf_printf(&tr, "%s%d", b ? "," : "", r->h->seqs[b].hist.n);
    buf_puts(&tr, "]");
    trace_end(&tr);
    buf_free(&tr);
}

/* GET_LAST_HIDDEN_LAYER / GET_LOGITS: prefill every input in a fresh slot, one NORMAL callback with the
 * rows, FINISH, and leave the slots empty. */
static int run_rows(run_state *r, int mode) {
    sim_handle *h = r->h;
    float **rows = sim_xcalloc((size_t)r->n, sizeof *rows);
    int rc = 0;
    if (mode == RKLLM_INFER_GET_LAST_HIDDEN_LAYER) llama_set_embeddings(h->ctx, true);
    for (int b = 0; b < r->n && rc == 0; b++) {
        size_t count = mode == RKLLM_INFER_GET_LAST_HIDDEN_LAYER ? (size_t)h->seqs[b].hist.n * (size_t)h->n_embd
                                                                 : (size_t)h->n_vocab;
        rows[b] = sim_xmalloc(count * sizeof(float));
        rc = prefill(r, b, mode, rows[b]);
    }
    if (mode == RKLLM_INFER_GET_LAST_HIDDEN_LAYER) llama_set_embeddings(h->ctx, false);
    r->t_prefill_end = r->t_end = sim_now_ms();
    if (rc == 1) r->aborted = true;
    if (rc >= 0) {
        if (rc == 0) {
            clear_results(r);
            for (int b = 0; b < r->n; b++) {
                if (mode == RKLLM_INFER_GET_LAST_HIDDEN_LAYER) {
                    r->results[b].last_hidden_layer.hidden_states = rows[b];
                    r->results[b].last_hidden_layer.embd_size = h->n_embd;
                    r->results[b].last_hidden_layer.num_tokens = h->seqs[b].hist.n;
                } else {
                    r->results[b].logits.logits = rows[b];
                    r->results[b].logits.vocab_size = h->n_vocab;
                    r->results[b].logits.num_tokens = 1;
                }
            }
            invoke(r, RKLLM_RUN_NORMAL); /* 0, 1 or 2: the rows are freed right after in every case */
        }
        clear_results(r);
        fill_perf(r);
        invoke(r, RKLLM_RUN_FINISH);
    } else {
        clear_results(r);
        invoke(r, RKLLM_RUN_ERROR);
    }
    for (int b = 0; b < r->n; b++) {
        free(rows[b]);
        sim_seq_reset(h, b); /* these modes do not keep the sequence */
    }
    free(rows);
    return rc < 0 ? -1 : 0;
}

static int run_locked(run_state *r) {
    sim_handle *h = r->h;
    const sim_infer_t *infer = r->infer;
    int mode = (int)infer->mode;
    if (mode != RKLLM_INFER_GENERATE && mode != RKLLM_INFER_GET_LAST_HIDDEN_LAYER && mode != RKLLM_INFER_GET_LOGITS)
        return run_error(r, "unknown infer mode %d", mode);

    /* LoRA: by name among the loaded ones; none selected = no adapter */
    struct llama_adapter_lora *lora = NULL;
    float lora_scale = 1.0f;
    if (infer->lora_params && infer->lora_params->lora_adapter_name) {
        const char *name = infer->lora_params->lora_adapter_name;
        for (int i = 0; i < h->n_loras; i++)
            if (strcmp(h->loras[i].name, name) == 0) {
                lora = h->loras[i].adapter;
                lora_scale = h->loras[i].scale;
            }
        if (!lora) return run_error(r, "no LoRA adapter named \"%s\" was loaded", name);
    }

    const char *reply = getenv("RKLLMSIM_REPLY");
    if (mode == RKLLM_INFER_GENERATE && reply && *reply) {
        if (load_reply(r, reply)) return run_error(r, "cannot read RKLLMSIM_REPLY=%s", reply);
        r->use_reply = true;
    }

    /* inputs -> tokens, and the context check, all before any state changes */
    for (int b = 0; b < r->n; b++) {
        const sim_seq *q = &h->seqs[b];
        r->fresh[b] = mode != RKLLM_INFER_GENERATE || !infer->keep_history || q->hist.n == 0;
        if (sim_build_input(h, b, &r->inputs[b], r->fresh[b], &r->new_tokens[b], &r->new_sys_len[b],
                            &r->new_images[b]))
            return run_error(r, "the input of batch %d cannot be used", b);
        int add = r->new_tokens[b].n;
        if (r->fresh[b] && add == 0) return run_error(r, "the input of batch %d is empty", b);
        if (r->fresh[b] && add > h->max_ctx) {
            return run_error(r, "the prompt of batch %d is longer than the context (%d tokens, max_context_len %d)", b,
                             add, h->max_ctx);
        }
        if (!r->fresh[b] && shift_plan(r, q, add, &r->keep[b]) < 0) {
            return run_error(r,
                             "the input of batch %d does not fit the context (%d tokens in history, %d new, "
                             "%d kept by n_keep, max_context_len %d)",
                             b, q->hist.n, add, r->keep[b], h->max_ctx);
        }
    }

    llama_set_adapters_lora(h->ctx, lora ? &lora : NULL, lora ? 1 : 0, lora ? &lora_scale : NULL);

    for (int b = 0; b < r->n; b++) {
        sim_seq *q = &h->seqs[b];
        run_slot *s = &r->slots[b];
        if (r->fresh[b]) {
            sim_seq_reset(h, b);
            int reused = mode == RKLLM_INFER_GENERATE ? sim_cache_restore(h, b, &r->new_tokens[b]) : 0;
            toks_append(&q->hist, r->new_tokens[b].v, r->new_tokens[b].n);
            sim_seq_images_commit(h, b, &r->new_images[b]);
            q->kv_n = reused;
            q->sys_len = r->new_sys_len[b];
            s->n_before = reused;
        } else {
            int add = r->new_tokens[b].n;
            int keep;
            int drop = shift_plan(r, q, add, &keep);
            if (drop > 0) {
                /* context shift: keep the first n_keep tokens (-1: the system block), drop the oldest after
                 * them, and recompute what follows at its new position */
                if (q->kv_n > keep) {
                    if (llama_memory_seq_rm(h->mem, b, keep, -1)) {
                        q->kv_n = keep;
                    } else {
                        llama_memory_seq_rm(h->mem, b, -1, -1);
                        q->kv_n = 0;
                    }
                }
                toks_erase(&q->hist, keep, keep + drop);
                if (q->sys_len > keep) q->sys_len = keep;
            }
            s->n_before = q->hist.n;
            toks_append(&q->hist, r->new_tokens[b].v, add);
            sim_seq_images_commit(h, b, &r->new_images[b]); /* also forgets images the shift dropped */
        }
        if (mode == RKLLM_INFER_GENERATE) s->smpl = make_sampler(h, &r->sampling, b);
    }

    r->t_start = sim_now_ms();
    if (mode != RKLLM_INFER_GENERATE) return run_rows(r, mode);

    int rc = 0;
    for (int b = 0; b < r->n && rc == 0; b++) {
        rc = prefill(r, b, mode, NULL);
        if (rc == 0 && b == 0 && infer->prompt_cache_params && infer->prompt_cache_params->save_prompt_cache)
            sim_cache_capture(h, 0, &r->save);
    }
    r->t_prefill_end = sim_now_ms();
    if (rc < 0) {
        for (int b = 0; b < r->n; b++) sim_seq_reset(h, b);
        clear_results(r);
        invoke(r, RKLLM_RUN_ERROR);
        return -1;
    }
    if (rc == 1) {
        /* aborted during prefill: keep what was computed, forget input that never was */
        r->aborted = true;
        for (int b = 0; b < r->n; b++) {
            sim_seq *q = &h->seqs[b];
            int n = q->kv_n > r->slots[b].n_before ? q->kv_n : r->slots[b].n_before;
            if (n < q->hist.n) q->hist.n = n;
        }
    } else if (generate(r) < 0) {
        for (int b = 0; b < r->n; b++) sim_seq_reset(h, b);
        clear_results(r);
        invoke(r, RKLLM_RUN_ERROR);
        return -1;
    }
    r->t_end = sim_now_ms();
    /* "written after inference": only a run that finished writes it, before its FINISH callback so the
     * file is there when the caller learns the run is over */
    if (r->save.loaded) {
        const char *path = infer->prompt_cache_params->prompt_cache_path;
        if (r->paused || r->aborted)
            sim_log('W', "prompt cache %s not saved: the run was %s before it finished",
                    path && *path ? path : "./prompt_cache.bin", r->paused ? "paused" : "aborted");
        else
            sim_cache_write(h, &r->save, path);
    }
    if (!r->paused) {
        clear_results(r);
        fill_perf(r);
        invoke(r, RKLLM_RUN_FINISH);
    }
    if (sim_log_level() >= 1) {
        int pt = 0, gt = 0;
        for (int b = 0; b < r->n; b++) {
            pt += r->slots[b].prefill;
            gt += r->slots[b].generated;
        }
        sim_log('I', "Prefill %.2f ms, %d tokens; Generate %.2f ms, %d tokens; peak memory %.1f MB%s%s",
                r->t_prefill_end - r->t_start, pt, r->t_end - r->t_prefill_end, gt, (double)sim_peak_rss_mb(),
                r->aborted ? " (aborted)" : "", r->paused ? " (paused)" : "");
    }
    return 0;
}

/* Everything a run needs besides the handle; also the unit an async run owns. */
static int run_with_lock_held(sim_handle *h, const sim_input_t *inputs, const sim_infer_t *infer, void *userdata) {
    run_state r;
    memset(&r, 0, sizeof r);
    r.h = h;
    r.inputs = inputs;
    r.infer = infer;
    r.n = h->n_batch;
    r.userdata = userdata;
#if SIM_ABI_13
    if (!r.userdata) r.userdata = h->callback_userdata;
#endif
    r.slots = sim_xcalloc((size_t)r.n, sizeof *r.slots);
    r.results = sim_xcalloc((size_t)r.n, sizeof *r.results);
    r.new_tokens = sim_xcalloc((size_t)r.n, sizeof *r.new_tokens);
    r.new_images = sim_xcalloc((size_t)r.n, sizeof *r.new_images);
    r.new_sys_len = sim_xcalloc((size_t)r.n, sizeof *r.new_sys_len);
    r.fresh = sim_xcalloc((size_t)r.n, sizeof *r.fresh);
    r.keep = sim_xcalloc((size_t)r.n, sizeof *r.keep);
    r.sampling = h->sampling;
    r.max_new = h->max_new_tokens;
    r.ignore_eos = h->ignore_eos;
#if SIM_ABI_13
    if (infer->sampling_params) {
        const RKLLM13SamplingParam *sp = infer->sampling_params;
        r.sampling = (sim_sampling){sp->top_k,           sp->top_p,          sp->temperature,
                                    sp->repeat_penalty,  sp->frequency_penalty, sp->presence_penalty,
                                    sp->mirostat,        sp->mirostat_tau,   sp->mirostat_eta};
    }
    if (infer->max_new_tokens > 0) r.max_new = infer->max_new_tokens;
#endif
    r.token_delay_ms = sim_env_double("RKLLMSIM_TOKEN_DELAY_MS", 0);
    r.prefill_delay_ms = sim_env_double("RKLLMSIM_PREFILL_DELAY_MS", 0);

    int rc = run_locked(&r);
    trace_run_end(&r, rc);

    for (int b = 0; b < r.n; b++) {
        if (r.slots[b].smpl) llama_sampler_free(r.slots[b].smpl);
        buf_free(&r.slots[b].held);
        toks_free(&r.new_tokens[b]);
        sim_images_clear(&r.new_images[b]); /* rows not owned: they are the input's */
    }
    toks_free(&r.reply);
    sim_cache_snapshot_free(&r.save);
    free(r.slots);
    free(r.results);
    free(r.new_tokens);
    free(r.new_images);
    free(r.new_sys_len);
    free(r.fresh);
    free(r.keep);
    return rc;
}

static void trace_run(const char *call, const sim_handle *h, const sim_input_t *inputs, const sim_infer_t *infer) {
    sim_buf tr = {0};
    if (!trace_begin(&tr, call)) return;
    trace_int(&tr, "keep_history", infer->keep_history);
    trace_int(&tr, "mode", (int)infer->mode);
    trace_int(&tr, "n_inputs", h->n_batch);
    trace_key(&tr, "inputs");
    buf_puts(&tr, "[");
    for (int b = 0; b < h->n_batch; b++) {
        const sim_input_t *in = &inputs[b];
        buf_puts(&tr, b ? ",{" : "{");
        buf_puts(&tr, "\"role\":");
        buf_json_str(&tr, in->role);
        trace_int(&tr, "type", (int)in->input_type);
        trace_bool(&tr, "thinking", in->enable_thinking);
        if (in->input_type == RKLLM_INPUT_PROMPT) {
            trace_str(&tr, "text", in->payload.prompt_input);
        } else if (in->input_type == RKLLM_INPUT_TOKEN) {
            trace_key(&tr, "tokens");
            buf_puts(&tr, "[");
            const RKLLMTokenInput *ti = &in->payload.token_input;
            for (size_t i = 0; ti->input_ids && i < ti->n_tokens; i++)
                buf_printf(&tr, "%s%d", i ? "," : "", (int)ti->input_ids[i]);
            buf_puts(&tr, "]");
        } else if (in->input_type == RKLLM_INPUT_MULTIMODAL) {
            sim_mm_trace(h, in, &tr);
        } else {
            trace_str(&tr, "text", NULL);
        }
        buf_puts(&tr, "}");
    }
    buf_puts(&tr, "]");
    trace_str(&tr, "lora", infer->lora_params ? infer->lora_params->lora_adapter_name : NULL);
    const RKLLMPromptCacheParam *pc = infer->prompt_cache_params;
    trace_str(&tr, "save_cache", pc && pc->save_prompt_cache
                                     ? (pc->prompt_cache_path ? pc->prompt_cache_path : "./prompt_cache.bin")
                                     : NULL);
#if SIM_ABI_13
    trace_int(&tr, "max_new_tokens", infer->max_new_tokens);
    const RKLLM13SamplingParam *sp = infer->sampling_params;
    trace_key(&tr, "sampling");
    if (sp) {
        buf_printf(&tr, "{\"top_k\":%d", (int)sp->top_k);
        trace_float(&tr, "top_p", sp->top_p);
        trace_float(&tr, "temperature", sp->temperature);
        trace_float(&tr, "repeat_penalty", sp->repeat_penalty);
        trace_float(&tr, "frequency_penalty", sp->frequency_penalty);
        trace_float(&tr, "presence_penalty", sp->presence_penalty);
        trace_int(&tr, "mirostat", sp->mirostat);
        trace_float(&tr, "mirostat_tau", sp->mirostat_tau);
        trace_float(&tr, "mirostat_eta", sp->mirostat_eta);
        buf_puts(&tr, "}");
    } else {
        buf_puts(&tr, "null");
    }
#else
    trace_int(&tr, "max_new_tokens", 0);
    trace_str(&tr, "sampling", NULL);
#endif
    trace_end(&tr);
    buf_free(&tr);
}

/* Marks the handle busy (one run at a time) and clears a stale abort. */
static int claim(sim_handle *h, const char *fn) {
    int expected = 0;
    if (!atomic_compare_exchange_strong(&h->running, &expected, 1)) {
        sim_log('E', "%s: a run is already in progress on this handle", fn);
        return -1;
    }
    if (atomic_load(&h->destroying)) {
        atomic_store(&h->running, 0);
        sim_log('E', "%s: the handle is being destroyed", fn);
        return -1;
    }
    atomic_store(&h->abort_flag, 0);
    return 0;
}

static int run_claimed(sim_handle *h, const sim_input_t *inputs, const sim_infer_t *infer, void *userdata) {
    pthread_mutex_lock(&h->lock);
    sim_tls_running = h;
    int rc = run_with_lock_held(h, inputs, infer, userdata);
    sim_tls_running = NULL;
    pthread_mutex_unlock(&h->lock);
    atomic_store(&h->running, 0);
    return rc;
}

SIM_API int rkllm_run(LLMHandle handle, sim_input_t *rkllm_input, sim_infer_t *rkllm_infer_params, void *userdata) {
    sim_handle *h = sim_handle_from(handle, "rkllm_run");
    if (!h) return -1;
    if (!rkllm_input || !rkllm_infer_params) {
        sim_log('E', "rkllm_run: rkllm_input and rkllm_infer_params must not be NULL");
        return -1;
    }
    trace_run("rkllm_run", h, rkllm_input, rkllm_infer_params);
    if (claim(h, "rkllm_run")) return -1;
    return run_claimed(h, rkllm_input, rkllm_infer_params, userdata);
}

/* ---- rkllm_run_async: the same run on a detached thread, over deep copies of the caller's arguments
 * (the caller's buffers may be gone by the time the thread reads them). */

typedef struct {
    sim_handle *h;
    sim_input_t *inputs;
    sim_infer_t infer;
    RKLLMLoraParam lora;
    RKLLMPromptCacheParam cache;
#if SIM_ABI_13
    RKLLM13SamplingParam sampling;
#endif
    void *userdata;
    void **allocs; /* everything to free afterwards */
    int n_allocs;
} async_job;

static void *job_keep(async_job *j, void *p) {
    j->allocs = sim_xrealloc(j->allocs, (size_t)(j->n_allocs + 1) * sizeof *j->allocs);
    j->allocs[j->n_allocs++] = p;
    return p;
}

static const char *job_str(async_job *j, const char *s) {
    return s ? job_keep(j, sim_strdup(s)) : NULL;
}

/* The prompt, the 1.3 tag strings and the embedding rows; the rows only when the run may read them (when it
 * will refuse the input before reading, their pointer is left as it is). Video fields are never read. */
static void job_copy_multimodal(async_job *j, const sim_handle *h, sim_input_t *in) {
    sim_mm v;
    sim_mm_view(h, in, &v);
    float *embed = NULL;
    if (sim_mm_readable(h, &v)) {
        size_t bytes = v.n_image * v.n_tokens * (size_t)h->n_embd_inp * sizeof(float);
        embed = job_keep(j, sim_xmalloc(bytes));
        memcpy(embed, v.embed, bytes);
    }
    sim_mm_input_t *m = &in->payload.multimodal_input;
    m->prompt = (char *)job_str(j, m->prompt);
#if SIM_ABI_13
    m->image.image_start = job_str(j, m->image.image_start);
    m->image.image_end = job_str(j, m->image.image_end);
    m->image.image_content = job_str(j, m->image.image_content);
    if (embed) m->image.image_embed = embed;
#else
    if (embed) m->image_embed = embed;
#endif
}

static void job_free(async_job *j) {
    for (int i = 0; i < j->n_allocs; i++) free(j->allocs[i]);
    free(j->allocs);
    free(j->inputs);
    free(j);
}

static void *async_main(void *arg) {
    async_job *j = arg;
    run_claimed(j->h, j->inputs, &j->infer, j->userdata);
    job_free(j);
    return NULL;
}

SIM_API int rkllm_run_async(LLMHandle handle, sim_input_t *rkllm_input, sim_infer_t *rkllm_infer_params,
                            void *userdata) {
    sim_handle *h = sim_handle_from(handle, "rkllm_run_async");
    if (!h) return -1;
    if (!rkllm_input || !rkllm_infer_params) {
        sim_log('E', "rkllm_run_async: rkllm_input and rkllm_infer_params must not be NULL");
        return -1;
    }
    trace_run("rkllm_run_async", h, rkllm_input, rkllm_infer_params);
    if (claim(h, "rkllm_run_async")) return -1;

    async_job *j = sim_xcalloc(1, sizeof *j);
    j->h = h;
    j->userdata = userdata;
    j->inputs = sim_xcalloc((size_t)h->n_batch, sizeof *j->inputs);
    for (int b = 0; b < h->n_batch; b++) {
        sim_input_t *in = &j->inputs[b];
        *in = rkllm_input[b];
        in->role = job_str(j, in->role);
        if (in->input_type == RKLLM_INPUT_PROMPT) {
            in->payload.prompt_input = job_str(j, in->payload.prompt_input);
        } else if (in->input_type == RKLLM_INPUT_TOKEN && in->payload.token_input.input_ids) {
            size_t bytes = in->payload.token_input.n_tokens * sizeof(int32_t);
            int32_t *ids = job_keep(j, sim_xmalloc(bytes));
            memcpy(ids, in->payload.token_input.input_ids, bytes);
            in->payload.token_input.input_ids = ids;
        } else if (in->input_type == RKLLM_INPUT_MULTIMODAL) {
            job_copy_multimodal(j, h, in);
        }
        /* EMBED is refused by the run without being read */
    }
    j->infer = *rkllm_infer_params;
    if (j->infer.lora_params) {
        j->lora.lora_adapter_name = job_str(j, j->infer.lora_params->lora_adapter_name);
        j->infer.lora_params = &j->lora;
    }
    if (j->infer.prompt_cache_params) {
        j->cache.save_prompt_cache = j->infer.prompt_cache_params->save_prompt_cache;
        j->cache.prompt_cache_path = job_str(j, j->infer.prompt_cache_params->prompt_cache_path);
        j->infer.prompt_cache_params = &j->cache;
    }
#if SIM_ABI_13
    if (j->infer.sampling_params) {
        j->sampling = *j->infer.sampling_params;
        j->infer.sampling_params = &j->sampling;
    }
#endif
    pthread_t thread;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int err = pthread_create(&thread, &attr, async_main, j);
    pthread_attr_destroy(&attr);
    if (err != 0) {
        sim_log('E', "rkllm_run_async: cannot start a thread");
        job_free(j);
        atomic_store(&h->running, 0);
        return -1;
    }
    return 0;
}
