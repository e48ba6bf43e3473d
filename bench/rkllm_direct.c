/*
 * The simulator's own rate, for bench/rkllm.py: opens a librkllmrt.so (1.3 ABI) with dlopen, runs one greedy
 * PROMPT generation with a callback that only records when each token arrives, and prints
 *   {"tokens": N, "first_ms": T0, "last_ms": T1}
 * (times since the run started). Usage: rkllm_direct LIB MODEL MAX_TOKENS PROMPT
 */
#define _POSIX_C_SOURCE 200809L

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "rkllm_abi.h"

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

struct record {
    double start, first, last;
    int tokens;
};

static int on_result(RKLLMResult *result, void *userdata, LLMCallState state) {
    struct record *r = userdata;
    if ((state == RKLLM_RUN_NORMAL || state == RKLLM_RUN_WAITING) && result->token_id >= 0) {
        double t = now_ms() - r->start;
        if (r->tokens == 0) r->first = t;
        r->last = t;
        r->tokens++;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: %s LIB MODEL MAX_TOKENS PROMPT\n", argv[0]);
        return 2;
    }
    void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        fprintf(stderr, "%s\n", dlerror());
        return 1;
    }
    rkllm13_createDefaultParam_fn create = (rkllm13_createDefaultParam_fn)dlsym(lib, RKLLM_SYM_CREATE_DEFAULT_PARAM);
    rkllm13_init_fn init = (rkllm13_init_fn)dlsym(lib, RKLLM_SYM_INIT);
    rkllm13_run_fn run = (rkllm13_run_fn)dlsym(lib, RKLLM_SYM_RUN);
    rkllm_destroy_fn destroy = (rkllm_destroy_fn)dlsym(lib, RKLLM_SYM_DESTROY);
    if (!create || !init || !run || !destroy) return 1;

    RKLLM13Param param = create();
    param.model_path = argv[2];
    param.max_context_len = 1024;
    param.max_new_tokens = atoi(argv[3]);
    param.top_k = 1;
    param.temperature = 0;
    param.skip_special_token = true;
    RKLLM13Callback callbacks = {.result_callback = on_result};
    LLMHandle handle = NULL;
    if (init(&handle, &param, &callbacks) != 0) return 1;

    RKLLM13Input input = {.role = "user", .enable_thinking = false, .input_type = RKLLM_INPUT_PROMPT};
    input.payload.prompt_input = argv[4];
    RKLLM13InferParam infer = {.mode = RKLLM_INFER_GENERATE, .keep_history = 0};
    struct record r = {.start = now_ms()};
    int status = run(handle, &input, &infer, &r);
    printf("{\"tokens\": %d, \"first_ms\": %.3f, \"last_ms\": %.3f, \"status\": %d}\n", r.tokens, r.first, r.last, status);
    destroy(handle);
    return status == 0 ? 0 : 1;
}
