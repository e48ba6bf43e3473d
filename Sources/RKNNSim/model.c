/*
 * model.c: what RKNNSim loads in place of a .rknn vision encoder, and how it runs it.
 *
 * The "model" given to rknn_init is a text descriptor (README.md):
 *
 *     RKNNSIM 1
 *     projector=mmproj.gguf
 *     text_model=model.gguf
 *
 * The projector is loaded by libmtmd (mtmd_init_from_file), which needs the language model the projector
 * feeds: only its metadata (hyperparameters, vocabulary) is read, no weight. The encoder's fixed input size is
 * the projector's clip.vision.image_size; its output shape is learnt by encoding one blank image at load time.
 */
#include "rknnsim.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gguf.h"

/* ---- llama.cpp backend ----
 * llama_backend_init only starts ggml's clock, fills ggml's float16 tables (once, under ggml's own lock) and,
 * in some versions, loads the dynamic backends when none is registered yet: calling it again is harmless, and
 * RKLLMSim and the Swift engine in the same process call it too. RKNNSim never calls llama_backend_free (it
 * would free ggml's quantisation tables under the others' feet), llama_log_set or mtmd_log_set (the host's
 * loggers stay the host's). */
static pthread_once_t backend_once = PTHREAD_ONCE_INIT;
static void backend_init(void) {
    llama_backend_init();
}

/* ---- small string helpers ---- */

