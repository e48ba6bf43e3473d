/*
 * cache.c: prompt-cache files of RKLLMSim (the librkllmrt.so simulator).
 *
 * The vendor's file format is undocumented; ours is our own and only RKLLMSim reads it:
 *
 *   header (sim_pc_header below, little-endian as written by the host)
 *   n_tokens x int32 token ids   the tokens whose KV state follows
 *   state_size bytes             llama_state_seq_get_data() of the sequence
 *
 * The header names the model (file size, vocabulary, width, depth) so a cache of another model is refused
 * at load time instead of corrupting a run, and carries an FNV-1a checksum of the payload so a truncated or
 * damaged file is refused too. Files are written to a temporary name and renamed into place.
 *
 * Semantics: the vendor documents that a run with save_prompt_cache=1 writes the file "after inference",
 * holding what the prefill computed. So the state of batch 0 is captured right after its prefill and
 * written only when the run ends with FINISH because it finished (end of generation, max_new_tokens or a
 * full context). A run that is paused, aborted or fails writes nothing: the documentation does not say
 * those write it, and a caller must not come to rely on a file the real runtime may never write.
 * rkllm_load_prompt_cache reads a file into memory; from then on every run whose slot starts empty
 * restores the longest common prefix of its tokens and the cached ones and prefills only the rest, until
 * rkllm_release_prompt_cache.
 */
#include "sim.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SIM_PC_MAGIC "RKSIMPC1"
#define SIM_PC_VERSION 1u

typedef struct {
    char magic[8];
    uint32_t version;
    uint32_t n_tokens;
    uint64_t model_file_size;
    int32_t n_vocab;
    int32_t n_embd;
    int32_t n_layer;
    int32_t reserved;
    uint64_t state_size;
    uint64_t checksum;
} sim_pc_header;

static uint64_t fnv1a(uint64_t h, const void *data, size_t n) {
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}
#define FNV_OFFSET 0xcbf29ce484222325ull

int sim_cache_capture(sim_handle *h, int b, sim_prompt_cache *snap) {
    const sim_seq *q = &h->seqs[b];
    int n = q->kv_n;
    if (n <= 0) {
        sim_log('E', "prompt cache: batch %d has nothing in its KV cache to save", b);
        return -1;
    }
    size_t size = llama_state_seq_get_size(h->ctx, b);
    uint8_t *state = sim_xmalloc(size);
    size_t got = llama_state_seq_get_data(h->ctx, state, size, b);
    if (got == 0) {
        free(state);
        sim_log('E', "prompt cache: llama.cpp could not copy the state of batch %d", b);
        return -1;
    }
    sim_cache_snapshot_free(snap);
    toks_append(&snap->tokens, q->hist.v, n);
    snap->state = state;
    snap->state_size = got;
    snap->loaded = true;
    return 0;
}

void sim_cache_snapshot_free(sim_prompt_cache *snap) {
    toks_free(&snap->tokens);
    free(snap->state);
    snap->state = NULL;
    snap->state_size = 0;
    snap->loaded = false;
}

int sim_cache_write(const sim_handle *h, const sim_prompt_cache *snap, const char *path) {
    if (!path || !*path) path = "./prompt_cache.bin"; /* the runtime's documented default */
    int n = snap->tokens.n;
    sim_pc_header hd;
    memset(&hd, 0, sizeof hd);
    memcpy(hd.magic, SIM_PC_MAGIC, 8);
    hd.version = SIM_PC_VERSION;
    hd.n_tokens = (uint32_t)n;
    hd.model_file_size = h->model_file_size;
    hd.n_vocab = h->n_vocab;
    hd.n_embd = h->n_embd;
    hd.n_layer = h->n_layer;
    hd.state_size = snap->state_size;
    hd.checksum = fnv1a(fnv1a(FNV_OFFSET, snap->tokens.v, (size_t)n * sizeof(llama_token)), snap->state, snap->state_size);

    sim_buf tmp = {0};
    buf_printf(&tmp, "%s.tmp.%ld", path, (long)getpid());
    int rc = -1;
    FILE *f = fopen(tmp.p, "wb");
    if (!f) {
        sim_log('E', "prompt cache: cannot create %s: %s", tmp.p, strerror(errno));
    } else {
        bool ok = fwrite(&hd, sizeof hd, 1, f) == 1 &&
                  fwrite(snap->tokens.v, sizeof(llama_token), (size_t)n, f) == (size_t)n &&
                  fwrite(snap->state, 1, snap->state_size, f) == snap->state_size && fflush(f) == 0 &&
                  fsync(fileno(f)) == 0;
        ok = (fclose(f) == 0) && ok;
        if (!ok) {
            sim_log('E', "prompt cache: writing %s failed: %s", tmp.p, strerror(errno));
            unlink(tmp.p);
        } else if (rename(tmp.p, path) != 0) {
            sim_log('E', "prompt cache: cannot rename %s to %s: %s", tmp.p, path, strerror(errno));
            unlink(tmp.p);
        } else {
            rc = 0;
            if (sim_log_level() >= 1) sim_log('I', "prompt cache saved: %s (%d tokens)", path, n);
        }
    }
    buf_free(&tmp);
    return rc;
}

void sim_cache_release(sim_handle *h) {
    toks_free(&h->pcache.tokens);
    free(h->pcache.state);
    h->pcache.state = NULL;
    h->pcache.state_size = 0;
    h->pcache.loaded = false;
}

