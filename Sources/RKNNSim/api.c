/*
 * api.c: the rknn_* entry points of RKNNSim (see rknnsim.h, README.md) and the registry of live contexts.
 *
 * A context is a number handed out by rknn_init, never a pointer: every call looks it up in the registry, so a
 * destroyed, unknown or garbage handle gives RKNN_ERR_CTX_INVALID instead of a crash. A call holds a reference
 * (so rknn_destroy waits for it) and the context's mutex for its whole duration: calls on one context from
 * several threads are serialised, which is the simulator's rendering of the vendor rule that a context must not
 * be used from two threads at once. Different contexts run in parallel.
 */
#include "rknnsim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Tools and the Swift engine can tell the simulator from the vendor binary by this string in the file (the
 * vendor's reads "librknnrt version: 2.3.2 (429f97ae6b@2025-04-09T09:09:27)"). */
__attribute__((used)) static const char rs_version_banner[] = "librknnrt version: " RKNNSIM_RUNTIME_VERSION;

typedef struct rs_ctx {
    struct rs_ctx *next;
    rknn_context id;
    int refs;  /* calls in progress (under registry_lock) */
    bool dead; /* rknn_destroy has taken it out of the registry */
    pthread_mutex_t lock;

    rs_model model;
    uint32_t flag;
    rknn_core_mask core_mask;
    unsigned char *input; /* H*W*3 RGB, a copy of the last rknn_inputs_set */
    bool has_input;
    float *output; /* n_tokens * n_embd floats of the last run */
    bool has_output;
    int64_t last_run_us;
    void **bufs; /* output buffers handed out by rknn_outputs_get (is_prealloc = 0), not yet released */
    size_t n_bufs, cap_bufs;
} rs_ctx;

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t registry_cond = PTHREAD_COND_INITIALIZER;
static rs_ctx *registry;
static uint32_t next_serial = 1;
/* High bits of every handle: a zeroed or small integer is never a live context. */
#define RS_HANDLE_TAG 0x524b4e4e00000000ull /* "RKNN" */

/* Finds a live context, takes a reference and its lock. NULL (logged) if there is none. */
static rs_ctx *acquire(rknn_context id, const char *fn) {
    pthread_mutex_lock(&registry_lock);
    rs_ctx *c = registry;
    while (c && c->id != id) c = c->next;
    if (c) c->refs++;
    pthread_mutex_unlock(&registry_lock);
    if (!c) {
        rs_log('E', "%s: invalid context 0x%llx (not returned by rknn_init, or destroyed)", fn, (unsigned long long)id);
        return NULL;
    }
    pthread_mutex_lock(&c->lock);
    return c;
}

static void release(rs_ctx *c) {
    pthread_mutex_unlock(&c->lock);
    pthread_mutex_lock(&registry_lock);
    c->refs--;
    pthread_cond_broadcast(&registry_cond);
    pthread_mutex_unlock(&registry_lock);
}

/* acquire() plus: a call that was waiting for the lock while rknn_destroy ran sees the context as gone. */
#define ACQUIRE(c, id, fn)                                                                                         \
    rs_ctx *c = acquire((id), (fn));                                                                               \
    if (!c) return RKNN_ERR_CTX_INVALID;                                                                           \
    if (c->dead) {                                                                                                 \
        release(c);                                                                                                \
        rs_log('E', "%s: context 0x%llx was destroyed", (fn), (unsigned long long)(id));                           \
        return RKNN_ERR_CTX_INVALID;                                                                               \
    }

static const char *type_name(int t) {
    switch (t) {
    case RKNN_TENSOR_FLOAT32: return "FP32";
    case RKNN_TENSOR_FLOAT16: return "FP16";
    case RKNN_TENSOR_INT8: return "INT8";
    case RKNN_TENSOR_UINT8: return "UINT8";
    case RKNN_TENSOR_INT16: return "INT16";
    case RKNN_TENSOR_UINT16: return "UINT16";
    case RKNN_TENSOR_INT32: return "INT32";
    case RKNN_TENSOR_UINT32: return "UINT32";
    case RKNN_TENSOR_INT64: return "INT64";
    case RKNN_TENSOR_BOOL: return "BOOL";
    case RKNN_TENSOR_INT4: return "INT4";
    case RKNN_TENSOR_BFLOAT16: return "BF16";
    default: return "UNKNOWN";
    }
}

static const char *format_name(int f) {
    switch (f) {
    case RKNN_TENSOR_NCHW: return "NCHW";
    case RKNN_TENSOR_NHWC: return "NHWC";
    case RKNN_TENSOR_NC1HWC2: return "NC1HWC2";
    case RKNN_TENSOR_UNDEFINED: return "UNDEFINED";
    default: return "UNKNOWN";
    }
}