static char *dup_range(const char *s, size_t n) {
    char *p = malloc(n + 1);
    if (!p) return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

static const char *skip_space(const char *s, const char *end) {
    while (s < end && (*s == ' ' || *s == '\t')) s++;
    return s;
}

static const char *trim_end(const char *s, const char *end) {
    while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r')) end--;
    return end;
}

/* ---- the descriptor ---- */

typedef struct {
    char *projector;
    char *text_model;
} descriptor;

static void descriptor_free(descriptor *d) {
    free(d->projector);
    free(d->text_model);
    d->projector = d->text_model = NULL;
}

/* `base` is the descriptor's directory (NULL: given as a buffer, relative paths are relative to the current
 * directory). */
static char *resolve_path(const char *base, const char *value) {
    if (value[0] == '/' || !base) return dup_range(value, strlen(value));
    size_t nb = strlen(base), nv = strlen(value);
    char *p = malloc(nb + 1 + nv + 1);
    if (!p) return NULL;
    memcpy(p, base, nb);
    p[nb] = '/';
    memcpy(p + nb + 1, value, nv + 1);
    return p;
}

/* `what` names the descriptor in log lines. Returns RKNN_SUCC or RKNN_ERR_MODEL_INVALID / _MALLOC_FAIL. */
static int descriptor_parse(const char *text, size_t len, const char *base, const char *what, descriptor *d) {
    if (memchr(text, '\0', len)) {
        if (len >= 4 && memcmp(text, "RKNN", 4) == 0)
            rs_log('E', "rknn_init: %s looks like a real .rknn model; RKNNSim runs only its own text descriptor "
                        "(first line \"" RKNNSIM_MAGIC_LINE "\", see Sources/RKNNSim/README.md)",
                   what);
        else
            rs_log('E', "rknn_init: %s is binary, not an RKNNSim descriptor (first line \"" RKNNSIM_MAGIC_LINE "\")",
                   what);
        return RKNN_ERR_MODEL_INVALID;
    }
    const char *p = text, *end = text + len;
    int line_no = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = nl ? nl : end;
        const char *s = skip_space(p, line_end), *e = trim_end(s, line_end);
        line_no++;
        p = nl ? nl + 1 : end;
        if (line_no == 1) {
            size_t n = (size_t)(e - s);
            if (n == strlen(RKNNSIM_MAGIC_LINE) && memcmp(s, RKNNSIM_MAGIC_LINE, n) == 0) continue;
            if (n > 8 && memcmp(s, "RKNNSIM ", 8) == 0)
                rs_log('E', "rknn_init: %s: descriptor version \"%.*s\" is not supported (expected \"" RKNNSIM_MAGIC_LINE
                            "\")",
                       what, (int)(n > 64 ? 64 : n), s);
            else
                rs_log('E', "rknn_init: %s is not an RKNNSim descriptor: its first line must be \"" RKNNSIM_MAGIC_LINE
                            "\" (see Sources/RKNNSim/README.md)",
                       what);
            return RKNN_ERR_MODEL_INVALID;
        }
        if (s == e || *s == '#') continue; /* blank line or comment */
        const char *eq = memchr(s, '=', (size_t)(e - s));
        if (!eq) {
            rs_log('E', "rknn_init: %s line %d: expected key=value, got \"%.*s\"", what, line_no,
                   (int)(e - s > 80 ? 80 : e - s), s);
            return RKNN_ERR_MODEL_INVALID;
        }
        const char *key_end = trim_end(s, eq);
        const char *v = skip_space(eq + 1, e);
        size_t key_len = (size_t)(key_end - s);
        char **slot = NULL;
        if (key_len == 9 && memcmp(s, "projector", 9) == 0) slot = &d->projector;
        else if (key_len == 10 && memcmp(s, "text_model", 10) == 0) slot = &d->text_model;
        if (!slot) {
            rs_log('E', "rknn_init: %s line %d: unknown key \"%.*s\" (RKNNSim knows projector and text_model)", what,
                   line_no, (int)(key_len > 64 ? 64 : key_len), s);
            return RKNN_ERR_MODEL_INVALID;
        }
        if (*slot) {
            rs_log('E', "rknn_init: %s line %d: %.*s given twice", what, line_no, (int)key_len, s);
            return RKNN_ERR_MODEL_INVALID;
        }
        if (v == e) {
            rs_log('E', "rknn_init: %s line %d: %.*s has an empty value", what, line_no, (int)key_len, s);
            return RKNN_ERR_MODEL_INVALID;
        }
        char *value = dup_range(v, (size_t)(e - v));
        if (!value) return RKNN_ERR_MALLOC_FAIL;
        *slot = resolve_path(base, value);
        free(value);
        if (!*slot) return RKNN_ERR_MALLOC_FAIL;
    }
    if (line_no == 0) {
        rs_log('E', "rknn_init: %s is empty; an RKNNSim descriptor starts with \"" RKNNSIM_MAGIC_LINE "\"", what);
        return RKNN_ERR_MODEL_INVALID;
    }
    if (!d->projector || !d->text_model) {
        rs_log('E', "rknn_init: %s lacks %s (an RKNNSim descriptor names projector= and text_model=)", what,
               !d->projector ? "projector=" : "text_model=");
        return RKNN_ERR_MODEL_INVALID;
    }
    return RKNN_SUCC;
}

/* Reads the descriptor file into a NUL-terminated buffer; sets *base to its directory. */
static int read_descriptor_file(const char *path, char **text, size_t *len, char **base) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        rs_log('E', "rknn_init: cannot open model file %s: %s", path, strerror(errno));
        return RKNN_ERR_MODEL_INVALID;
    }
    char *buf = malloc(RKNNSIM_MAX_DESCRIPTOR + 1);
    if (!buf) {
        fclose(f);
        return RKNN_ERR_MALLOC_FAIL;
    }
    size_t n = fread(buf, 1, RKNNSIM_MAX_DESCRIPTOR + 1, f);
    bool failed = ferror(f) != 0;
    fclose(f);
    if (failed) {
        rs_log('E', "rknn_init: cannot read model file %s", path);
        free(buf);
        return RKNN_ERR_MODEL_INVALID;
    }
    if (n > RKNNSIM_MAX_DESCRIPTOR) {
        if (memcmp(buf, "RKNN", 4) == 0 && memcmp(buf, "RKNNSIM ", 8) != 0)
            rs_log('E', "rknn_init: %s looks like a real .rknn model; RKNNSim runs only its own text descriptor "
                        "(see Sources/RKNNSim/README.md)",
                   path);
        else
            rs_log('E', "rknn_init: %s is over %d bytes: not an RKNNSim descriptor", path, RKNNSIM_MAX_DESCRIPTOR);
        free(buf);
        return RKNN_ERR_MODEL_INVALID;
    }
    buf[n] = '\0';

    /* The directory that relative paths are relative to: the real path's, so symlinked descriptors work. */
    char *real = realpath(path, NULL);
    const char *src = real ? real : path;
    const char *slash = strrchr(src, '/');
    char *dir = slash ? dup_range(src, slash == src ? 1 : (size_t)(slash - src)) : dup_range(".", 1);
    free(real);
    if (!dir) {
        free(buf);
        return RKNN_ERR_MALLOC_FAIL;
    }
    *text = buf;
    *len = n;
    *base = dir;
    return RKNN_SUCC;
}

