/*
 * smoke.c: contract check of RKNNSim (the librknnrt.so simulator over llama.cpp's libmtmd).
 *
 *   smoke <librknnrt.so> <descriptor> <projector.gguf> <text_model.gguf> <other-projector.gguf> [librkllmrt.so]
 *
 * <descriptor> is an RKNNSim model file naming <projector.gguf> and <text_model.gguf> by relative paths;
 * <other-projector.gguf> was made for a text model of another width. dlopen()s the library and resolves the
 * entry points through the function-pointer types of rknn_abi.h, then follows the vendor demo's call sequence
 * (rknn-llm multimodal_model_demo: init from a path, core mask, query in/out num and attributes, uint8 NHWC
 * input, run, outputs_get want_float, release, destroy) and checks the contract: shapes and types, determinism,
 * different images giving different outputs, PERF_RUN, float16 output, preallocated outputs, FP32 input, model
 * buffers, threads, and the error codes of bad calls and bad model files. With a librkllmrt.so (RKLLMSim 1.3),
 * also loads a language model through it first, as the demo does, and checks both live in one process.
 * Prints one line per check group and a summary; exits non-zero if any check failed.
 */
#define _POSIX_C_SOURCE 200809L
#include <dlfcn.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rkllm_abi.h"
#include "rknn_abi.h"

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
#define CHECK_RC(call, want)                                                                                       \
    do {                                                                                                           \
        int rc_ = (call);                                                                                          \
        CHECK(rc_ == (want), "%s returned %d, expected %d", #call, rc_, (want));                                  \
    } while (0)

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static struct {
    rknn_init_fn init;
    rknn_destroy_fn destroy;
    rknn_query_fn query;
    rknn_inputs_set_fn inputs_set;
    rknn_run_fn run;
    rknn_outputs_get_fn outputs_get;
    rknn_outputs_release_fn outputs_release;
    rknn_set_core_mask_fn set_core_mask;
} R;

static void *must_sym(void *lib, const char *name) {
    void *p = dlsym(lib, name);
    if (!p) {
        fprintf(stderr, "FAIL: %s is not exported: %s\n", name, dlerror());
        exit(1);
    }
    return p;
}

/* What the demo learns from rknn_query. */
static uint32_t H, W, C, N_TOKENS, N_EMBD;
static size_t N_OUT; /* floats per output */

static unsigned char *solid(unsigned char r, unsigned char g, unsigned char b) {
    unsigned char *p = malloc((size_t)H * W * C);
    for (size_t i = 0; i < (size_t)H * W; i++) {
        p[i * 3] = r;
        p[i * 3 + 1] = g;
        p[i * 3 + 2] = b;
    }
    return p;
}

/* The demo's run_imgenc: one uint8 NHWC input, run, want_float outputs, copy, release. Returns rknn_run's or
 * the first failing call's code; `out` gets N_OUT floats. */
static int encode(rknn_context ctx, const unsigned char *rgb, float *out) {
    rknn_input in;
    memset(&in, 0, sizeof in);
    in.index = 0;
    in.type = RKNN_TENSOR_UINT8;
    in.fmt = RKNN_TENSOR_NHWC;
    in.size = H * W * C;
    in.buf = (void *)rgb;
    in.pass_through = 0;
    int rc = R.inputs_set(ctx, 1, &in);
    if (rc) return rc;
    rc = R.run(ctx, NULL);
    if (rc) return rc;
    rknn_output o;
    memset(&o, 0, sizeof o);
    o.want_float = 1;
    rc = R.outputs_get(ctx, 1, &o, NULL);
    if (rc) return rc;
    if (o.size != N_OUT * sizeof(float) || !o.buf) {
        R.outputs_release(ctx, 1, &o);
        return -100;
    }
    memcpy(out, o.buf, o.size);
    rc = R.outputs_release(ctx, 1, &o);
    if (rc == 0 && o.buf != NULL) return -101; /* released buffers are set to NULL */
    return rc;
}

static bool all_finite(const float *v, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i])) return false;
    return true;
}

static float f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu, x;
    if (exp == 0) {
        float v = ldexpf((float)mant, -24);
        return sign ? -v : v;
    }
    x = exp == 0x1f ? sign | 0x7f800000u | (mant << 13) : sign | ((exp + 112u) << 23) | (mant << 13);
    float f;
    memcpy(&f, &x, sizeof f);
    return f;
}