static const char *core_mask_name(rknn_core_mask m) {
    switch (m) {
    case RKNN_NPU_CORE_AUTO: return "RKNN_NPU_CORE_AUTO";
    case RKNN_NPU_CORE_0: return "RKNN_NPU_CORE_0";
    case RKNN_NPU_CORE_1: return "RKNN_NPU_CORE_1";
    case RKNN_NPU_CORE_2: return "RKNN_NPU_CORE_2";
    case RKNN_NPU_CORE_0_1: return "RKNN_NPU_CORE_0_1";
    case RKNN_NPU_CORE_0_1_2: return "RKNN_NPU_CORE_0_1_2";
    case RKNN_NPU_CORE_ALL: return "RKNN_NPU_CORE_ALL";
    default: return NULL;
    }
}

static void fill_input_attr(const rs_ctx *c, rknn_tensor_attr *a) {
    uint32_t index = a->index;
    memset(a, 0, sizeof *a);
    a->index = index;
    a->n_dims = 4;
    a->dims[0] = 1;
    a->dims[1] = c->model.height;
    a->dims[2] = c->model.width;
    a->dims[3] = 3;
    snprintf(a->name, sizeof a->name, "%s", RKNNSIM_INPUT_NAME);
    a->n_elems = c->model.height * c->model.width * 3;
    a->size = a->n_elems * 2; /* FLOAT16, as converted encoders report */
    a->fmt = RKNN_TENSOR_NHWC;
    a->type = RKNN_TENSOR_FLOAT16;
    a->qnt_type = RKNN_TENSOR_QNT_NONE;
    a->fl = 0;
    a->zp = 0;
    a->scale = 1.0f;
    a->w_stride = c->model.width;
    a->size_with_stride = a->size;
    a->pass_through = 0;
    a->h_stride = 0;
}

static void fill_output_attr(const rs_ctx *c, rknn_tensor_attr *a) {
    uint32_t index = a->index;
    memset(a, 0, sizeof *a);
    a->index = index;
    a->n_dims = 3;
    a->dims[0] = 1;
    a->dims[1] = c->model.n_tokens;
    a->dims[2] = c->model.n_embd;
    snprintf(a->name, sizeof a->name, "%s", RKNNSIM_OUTPUT_NAME);
    a->n_elems = c->model.n_tokens * c->model.n_embd;
    a->size = a->n_elems * 2;
    a->fmt = RKNN_TENSOR_UNDEFINED;
    a->type = RKNN_TENSOR_FLOAT16;
    a->qnt_type = RKNN_TENSOR_QNT_NONE;
    a->fl = 0;
    a->zp = 0;
    a->scale = 1.0f;
    a->w_stride = 0;
    a->size_with_stride = a->size;
    a->pass_through = 0;
    a->h_stride = 0;
}

static void log_attr(const char *what, const rknn_tensor_attr *a) {
    char dims[96];
    int n = 0;
    for (uint32_t i = 0; i < a->n_dims && n < (int)sizeof dims; i++)
        n += snprintf(dims + n, sizeof dims - (size_t)n, "%s%u", i ? "," : "", a->dims[i]);
    rs_log('I', "%s: index=%u, name=%s, n_dims=%u, dims=[%s], n_elems=%u, size=%u, fmt=%s, type=%s, qnt_type=NONE",
           what, a->index, a->name, a->n_dims, dims, a->n_elems, a->size, format_name(a->fmt), type_name(a->type));
}