static bool regular_file(const char *key, const char *path) {
    struct stat st;
    if (stat(path, &st) != 0) {
        rs_log('E', "rknn_init: %s %s: %s", key, path, strerror(errno));
        return false;
    }
    if (!S_ISREG(st.st_mode)) {
        rs_log('E', "rknn_init: %s %s is not a regular file", key, path);
        return false;
    }
    return true;
}

/* ---- the projector ---- */

/* clip.vision.image_size, read with gguf.h without loading any tensor. 0 on failure (logged). */
static uint32_t projector_image_size(const char *path) {
    struct gguf_init_params params = {.no_alloc = true, .ctx = NULL};
    struct gguf_context *g = gguf_init_from_file(path, params);
    if (!g) {
        rs_log('E', "rknn_init: projector %s is not a GGUF file llama.cpp can read", path);
        return 0;
    }
    uint32_t size = 0;
    int64_t k = gguf_find_key(g, "clip.vision.image_size");
    if (k < 0) {
        rs_log('E', "rknn_init: projector %s has no clip.vision.image_size (not a vision mmproj)", path);
    } else {
        enum gguf_type t = gguf_get_kv_type(g, k);
        if (t == GGUF_TYPE_UINT32) size = gguf_get_val_u32(g, k);
        else if (t == GGUF_TYPE_INT32 && gguf_get_val_i32(g, k) > 0) size = (uint32_t)gguf_get_val_i32(g, k);
        if (size == 0 || size > 16384)
            rs_log('E', "rknn_init: projector %s: clip.vision.image_size is not a usable size (type %s, value %u)",
                   path, gguf_type_name(t), size);
        if (size > 16384) size = 0;
    }
    gguf_free(g);
    return size;
}

/* Tokenizes the media marker with `rgb` and encodes every image chunk it yields, in order (one for most
 * projectors; slicing projectors such as MiniCPM-V give several, whose tokens follow one another). With
 * `out`, copies the embeddings there, at most `cap_tokens` tokens. Returns the token count, or -1 (logged). */