static int init_path(rknn_context *ctx, const char *path) {
    return R.init(ctx, (void *)path, 0, 0, NULL);
}

static int init_text(rknn_context *ctx, const char *text) {
    return R.init(ctx, (void *)text, (uint32_t)strlen(text), 0, NULL);
}

static char tmpdir[256];
static char *write_tmp(const char *name, const void *data, size_t len) {
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        exit(1);
    }
    fwrite(data, 1, len, f);
    fclose(f);
    return path;
}

/* ---- threads ---- */

typedef struct {
    rknn_context ctx;
    const unsigned char *rgb;
    float *out;
    int rc;
} job;

static void *encode_job(void *arg) {
    job *j = arg;
    for (int i = 0; i < 3 && j->rc == 0; i++) j->rc = encode(j->ctx, j->rgb, j->out);
    return NULL;
}

static void *run_job(void *arg) {
    job *j = arg;
    for (int i = 0; i < 3 && j->rc == 0; i++) j->rc = R.run(j->ctx, NULL);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 6) {
        fprintf(stderr, "usage: %s <librknnrt.so> <descriptor> <projector.gguf> <text_model.gguf> "
                        "<other-projector.gguf> [librkllmrt.so]\n",
                argv[0]);
        return 2;
    }
    const char *lib_path = argv[1], *descriptor = argv[2], *projector = argv[3], *text_model = argv[4],
               *other_projector = argv[5], *rkllm_path = argc > 6 ? argv[6] : NULL;
    snprintf(tmpdir, sizeof tmpdir, "%s/rknnsim-smoke.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }

    /* Optional: the language model first, through RKLLMSim, as the demo loads the LLM before the encoder. */
    void *rkllm_lib = NULL;
    LLMHandle llm = NULL;
    rkllm_destroy_fn rkllm_destroy = NULL;
    if (rkllm_path) {
        rkllm_lib = dlopen(rkllm_path, RTLD_NOW | RTLD_LOCAL);
        CHECK(rkllm_lib != NULL, "dlopen %s: %s", rkllm_path, dlerror());
        if (rkllm_lib) {
            rkllm13_createDefaultParam_fn def =
                (rkllm13_createDefaultParam_fn)must_sym(rkllm_lib, RKLLM_SYM_CREATE_DEFAULT_PARAM);
            rkllm13_init_fn init = (rkllm13_init_fn)must_sym(rkllm_lib, RKLLM_SYM_INIT);
            rkllm_destroy = (rkllm_destroy_fn)must_sym(rkllm_lib, RKLLM_SYM_DESTROY);
            RKLLM13Param p = def();
            p.model_path = text_model;
            p.max_context_len = 128;
            p.max_new_tokens = 8;
            RKLLM13Callback callback;
            memset(&callback, 0, sizeof callback); /* no run is made */
            int rc = init(&llm, &p, &callback);
            CHECK(rc == 0 && llm, "rkllm_init through RKLLMSim returned %d", rc);
        }
    }

    void *lib = dlopen(lib_path, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        fprintf(stderr, "FAIL: dlopen %s: %s\n", lib_path, dlerror());
        return 1;
    }
    R.init = (rknn_init_fn)must_sym(lib, RKNN_SYM_INIT);
    R.destroy = (rknn_destroy_fn)must_sym(lib, RKNN_SYM_DESTROY);
    R.query = (rknn_query_fn)must_sym(lib, RKNN_SYM_QUERY);
    R.inputs_set = (rknn_inputs_set_fn)must_sym(lib, RKNN_SYM_INPUTS_SET);
    R.run = (rknn_run_fn)must_sym(lib, RKNN_SYM_RUN);
    R.outputs_get = (rknn_outputs_get_fn)must_sym(lib, RKNN_SYM_OUTPUTS_GET);
    R.outputs_release = (rknn_outputs_release_fn)must_sym(lib, RKNN_SYM_OUTPUTS_RELEASE);
    R.set_core_mask = (rknn_set_core_mask_fn)must_sym(lib, RKNN_SYM_SET_CORE_MASK);

    /* ---- the demo's init ---- */
    int c0 = failures;
    rknn_context ctx = 0;
    double t0 = now_ms();
    int rc = init_path(&ctx, descriptor);
    double init_ms = now_ms() - t0;
    CHECK(rc == RKNN_SUCC && ctx != 0, "rknn_init(%s) returned %d", descriptor, rc);
    if (rc != RKNN_SUCC) {
        fprintf(stderr, "rknnsim-smoke: cannot go on without a context\n");
        return 1;
    }
    CHECK_RC(R.set_core_mask(ctx, RKNN_NPU_CORE_0_1), RKNN_SUCC);
    rknn_input_output_num io = {0, 0};
    CHECK_RC(R.query(ctx, RKNN_QUERY_IN_OUT_NUM, &io, sizeof io), RKNN_SUCC);
    CHECK(io.n_input == 1 && io.n_output == 1, "in/out num %u/%u", io.n_input, io.n_output);

    rknn_tensor_attr in_attr, out_attr;
    memset(&in_attr, 0xab, sizeof in_attr);
    in_attr.index = 0;
    CHECK_RC(R.query(ctx, RKNN_QUERY_INPUT_ATTR, &in_attr, sizeof in_attr), RKNN_SUCC);
    CHECK(in_attr.n_dims == 4 && in_attr.dims[0] == 1 && in_attr.dims[3] == 3 && in_attr.dims[1] == in_attr.dims[2],
          "input dims n=%u [%u,%u,%u,%u]", in_attr.n_dims, in_attr.dims[0], in_attr.dims[1], in_attr.dims[2],
          in_attr.dims[3]);
    CHECK(strcmp(in_attr.name, "pixel") == 0, "input name %s", in_attr.name);
    CHECK(in_attr.fmt == RKNN_TENSOR_NHWC && in_attr.type == RKNN_TENSOR_FLOAT16 &&
              in_attr.qnt_type == RKNN_TENSOR_QNT_NONE,
          "input fmt %d type %d qnt %d", in_attr.fmt, in_attr.type, in_attr.qnt_type);
    CHECK(in_attr.n_elems == in_attr.dims[1] * in_attr.dims[2] * 3 && in_attr.size == in_attr.n_elems * 2,
          "input n_elems %u size %u", in_attr.n_elems, in_attr.size);
    /* the demo: NCHW -> C,H,W = dims[1..3], else H,W,C */
    if (in_attr.fmt == RKNN_TENSOR_NCHW) {
        C = in_attr.dims[1];
        H = in_attr.dims[2];
        W = in_attr.dims[3];
    } else {
        H = in_attr.dims[1];
        W = in_attr.dims[2];
        C = in_attr.dims[3];
    }

    memset(&out_attr, 0xcd, sizeof out_attr);
    out_attr.index = 0;
    CHECK_RC(R.query(ctx, RKNN_QUERY_OUTPUT_ATTR, &out_attr, sizeof out_attr), RKNN_SUCC);
    CHECK(out_attr.n_dims == 3 && out_attr.dims[0] == 1, "output dims n=%u [%u,%u,%u]", out_attr.n_dims,
          out_attr.dims[0], out_attr.dims[1], out_attr.dims[2]);
    CHECK(out_attr.fmt == RKNN_TENSOR_UNDEFINED && out_attr.type == RKNN_TENSOR_FLOAT16, "output fmt %d type %d",
          out_attr.fmt, out_attr.type);
    CHECK(out_attr.n_elems == out_attr.dims[1] * out_attr.dims[2] && out_attr.size == out_attr.n_elems * 2,
          "output n_elems %u size %u", out_attr.n_elems, out_attr.size);
    /* the demo (L123+): the first dim > 1 is n_image_tokens, the next one the embedding width */
    for (uint32_t i = 0; i + 1 < out_attr.n_dims; i++) {
        if (out_attr.dims[i] > 1) {
            N_TOKENS = out_attr.dims[i];
            N_EMBD = out_attr.dims[i + 1];
            break;
        }
    }
    N_OUT = (size_t)N_TOKENS * N_EMBD;
    CHECK(N_TOKENS == out_attr.dims[1] && N_EMBD == out_attr.dims[2], "demo rule read %u tokens x %u", N_TOKENS,
          N_EMBD);
    rknn_sdk_version ver;
    memset(&ver, 0, sizeof ver);
    CHECK_RC(R.query(ctx, RKNN_QUERY_SDK_VERSION, &ver, sizeof ver), RKNN_SUCC);
    CHECK(strstr(ver.api_version, "2.3.2") && strstr(ver.api_version, "RKNNSim") && ver.drv_version[0],
          "sdk version api '%s' drv '%s'", ver.api_version, ver.drv_version);
    printf("init: %s, input %s [1,%u,%u,%u] NHWC FP16, output %s [1,%u,%u] FP16, api %s, %.0f ms\n",
           failures == c0 ? "ok" : "FAILED", in_attr.name, H, W, C, out_attr.name, N_TOKENS, N_EMBD, ver.api_version,
           init_ms);

    /* ---- before any input or run ---- */
    c0 = failures;
    rknn_perf_run perf = {0};
    CHECK_RC(R.query(ctx, RKNN_QUERY_PERF_RUN, &perf, sizeof perf), RKNN_ERR_FAIL);
    rknn_output o;
    memset(&o, 0, sizeof o);
    o.want_float = 1;
    CHECK_RC(R.outputs_get(ctx, 1, &o, NULL), RKNN_ERR_OUTPUT_INVALID);
    CHECK_RC(R.run(ctx, NULL), RKNN_ERR_INPUT_INVALID);
    printf("before run: %s (PERF_RUN -1, outputs_get -9, run without input -8)\n", failures == c0 ? "ok" : "FAILED");

    /* ---- encode ---- */
    c0 = failures;
    float *red = malloc(N_OUT * sizeof(float)), *red2 = malloc(N_OUT * sizeof(float)),
          *blue = malloc(N_OUT * sizeof(float)), *tmp = malloc(N_OUT * sizeof(float));
    unsigned char *red_px = solid(200, 30, 30), *blue_px = solid(20, 40, 220), *green_px = solid(30, 180, 40);
    t0 = now_ms();
    CHECK_RC(encode(ctx, red_px, red), RKNN_SUCC);
    double encode_ms = now_ms() - t0;
    CHECK_RC(R.query(ctx, RKNN_QUERY_PERF_RUN, &perf, sizeof perf), RKNN_SUCC);
    CHECK(perf.run_duration > 0, "PERF_RUN %lld us", (long long)perf.run_duration);
    CHECK(all_finite(red, N_OUT), "red output has non-finite values");
    CHECK_RC(encode(ctx, red_px, red2), RKNN_SUCC);
    CHECK(memcmp(red, red2, N_OUT * sizeof(float)) == 0, "the same image gave different floats");
    CHECK_RC(encode(ctx, blue_px, blue), RKNN_SUCC);
    CHECK(all_finite(blue, N_OUT), "blue output has non-finite values");
    CHECK(memcmp(red, blue, N_OUT * sizeof(float)) != 0, "red and blue gave identical floats");
    double l1 = 0;
    for (size_t i = 0; i < N_OUT; i++) l1 += fabs((double)red[i] - (double)blue[i]);
    CHECK(l1 > 0, "red/blue L1 %g", l1);
    printf("encode: %s (%u x %u floats, finite, same image identical, red vs blue mean |diff| %.4g; first encode "
           "%.1f ms wall, PERF_RUN %lld us)\n",
           failures == c0 ? "ok" : "FAILED", N_TOKENS, N_EMBD, l1 / (double)N_OUT, encode_ms,
           (long long)perf.run_duration);

    /* ---- FP32 input, float16 and preallocated outputs ---- */
    c0 = failures;
    {
        size_t n_px = (size_t)H * W * C;
        float *fin = malloc(n_px * sizeof(float));
        for (size_t i = 0; i < n_px; i++) fin[i] = (float)red_px[i];
        rknn_input in;
        memset(&in, 0, sizeof in);
        in.type = RKNN_TENSOR_FLOAT32;
        in.fmt = RKNN_TENSOR_NHWC;
        in.size = (uint32_t)(n_px * sizeof(float));
        in.buf = fin;
        CHECK_RC(R.inputs_set(ctx, 1, &in), RKNN_SUCC);
        free(fin); /* the runtime copies the input */
        CHECK_RC(R.run(ctx, NULL), RKNN_SUCC);
        memset(&o, 0, sizeof o);
        o.want_float = 1;
        o.is_prealloc = 1;
        o.buf = tmp;
        o.size = (uint32_t)(N_OUT * sizeof(float));
        CHECK_RC(R.outputs_get(ctx, 1, &o, NULL), RKNN_SUCC);
        CHECK(memcmp(tmp, red, N_OUT * sizeof(float)) == 0, "FP32 input 0-255 differs from the same UINT8 input");
        CHECK_RC(R.outputs_release(ctx, 1, &o), RKNN_SUCC);
        CHECK(o.buf == tmp, "outputs_release touched a preallocated buffer");
        o.size = (uint32_t)(N_OUT * sizeof(float)) - 1;
        CHECK_RC(R.outputs_get(ctx, 1, &o, NULL), RKNN_ERR_OUTPUT_INVALID);

        memset(&o, 0, sizeof o);
        o.want_float = 0;
        CHECK_RC(R.outputs_get(ctx, 1, &o, NULL), RKNN_SUCC);
        CHECK(o.buf && o.size == N_OUT * 2, "float16 output size %u", o.size);
        if (o.buf && o.size == N_OUT * 2) {
            const uint16_t *h = o.buf;
            size_t bad = 0;
            for (size_t i = 0; i < N_OUT; i++) {
                float f = f16_to_f32(h[i]), want = red[i];
                if (fabsf(f - want) > fmaxf(fabsf(want) * 1e-3f, 6e-8f)) bad++;
            }
            CHECK(bad == 0, "%zu float16 values are not the float32 ones rounded", bad);
        }
        CHECK_RC(R.outputs_release(ctx, 1, &o), RKNN_SUCC);
        CHECK(o.buf == NULL, "outputs_release left buf set");
        /* outputs of the last run stay readable until the next run */
        CHECK_RC(R.query(ctx, RKNN_QUERY_PERF_RUN, &perf, sizeof perf), RKNN_SUCC);
    }
    printf("formats: %s (FP32 NHWC input = UINT8, float16 output, preallocated output, short buffer -9)\n",
           failures == c0 ? "ok" : "FAILED");

    /* ---- bad calls ---- */
    c0 = failures;
    {
        rknn_input in;
        memset(&in, 0, sizeof in);
        in.type = RKNN_TENSOR_UINT8;
        in.fmt = RKNN_TENSOR_NHWC;
        in.size = H * W * C;
        in.buf = red_px;
        rknn_input bad = in;
        bad.size = H * W * C - 1;
        CHECK_RC(R.inputs_set(ctx, 1, &bad), RKNN_ERR_INPUT_INVALID);
        bad = in;
        bad.fmt = RKNN_TENSOR_NCHW;
        CHECK_RC(R.inputs_set(ctx, 1, &bad), RKNN_ERR_INPUT_INVALID);
        bad = in;
        bad.type = RKNN_TENSOR_INT8;
        CHECK_RC(R.inputs_set(ctx, 1, &bad), RKNN_ERR_INPUT_INVALID);
        bad = in;
        bad.type = RKNN_TENSOR_FLOAT32; /* size is that of uint8 */
        CHECK_RC(R.inputs_set(ctx, 1, &bad), RKNN_ERR_INPUT_INVALID);
        bad = in;
        bad.pass_through = 1;
        CHECK_RC(R.inputs_set(ctx, 1, &bad), RKNN_ERR_INPUT_INVALID);
        bad = in;
        bad.buf = NULL;
        CHECK_RC(R.inputs_set(ctx, 1, &bad), RKNN_ERR_INPUT_INVALID);
        bad = in;
        bad.index = 1;
        CHECK_RC(R.inputs_set(ctx, 1, &bad), RKNN_ERR_PARAM_INVALID);
        rknn_input two[2] = {in, in};
        two[1].index = 1;
        CHECK_RC(R.inputs_set(ctx, 2, two), RKNN_ERR_PARAM_INVALID);
        CHECK_RC(R.inputs_set(ctx, 1, NULL), RKNN_ERR_PARAM_INVALID);

        rknn_tensor_attr a;
        memset(&a, 0, sizeof a);
        a.index = 1;
        CHECK_RC(R.query(ctx, RKNN_QUERY_INPUT_ATTR, &a, sizeof a), RKNN_ERR_PARAM_INVALID);
        a.index = 1;
        CHECK_RC(R.query(ctx, RKNN_QUERY_OUTPUT_ATTR, &a, sizeof a), RKNN_ERR_PARAM_INVALID);
        a.index = 0;
        CHECK_RC(R.query(ctx, RKNN_QUERY_INPUT_ATTR, &a, sizeof a - 4), RKNN_ERR_PARAM_INVALID);
        CHECK_RC(R.query(ctx, RKNN_QUERY_IN_OUT_NUM, &io, sizeof io - 1), RKNN_ERR_PARAM_INVALID);
        CHECK_RC(R.query(ctx, RKNN_QUERY_SDK_VERSION, &ver, 256), RKNN_ERR_PARAM_INVALID);
        CHECK_RC(R.query(ctx, RKNN_QUERY_IN_OUT_NUM, NULL, sizeof io), RKNN_ERR_PARAM_INVALID);
        CHECK(R.query(ctx, RKNN_QUERY_PERF_DETAIL, &a, sizeof a) != RKNN_SUCC, "PERF_DETAIL succeeded");
        CHECK(R.query(ctx, (rknn_query_cmd)99, &a, sizeof a) != RKNN_SUCC, "query cmd 99 succeeded");

        const rknn_core_mask good[] = {RKNN_NPU_CORE_AUTO, RKNN_NPU_CORE_0,     RKNN_NPU_CORE_1,  RKNN_NPU_CORE_2,
                                       RKNN_NPU_CORE_0_1,  RKNN_NPU_CORE_0_1_2, RKNN_NPU_CORE_ALL};
        for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) CHECK_RC(R.set_core_mask(ctx, good[i]), RKNN_SUCC);
        CHECK_RC(R.set_core_mask(ctx, RKNN_NPU_CORE_UNDEFINED), RKNN_ERR_PARAM_INVALID);
        CHECK_RC(R.set_core_mask(ctx, (rknn_core_mask)5), RKNN_ERR_PARAM_INVALID);
        CHECK_RC(R.set_core_mask(ctx, (rknn_core_mask)8), RKNN_ERR_PARAM_INVALID);

        memset(&o, 0, sizeof o);
        o.want_float = 1;
        rknn_output outs2[2] = {o, o};
        outs2[1].index = 1;
        CHECK_RC(R.outputs_get(ctx, 2, outs2, NULL), RKNN_ERR_PARAM_INVALID);
        o.index = 1;
        CHECK_RC(R.outputs_get(ctx, 1, &o, NULL), RKNN_ERR_PARAM_INVALID);
        CHECK_RC(R.outputs_get(ctx, 1, NULL, NULL), RKNN_ERR_PARAM_INVALID);
        /* a refused input leaves the last good one in place */
        CHECK_RC(encode(ctx, red_px, tmp), RKNN_SUCC);
        CHECK(memcmp(tmp, red, N_OUT * sizeof(float)) == 0, "red changed after refused calls");
    }
    printf("bad calls: %s (input size/format/type/pass_through/buf -8, index/count -5, query index/size/cmd -5, "
           "core masks)\n",
           failures == c0 ? "ok" : "FAILED");

    /* ---- a model buffer, threads ---- */
    c0 = failures;
    {
        char text[4096];
        snprintf(text, sizeof text, "RKNNSIM 1\n# absolute paths\nprojector = %s\r\ntext_model=%s", projector,
                 text_model);
        rknn_context ctx2 = 0;
        CHECK_RC(init_text(&ctx2, text), RKNN_SUCC);
        CHECK(ctx2 != 0 && ctx2 != ctx, "second context 0x%llx", (unsigned long long)ctx2);
        CHECK_RC(encode(ctx2, red_px, tmp), RKNN_SUCC);
        CHECK(memcmp(tmp, red, N_OUT * sizeof(float)) == 0, "a buffer-loaded context encodes red differently");

        /* two contexts in parallel, each from its own thread */
        float *t_red = malloc(N_OUT * sizeof(float)), *t_blue = malloc(N_OUT * sizeof(float));
        job a = {ctx, red_px, t_red, 0}, b = {ctx2, blue_px, t_blue, 0};
        pthread_t ta, tb;
        pthread_create(&ta, NULL, encode_job, &a);
        pthread_create(&tb, NULL, encode_job, &b);
        pthread_join(ta, NULL);
        pthread_join(tb, NULL);
        CHECK(a.rc == 0 && b.rc == 0, "parallel contexts: %d %d", a.rc, b.rc);
        CHECK(memcmp(t_red, red, N_OUT * sizeof(float)) == 0 && memcmp(t_blue, blue, N_OUT * sizeof(float)) == 0,
              "parallel contexts changed the results");

        /* one context from two threads at once: serialised, both succeed */
        float *g = malloc(N_OUT * sizeof(float));
        CHECK_RC(encode(ctx2, green_px, g), RKNN_SUCC);
        job c = {ctx2, NULL, NULL, 0}, d = {ctx2, NULL, NULL, 0};
        pthread_create(&ta, NULL, run_job, &c);
        pthread_create(&tb, NULL, run_job, &d);
        pthread_join(ta, NULL);
        pthread_join(tb, NULL);
        CHECK(c.rc == 0 && d.rc == 0, "one context, two threads: %d %d", c.rc, d.rc);
        memset(&o, 0, sizeof o);
        o.want_float = 1;
        CHECK_RC(R.outputs_get(ctx2, 1, &o, NULL), RKNN_SUCC);
        CHECK(o.buf && memcmp(o.buf, g, N_OUT * sizeof(float)) == 0, "concurrent runs changed the output");
        R.outputs_release(ctx2, 1, &o);
        CHECK(memcmp(g, red, N_OUT * sizeof(float)) != 0, "green equals red");
        /* an output never released is freed by rknn_destroy */
        memset(&o, 0, sizeof o);
        o.want_float = 1;
        CHECK_RC(R.outputs_get(ctx2, 1, &o, NULL), RKNN_SUCC);
        CHECK_RC(R.destroy(ctx2), RKNN_SUCC);
        free(t_red);
        free(t_blue);
        free(g);
    }
    printf("buffer + threads: %s (model from a buffer, 2 contexts in 2 threads, 1 context in 2 threads)\n",
           failures == c0 ? "ok" : "FAILED");

    /* ---- bad model files ---- */
    c0 = failures;
    {
        rknn_context bad = 12345;
        char text[4096];
        CHECK_RC(R.init(NULL, (void *)descriptor, 0, 0, NULL), RKNN_ERR_PARAM_INVALID);
        CHECK_RC(R.init(&bad, NULL, 0, 0, NULL), RKNN_ERR_PARAM_INVALID);
        CHECK(bad == 0, "a failed init left the context at 0x%llx", (unsigned long long)bad);
        bad = 12345;
        snprintf(text, sizeof text, "%s/missing.rknn", tmpdir);
        CHECK_RC(init_path(&bad, text), RKNN_ERR_MODEL_INVALID);
        CHECK(bad == 0, "a failed init left the context at 0x%llx", (unsigned long long)bad);
        snprintf(text, sizeof text, "projector=%s\ntext_model=%s\n", projector, text_model);
        CHECK_RC(init_path(&bad, write_tmp("no-magic.rknn", text, strlen(text))), RKNN_ERR_MODEL_INVALID);
        CHECK_RC(init_text(&bad, text), RKNN_ERR_MODEL_INVALID);
        snprintf(text, sizeof text, "RKNNSIM 2\nprojector=%s\ntext_model=%s\n", projector, text_model);
        CHECK_RC(init_text(&bad, text), RKNN_ERR_MODEL_INVALID);
        snprintf(text, sizeof text, "RKNNSIM 1\nprojector=%s\ntext_model=%s\nthreads=4\n", projector, text_model);
        CHECK_RC(init_path(&bad, write_tmp("unknown-key.rknn", text, strlen(text))), RKNN_ERR_MODEL_INVALID);
        snprintf(text, sizeof text, "RKNNSIM 1\nprojector=%s\n", projector);
        CHECK_RC(init_text(&bad, text), RKNN_ERR_MODEL_INVALID);
        snprintf(text, sizeof text, "RKNNSIM 1\nprojector=%s\nprojector=%s\ntext_model=%s\n", projector, projector,
                 text_model);
        CHECK_RC(init_text(&bad, text), RKNN_ERR_MODEL_INVALID);
        snprintf(text, sizeof text, "RKNNSIM 1\nprojector=nowhere.gguf\ntext_model=%s\n", text_model);
        CHECK_RC(init_path(&bad, write_tmp("missing-projector.rknn", text, strlen(text))), RKNN_ERR_MODEL_INVALID);
        /* the projector is not a GGUF (the descriptor itself) */
        snprintf(text, sizeof text, "RKNNSIM 1\nprojector=self.rknn\ntext_model=%s\n", text_model);
        CHECK_RC(init_path(&bad, write_tmp("self.rknn", text, strlen(text))), RKNN_ERR_MODEL_INVALID);
        /* the projector is the language model: no clip.vision.image_size */
        snprintf(text, sizeof text, "RKNNSIM 1\nprojector=%s\ntext_model=%s\n", text_model, text_model);
        CHECK_RC(init_text(&bad, text), RKNN_ERR_MODEL_INVALID);
        /* a projector made for a text model of another width */
        snprintf(text, sizeof text, "RKNNSIM 1\nprojector=%s\ntext_model=%s\n", other_projector, text_model);
        CHECK_RC(init_text(&bad, text), RKNN_ERR_MODEL_INVALID);
        /* what a real .rknn starts with */
        static const unsigned char real[] = {'R', 'K', 'N', 'N', 0, 0, 0, 6, 1, 2, 3, 4};
        CHECK_RC(init_path(&bad, write_tmp("real.rknn", real, sizeof real)), RKNN_ERR_MODEL_INVALID);
        CHECK_RC(R.init(&bad, (void *)real, sizeof real, 0, NULL), RKNN_ERR_MODEL_INVALID);
        CHECK_RC(init_text(&bad, ""), RKNN_ERR_MODEL_INVALID); /* size 0: "" is an (empty) path */
        CHECK(bad == 0, "a failed init left the context at 0x%llx", (unsigned long long)bad);
    }
    printf("bad model files: %s (NULL args -5; missing file, no first line, version 2, unknown key, missing/duplicate "
           "key, missing projector, not GGUF, no image size, width mismatch, real .rknn: -6)\n",
           failures == c0 ? "ok" : "FAILED");

    /* ---- destroy and bad contexts ---- */
    c0 = failures;
    {
        CHECK_RC(R.destroy(ctx), RKNN_SUCC);
        CHECK_RC(R.destroy(ctx), RKNN_ERR_CTX_INVALID);
        CHECK_RC(R.query(ctx, RKNN_QUERY_IN_OUT_NUM, &io, sizeof io), RKNN_ERR_CTX_INVALID);
        CHECK_RC(R.set_core_mask(ctx, RKNN_NPU_CORE_AUTO), RKNN_ERR_CTX_INVALID);
        rknn_input in;
        memset(&in, 0, sizeof in);
        in.type = RKNN_TENSOR_UINT8;
        in.fmt = RKNN_TENSOR_NHWC;
        in.size = H * W * C;
        in.buf = red_px;
        CHECK_RC(R.inputs_set(ctx, 1, &in), RKNN_ERR_CTX_INVALID);
        CHECK_RC(R.run(ctx, NULL), RKNN_ERR_CTX_INVALID);
        memset(&o, 0, sizeof o);
        o.want_float = 1;
        CHECK_RC(R.outputs_get(ctx, 1, &o, NULL), RKNN_ERR_CTX_INVALID);
        CHECK_RC(R.outputs_release(ctx, 1, &o), RKNN_ERR_CTX_INVALID);
        CHECK_RC(R.run(0, NULL), RKNN_ERR_CTX_INVALID);
        CHECK_RC(R.run((rknn_context)(uintptr_t)&o, NULL), RKNN_ERR_CTX_INVALID);
        CHECK_RC(R.destroy(0xdeadbeefull), RKNN_ERR_CTX_INVALID);
    }
    printf("bad contexts: %s (destroyed, 0, a pointer, garbage: -7 from every call)\n",
           failures == c0 ? "ok" : "FAILED");

    /* ---- RKLLMSim in the same process ---- */
    if (rkllm_path) {
        c0 = failures;
        rknn_context ctx3 = 0;
        CHECK_RC(init_path(&ctx3, descriptor), RKNN_SUCC);
        CHECK_RC(encode(ctx3, red_px, tmp), RKNN_SUCC);
        CHECK(memcmp(tmp, red, N_OUT * sizeof(float)) == 0, "red differs after a reload");
        CHECK_RC(R.destroy(ctx3), RKNN_SUCC);
        if (llm && rkllm_destroy) CHECK(rkllm_destroy(llm) == 0, "rkllm_destroy failed");
        printf("with RKLLMSim: %s (rkllm_init before rknn_init, both live, destroyed in the demo's order)\n",
               failures == c0 ? "ok" : "FAILED");
    }

    free(red);
    free(red2);
    free(blue);
    free(tmp);
    free(red_px);
    free(blue_px);
    free(green_px);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf -- '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", tmpdir);
    printf("rknnsim-smoke: %s: %d checks, %d failed; encode of %ux%u -> %ux%u took %.1f ms\n",
           failures ? "FAILED" : "ok", checks, failures, W, H, N_TOKENS, N_EMBD, encode_ms);
    return failures ? 1 : 0;
}