static void ctx_free(rs_ctx *c) {
    rs_model_free(&c->model);
    for (size_t i = 0; i < c->n_bufs; i++) free(c->bufs[i]);
    free(c->bufs);
    free(c->input);
    free(c->output);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

/* ---- rknn_init / rknn_destroy ---- */

RKNNSIM_API int rknn_init(rknn_context *context, void *model, uint32_t size, uint32_t flag, void *extend) {
    (void)extend; /* rknn_init_extend: nothing in it applies to the simulator */
    if (!context) {
        rs_log('E', "rknn_init: context pointer is NULL");
        return RKNN_ERR_PARAM_INVALID;
    }
    *context = 0;
    if (!model) {
        rs_log('E', "rknn_init: model is NULL");
        return RKNN_ERR_PARAM_INVALID;
    }
    rs_log('I', "RKNN Runtime Information, librknnrt version: " RKNNSIM_RUNTIME_VERSION);
    rs_log('I', "RKNN Driver Information, version: " RKNNSIM_DRIVER_VERSION);

    int threads = rs_env_int("RKNNSIM_THREADS", 2);
    if (threads < 1) threads = 1;
    rs_ctx *c = calloc(1, sizeof *c);
    if (!c) return RKNN_ERR_MALLOC_FAIL;
    int rc = rs_model_load(&c->model, model, size, threads);
    if (rc != RKNN_SUCC) {
        free(c);
        return rc;
    }
    size_t n_px = (size_t)c->model.width * c->model.height * 3;
    size_t n_out = (size_t)c->model.n_tokens * c->model.n_embd;
    c->input = malloc(n_px);
    c->output = malloc(n_out * sizeof(float));
    if (!c->input || !c->output) {
        rs_model_free(&c->model);
        free(c->input);
        free(c->output);
        free(c);
        return RKNN_ERR_MALLOC_FAIL;
    }
    pthread_mutex_init(&c->lock, NULL);
    c->flag = flag;
    c->core_mask = RKNN_NPU_CORE_AUTO;

    pthread_mutex_lock(&registry_lock);
    c->id = RS_HANDLE_TAG | next_serial++;
    if (next_serial == 0) next_serial = 1;
    c->next = registry;
    registry = c;
    pthread_mutex_unlock(&registry_lock);

    rs_log('I', "RKNN Model Information: RKNNSim vision encoder, projector %s, text_model %s, %d CPU thread%s "
                "(libmtmd), flag 0x%x",
           c->model.projector_path, c->model.text_model_path, threads, threads == 1 ? "" : "s", flag);
    rknn_tensor_attr a = {0};
    fill_input_attr(c, &a);
    log_attr("input", &a);
    fill_output_attr(c, &a);
    log_attr("output", &a);
    *context = c->id;
    return RKNN_SUCC;
}

RKNNSIM_API int rknn_destroy(rknn_context context) {
    pthread_mutex_lock(&registry_lock);
    rs_ctx **pp = &registry;
    while (*pp && (*pp)->id != context) pp = &(*pp)->next;
    rs_ctx *c = *pp;
    if (!c) {
        pthread_mutex_unlock(&registry_lock);
        rs_log('E', "rknn_destroy: invalid context 0x%llx (not returned by rknn_init, or destroyed)",
               (unsigned long long)context);
        return RKNN_ERR_CTX_INVALID;
    }
    *pp = c->next;
    c->dead = true; /* calls already waiting for its lock give up */
    while (c->refs > 0) pthread_cond_wait(&registry_cond, &registry_lock);
    pthread_mutex_unlock(&registry_lock);
    ctx_free(c);
    return RKNN_SUCC;
}

/* ---- rknn_query ---- */

#define NEED_SIZE(type)                                                                                            \
    if (size < sizeof(type)) {                                                                                     \
        rs_log('E', "rknn_query: size %u is smaller than sizeof(" #type ") = %zu", size, sizeof(type));            \
        rc = RKNN_ERR_PARAM_INVALID;                                                                               \
        break;                                                                                                     \
    }

RKNNSIM_API int rknn_query(rknn_context context, rknn_query_cmd cmd, void *info, uint32_t size) {
    ACQUIRE(c, context, "rknn_query");
    int rc = RKNN_SUCC;
    if (!info) {
        rs_log('E', "rknn_query: info is NULL");
        release(c);
        return RKNN_ERR_PARAM_INVALID;
    }
    switch ((int)cmd) {
    case RKNN_QUERY_IN_OUT_NUM: {
        NEED_SIZE(rknn_input_output_num);
        rknn_input_output_num *io = info;
        io->n_input = 1;
        io->n_output = 1;
        break;
    }
    case RKNN_QUERY_INPUT_ATTR:
    case RKNN_QUERY_OUTPUT_ATTR: {
        NEED_SIZE(rknn_tensor_attr);
        rknn_tensor_attr *a = info;
        if (a->index != 0) {
            rs_log('E', "rknn_query: %s index %u out of range (the model has 1 %s)",
                   cmd == RKNN_QUERY_INPUT_ATTR ? "input" : "output", a->index,
                   cmd == RKNN_QUERY_INPUT_ATTR ? "input" : "output");
            rc = RKNN_ERR_PARAM_INVALID;
            break;
        }
        if (cmd == RKNN_QUERY_INPUT_ATTR) fill_input_attr(c, a);
        else fill_output_attr(c, a);
        break;
    }
    case RKNN_QUERY_PERF_RUN: {
        NEED_SIZE(rknn_perf_run);
        if (!c->has_output) {
            rs_log('E', "rknn_query: RKNN_QUERY_PERF_RUN before any rknn_run");
            rc = RKNN_ERR_FAIL;
            break;
        }
        ((rknn_perf_run *)info)->run_duration = c->last_run_us;
        break;
    }
    case RKNN_QUERY_SDK_VERSION: {
        NEED_SIZE(rknn_sdk_version);
        rknn_sdk_version *v = info;
        memset(v, 0, sizeof *v);
        snprintf(v->api_version, sizeof v->api_version, "%s", RKNNSIM_RUNTIME_VERSION);
        snprintf(v->drv_version, sizeof v->drv_version, "%s", RKNNSIM_DRIVER_VERSION);
        break;
    }
    default:
        rs_log('E', "rknn_query: cmd %d is not supported by RKNNSim (supported: IN_OUT_NUM, INPUT_ATTR, OUTPUT_ATTR, "
                    "PERF_RUN, SDK_VERSION)",
               (int)cmd);
        rc = RKNN_ERR_PARAM_INVALID;
    }
    release(c);
    return rc;
}

/* ---- rknn_set_core_mask ---- */

RKNNSIM_API int rknn_set_core_mask(rknn_context context, rknn_core_mask core_mask) {
    ACQUIRE(c, context, "rknn_set_core_mask");
    const char *name = core_mask_name(core_mask);
    if (!name) {
        rs_log('E', "rknn_set_core_mask: invalid core mask 0x%x", (unsigned)core_mask);
        release(c);
        return RKNN_ERR_PARAM_INVALID;
    }
    c->core_mask = core_mask;
    rs_log('I', "core mask set to %s (0x%x); simulated: the encoder runs on the CPU threads given at init", name,
           (unsigned)core_mask);
    release(c);
    return RKNN_SUCC;
}

/* ---- rknn_inputs_set ---- */

RKNNSIM_API int rknn_inputs_set(rknn_context context, uint32_t n_inputs, rknn_input inputs[]) {
    ACQUIRE(c, context, "rknn_inputs_set");
    int rc = RKNN_ERR_INPUT_INVALID;
    const uint32_t h = c->model.height, w = c->model.width;
    const size_t n_px = (size_t)h * w * 3;
    if (!inputs || n_inputs != 1) {
        rs_log('E', "rknn_inputs_set: the model has 1 input, got n_inputs=%u%s", n_inputs, inputs ? "" : " (NULL)");
        rc = RKNN_ERR_PARAM_INVALID;
        goto out;
    }
    const rknn_input *in = &inputs[0];
    if (in->index != 0) {
        rs_log('E', "rknn_inputs_set: input index %u out of range (the model has 1 input)", in->index);
        rc = RKNN_ERR_PARAM_INVALID;
        goto out;
    }
    if (!in->buf) {
        rs_log('E', "rknn_inputs_set: input 0 buf is NULL");
        goto out;
    }
    if (in->pass_through != 0) {
        rs_log('E', "rknn_inputs_set: pass_through=1 is not simulated (it would need the model's native, already "
                    "normalised FP16 layout); use pass_through=0 with UINT8 or FP32 NHWC");
        goto out;
    }
    if (in->fmt != RKNN_TENSOR_NHWC) {
        rs_log('E', "rknn_inputs_set: input format %s is not simulated; RKNNSim takes NHWC [1,%u,%u,3]",
               format_name(in->fmt), h, w);
        goto out;
    }
    if (in->type == RKNN_TENSOR_UINT8) {
        if (in->size != n_px) {
            rs_log('E', "rknn_inputs_set: UINT8 NHWC input of %u bytes, the model needs 1x%ux%ux3 = %zu", in->size, h,
                   w, n_px);
            goto out;
        }
        memcpy(c->input, in->buf, n_px);
    } else if (in->type == RKNN_TENSOR_FLOAT32) {
        if (in->size != n_px * sizeof(float)) {
            rs_log('E', "rknn_inputs_set: FP32 NHWC input of %u bytes, the model needs 1x%ux%ux3x4 = %zu", in->size,
                   h, w, n_px * sizeof(float));
            goto out;
        }
        /* 0-255 values, as RKNNLite callers pass them; libmtmd takes 8-bit RGB, so they are rounded. */
        const float *f = in->buf;
        for (size_t i = 0; i < n_px; i++) {
            float v = f[i];
            c->input[i] = v >= 255.0f ? 255 : v > 0.0f ? (unsigned char)(v + 0.5f) : 0; /* NaN -> 0 */
        }
    } else {
        rs_log('E', "rknn_inputs_set: input type %s is not simulated; RKNNSim takes UINT8 or FP32 NHWC",
               type_name(in->type));
        goto out;
    }
    c->has_input = true;
    rc = RKNN_SUCC;
out:
    release(c);
    return rc;
}

/* ---- rknn_run ---- */

RKNNSIM_API int rknn_run(rknn_context context, void *extend) {
    (void)extend; /* rknn_run_extend (frame_id, non_block, ...): the simulated run is always blocking */
    ACQUIRE(c, context, "rknn_run");
    int rc;
    if (!c->has_input) {
        rs_log('E', "rknn_run: no input set (call rknn_inputs_set first)");
        rc = RKNN_ERR_INPUT_INVALID;
    } else {
        int64_t t0 = rs_now_us();
        rc = rs_model_encode(&c->model, c->input, c->output);
        int64_t dt = rs_now_us() - t0;
        if (rc == RKNN_SUCC) {
            c->last_run_us = dt > 0 ? dt : 1;
            c->has_output = true;
        } else {
            c->has_output = false;
        }
    }
    release(c);
    return rc;
}

/* ---- rknn_outputs_get / rknn_outputs_release ---- */

static bool track_buf(rs_ctx *c, void *p) {
    if (c->n_bufs == c->cap_bufs) {
        size_t cap = c->cap_bufs ? c->cap_bufs * 2 : 4;
        void **b = realloc(c->bufs, cap * sizeof *b);
        if (!b) return false;
        c->bufs = b;
        c->cap_bufs = cap;
    }
    c->bufs[c->n_bufs++] = p;
    return true;
}

RKNNSIM_API int rknn_outputs_get(rknn_context context, uint32_t n_outputs, rknn_output outputs[], void *extend) {
    (void)extend;
    ACQUIRE(c, context, "rknn_outputs_get");
    int rc = RKNN_ERR_PARAM_INVALID;
    if (!outputs || n_outputs != 1) {
        rs_log('E', "rknn_outputs_get: the model has 1 output, got n_outputs=%u%s", n_outputs,
               outputs ? "" : " (NULL)");
        goto out;
    }
    rknn_output *o = &outputs[0];
    if (o->index != 0) {
        rs_log('E', "rknn_outputs_get: output index %u out of range (the model has 1 output)", o->index);
        goto out;
    }
    if (!c->has_output) {
        rs_log('E', "rknn_outputs_get: no output: rknn_run has not run successfully on this context");
        rc = RKNN_ERR_OUTPUT_INVALID;
        goto out;
    }
    const size_t count = (size_t)c->model.n_tokens * c->model.n_embd;
    const size_t bytes = count * (o->want_float ? sizeof(float) : sizeof(uint16_t));
    void *dst;
    if (o->is_prealloc) {
        if (!o->buf || o->size < bytes) {
            rs_log('E', "rknn_outputs_get: preallocated output buffer of %u bytes%s, %s output needs %zu", o->size,
                   o->buf ? "" : " (buf NULL)", o->want_float ? "a float32" : "the float16", bytes);
            rc = RKNN_ERR_OUTPUT_INVALID;
            goto out;
        }
        dst = o->buf;
    } else {
        dst = malloc(bytes);
        if (!dst || !track_buf(c, dst)) {
            free(dst);
            rc = RKNN_ERR_MALLOC_FAIL;
            goto out;
        }
        o->buf = dst;
        o->size = (uint32_t)bytes;
    }
    if (o->want_float) {
        memcpy(dst, c->output, bytes);
    } else {
        uint16_t *h = dst;
        for (size_t i = 0; i < count; i++) h[i] = rs_f32_to_f16(c->output[i]);
    }
    rc = RKNN_SUCC;
out:
    release(c);
    return rc;
}

RKNNSIM_API int rknn_outputs_release(rknn_context context, uint32_t n_outputs, rknn_output outputs[]) {
    ACQUIRE(c, context, "rknn_outputs_release");
    if (!outputs && n_outputs > 0) {
        rs_log('E', "rknn_outputs_release: outputs is NULL");
        release(c);
        return RKNN_ERR_PARAM_INVALID;
    }
    for (uint32_t i = 0; i < n_outputs; i++) {
        if (outputs[i].is_prealloc || !outputs[i].buf) continue;
        for (size_t j = 0; j < c->n_bufs; j++) {
            if (c->bufs[j] == outputs[i].buf) {
                free(c->bufs[j]);
                c->bufs[j] = c->bufs[--c->n_bufs];
                outputs[i].buf = NULL;
                break;
            }
        }
    }
    release(c);
    return RKNN_SUCC;
}