static long encode_chunks(rs_model *m, const unsigned char *rgb, float *out, size_t cap_tokens) {
    mtmd_bitmap *bitmap = mtmd_bitmap_init(m->width, m->height, rgb);
    mtmd_input_chunks *chunks = mtmd_input_chunks_init();
    long total = -1;
    if (!bitmap || !chunks) {
        rs_log('E', "rknn_run: libmtmd could not allocate an image");
        goto done;
    }
    const char *marker = mtmd_default_marker();
    mtmd_input_text text = {.text = marker, .text_len = strlen(marker), .add_special = false, .parse_special = true};
    const mtmd_bitmap *bitmaps[1] = {bitmap};
    int32_t rc = mtmd_tokenize(m->mtmd, chunks, &text, bitmaps, 1);
    if (rc != 0) {
        rs_log('E', "rknn_run: libmtmd could not preprocess the image (mtmd_tokenize returned %d)", (int)rc);
        goto done;
    }
    size_t n_chunks = mtmd_input_chunks_size(chunks), n = 0;
    for (size_t i = 0; i < n_chunks; i++) {
        const mtmd_input_chunk *chunk = mtmd_input_chunks_get(chunks, i);
        if (mtmd_input_chunk_get_type(chunk) != MTMD_INPUT_CHUNK_TYPE_IMAGE) continue;
        size_t nt = mtmd_input_chunk_get_n_tokens(chunk);
        rc = mtmd_encode_chunk(m->mtmd, chunk);
        if (rc != 0) {
            rs_log('E', "rknn_run: libmtmd failed to encode the image (mtmd_encode_chunk returned %d)", (int)rc);
            goto done;
        }
        const float *embd = mtmd_get_output_embd(m->mtmd);
        if (!embd) {
            rs_log('E', "rknn_run: libmtmd returned no embeddings");
            goto done;
        }
        if (out) {
            if (n + nt > cap_tokens) {
                rs_log('E', "rknn_run: the image gave more tokens than the %zu found at init", cap_tokens);
                goto done;
            }
            memcpy(out + n * m->n_embd, embd, nt * m->n_embd * sizeof(float));
        }
        n += nt;
    }
    if (n == 0 || n > (size_t)UINT32_MAX / sizeof(float) / (m->n_embd ? m->n_embd : 1)) { /* sizes are uint32 */
        rs_log('E', "rknn_run: libmtmd turned the image into %zu tokens", n);
        goto done;
    }
    total = (long)n;
done:
    if (chunks) mtmd_input_chunks_free(chunks);
    if (bitmap) mtmd_bitmap_free(bitmap);
    return total;
}

/* ---- load / free / encode ---- */

void rs_model_free(rs_model *m) {
    if (m->mtmd) mtmd_free(m->mtmd);
    if (m->text_model) llama_model_free(m->text_model);
    free(m->projector_path);
    free(m->text_model_path);
    memset(m, 0, sizeof *m);
}