/* Reads and checks a cache file; on success fills tokens/state (caller owns them). */
static int read_cache(sim_handle *h, const char *path, sim_tokens *tokens, uint8_t **state, size_t *state_size) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        sim_log('E', "rkllm_load_prompt_cache: cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    int rc = -1;
    sim_pc_header hd;
    uint8_t *st = NULL;
    long file_size = -1;
    if (fseek(f, 0, SEEK_END) == 0) file_size = ftell(f);
    rewind(f);
    if (file_size < (long)sizeof hd || fread(&hd, sizeof hd, 1, f) != 1 || memcmp(hd.magic, SIM_PC_MAGIC, 8) != 0 ||
        hd.version != SIM_PC_VERSION) {
        sim_log('E', "rkllm_load_prompt_cache: %s is not an RKLLMSim prompt cache", path);
        goto out;
    }
    if (hd.model_file_size != h->model_file_size || hd.n_vocab != h->n_vocab || hd.n_embd != h->n_embd ||
        hd.n_layer != h->n_layer) {
        sim_log('E', "rkllm_load_prompt_cache: %s was made with a different model", path);
        goto out;
    }
    if (hd.n_tokens == 0 || hd.n_tokens > (uint32_t)h->max_ctx ||
        (uint64_t)file_size != sizeof hd + (uint64_t)hd.n_tokens * sizeof(llama_token) + hd.state_size) {
        sim_log('E', "rkllm_load_prompt_cache: %s is truncated or does not fit max_context_len %d", path, h->max_ctx);
        goto out;
    }
    toks_reserve(tokens, (int)hd.n_tokens);
    st = sim_xmalloc((size_t)hd.state_size);
    if (fread(tokens->v, sizeof(llama_token), hd.n_tokens, f) != hd.n_tokens ||
        fread(st, 1, (size_t)hd.state_size, f) != hd.state_size) {
        sim_log('E', "rkllm_load_prompt_cache: cannot read %s", path);
        goto out;
    }
    tokens->n = (int)hd.n_tokens;
    uint64_t sum = fnv1a(fnv1a(FNV_OFFSET, tokens->v, (size_t)hd.n_tokens * sizeof(llama_token)), st,
                         (size_t)hd.state_size);
    if (sum != hd.checksum) {
        sim_log('E', "rkllm_load_prompt_cache: %s is corrupt (checksum mismatch)", path);
        goto out;
    }
    *state = st;
    *state_size = (size_t)hd.state_size;
    st = NULL;
    rc = 0;
out:
    free(st);
    fclose(f);
    if (rc) toks_free(tokens);
    return rc;
}

SIM_API int rkllm_load_prompt_cache(LLMHandle handle, const char *prompt_cache_path) {
    sim_handle *h = sim_handle_from(handle, "rkllm_load_prompt_cache");
    if (!h) return -1;
    int rc = -1;
    if (!prompt_cache_path || !*prompt_cache_path) {
        sim_log('E', "rkllm_load_prompt_cache: path is empty");
    } else if (sim_lock_api(h, "rkllm_load_prompt_cache") == 0) {
        sim_tokens tokens = {0};
        uint8_t *state = NULL;
        size_t state_size = 0;
        rc = read_cache(h, prompt_cache_path, &tokens, &state, &state_size);
        if (rc == 0) {
            sim_cache_release(h);
            h->pcache.tokens = tokens;
            h->pcache.state = state;
            h->pcache.state_size = state_size;
            h->pcache.loaded = true;
            if (sim_log_level() >= 1)
                sim_log('I', "prompt cache loaded: %s (%d tokens)", prompt_cache_path, tokens.n);
        }
        sim_unlock_api(h);
    }
    sim_buf tr = {0};
    if (trace_begin(&tr, "rkllm_load_prompt_cache")) {
        trace_str(&tr, "path", prompt_cache_path);
        trace_int(&tr, "result", rc);
        trace_end(&tr);
    }
    buf_free(&tr);
    return rc;
}

SIM_API int rkllm_release_prompt_cache(LLMHandle handle) {
    sim_handle *h = sim_handle_from(handle, "rkllm_release_prompt_cache");
    if (!h) return -1;
    sim_buf tr = {0};
    if (trace_begin(&tr, "rkllm_release_prompt_cache")) trace_end(&tr);
    buf_free(&tr);
    if (sim_lock_api(h, "rkllm_release_prompt_cache")) return -1;
    sim_cache_release(h);
    sim_unlock_api(h);
    return 0;
}

int sim_cache_restore(sim_handle *h, int b, const sim_tokens *tokens) {
    const sim_prompt_cache *pc = &h->pcache;
    if (!pc->loaded) return 0;
    int common = 0;
    while (common < pc->tokens.n && common < tokens->n && pc->tokens.v[common] == tokens->v[common]) common++;
    /* the last input token is always computed: its logits start the generation */
    if (common >= tokens->n) common = tokens->n - 1;
    if (common <= 0) return 0;
    llama_memory_seq_rm(h->mem, b, -1, -1);
    if (llama_state_seq_set_data(h->ctx, pc->state, pc->state_size, b) == 0) {
        sim_log('W', "prompt cache: llama.cpp refused the cached state; prefilling batch %d in full", b);
        llama_memory_seq_rm(h->mem, b, -1, -1);
        return 0;
    }
    if (common < pc->tokens.n && !llama_memory_seq_rm(h->mem, b, common, -1)) {
        llama_memory_seq_rm(h->mem, b, -1, -1);
        return 0;
    }
    return common;
}