int rs_model_load(rs_model *out, const void *model, uint32_t size, int n_threads) {
    memset(out, 0, sizeof *out);
    char *text = NULL, *base = NULL, *what = NULL;
    size_t len = 0;
    int rc;
    if (size == 0) {
        const char *path = model;
        rc = read_descriptor_file(path, &text, &len, &base);
        if (rc != RKNN_SUCC) return rc;
        what = dup_range(path, strlen(path));
    } else {
        if (size > RKNNSIM_MAX_DESCRIPTOR) {
            const char *b = model;
            if (memcmp(b, "RKNN", 4) == 0 && memcmp(b, "RKNNSIM ", 8) != 0)
                rs_log('E', "rknn_init: the model buffer looks like a real .rknn model; RKNNSim runs only its own "
                            "text descriptor (see Sources/RKNNSim/README.md)");
            else
                rs_log('E', "rknn_init: the model buffer (%u bytes) is over %d bytes: not an RKNNSim descriptor", size,
                       RKNNSIM_MAX_DESCRIPTOR);
            return RKNN_ERR_MODEL_INVALID;
        }
        text = dup_range(model, size);
        len = size;
        char label[64];
        snprintf(label, sizeof label, "the model buffer (%u bytes)", size);
        what = dup_range(label, strlen(label));
    }
    descriptor d = {0};
    if (!text || !what) {
        rc = RKNN_ERR_MALLOC_FAIL;
        goto fail;
    }
    rc = descriptor_parse(text, len, base, what, &d);
    if (rc != RKNN_SUCC) goto fail;
    rc = RKNN_ERR_MODEL_INVALID;
    if (!regular_file("projector", d.projector) || !regular_file("text_model", d.text_model)) goto fail;
    out->projector_path = d.projector;
    out->text_model_path = d.text_model;
    d.projector = d.text_model = NULL;

    out->width = out->height = projector_image_size(out->projector_path);
    if (out->width == 0) goto fail;

    pthread_once(&backend_once, backend_init);

    /* libmtmd needs the text model's vocabulary and its input width (llama_model_n_embd_inp). vocab_only does
     * not do: this llama.cpp stops reading hyperparameters right after the vocabulary-related ones when
     * vocab_only is set, and the width reads 0. no_alloc ("only load metadata and simulate memory allocations")
     * reads every hyperparameter and the vocabulary and creates tensor descriptions without reading or
     * allocating any weight; it requires a load without mmap and without lazy tensors. */
    struct llama_model_params mp = llama_model_default_params();
    mp.no_alloc = true;
    mp.load_mode = LLAMA_LOAD_MODE_NONE;
    mp.lazy_mode = LLAMA_LAZY_MODE_OFF;
    mp.n_gpu_layers = 0;
    out->text_model = llama_model_load_from_file(out->text_model_path, mp);
    if (!out->text_model) {
        rs_log('E', "rknn_init: llama.cpp could not read text_model %s (metadata only)", out->text_model_path);
        goto fail;
    }
    int n_embd = llama_model_n_embd_inp(out->text_model);
    if (n_embd <= 0) {
        rs_log('E', "rknn_init: text_model %s reports an input width of %d", out->text_model_path, n_embd);
        goto fail;
    }
    out->n_embd = (uint32_t)n_embd;

    struct mtmd_context_params cp = mtmd_context_params_default();
    cp.use_gpu = false;
    cp.print_timings = false;
    cp.n_threads = n_threads;
    cp.warmup = false;
    cp.media_marker = mtmd_default_marker();
    out->mtmd = mtmd_init_from_file(out->projector_path, out->text_model, cp);
    if (!out->mtmd) {
        rs_log('E', "rknn_init: libmtmd refused projector %s with text_model %s (input width %d); its log above "
                    "says why, often a projector made for another text model",
               out->projector_path, out->text_model_path, n_embd);
        goto fail;
    }
    if (!mtmd_support_vision(out->mtmd)) {
        rs_log('E', "rknn_init: projector %s has no vision encoder", out->projector_path);
        goto fail;
    }

    /* The output shape: encode one blank (mid-grey) image of the input size, as the vendor's model would be
     * static-shape. */
    size_t n_px = (size_t)out->width * out->height * 3;
    unsigned char *blank = malloc(n_px);
    if (!blank) {
        rc = RKNN_ERR_MALLOC_FAIL;
        goto fail;
    }
    memset(blank, 127, n_px);
    long n_tokens = encode_chunks(out, blank, NULL, 0);
    free(blank);
    if (n_tokens <= 0) {
        rs_log('E', "rknn_init: encoding a blank %ux%u image with projector %s failed", out->width, out->height,
               out->projector_path);
        goto fail;
    }
    out->n_tokens = (uint32_t)n_tokens;
    free(text);
    free(base);
    free(what);
    return RKNN_SUCC;

fail:
    descriptor_free(&d);
    rs_model_free(out);
    free(text);
    free(base);
    free(what);
    return rc;
}

int rs_model_encode(rs_model *m, const unsigned char *rgb, float *out) {
    long n = encode_chunks(m, rgb, out, m->n_tokens);
    if (n < 0) return RKNN_ERR_FAIL;
    if ((uint32_t)n != m->n_tokens) {
        rs_log('E', "rknn_run: the image gave %ld tokens, the model has %u", n, m->n_tokens);
        return RKNN_ERR_FAIL;
    }
    size_t count = (size_t)m->n_tokens * m->n_embd;
    for (size_t i = 0; i < count; i++) {
        if (!isfinite(out[i])) {
            rs_log('W', "rknn_run: the encoder output has a non-finite value at %zu", i);
            break;
        }
    }
    return RKNN_SUCC;
}
