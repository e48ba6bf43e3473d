/*
 * trace.c: RKLLMSIM_TRACE, the simulator's record of how it was called.
 *
 * Tests of the Swift engine cannot see what it passed to the runtime; with RKLLMSIM_TRACE=<file> every
 * API call (except the pollers rkllm_is_running and rkllm_createDefaultParam) appends one JSON object on
 * its own line, and each run appends a {"event":"run_end",...} line when it is over. The file is opened,
 * appended and closed per line, so a line is complete on disk as soon as the call has made it and a test
 * may read the file at any time. Key names are part of the test contract: see README.md.
 */
#include "sim.h"

#include <stdio.h>
#include <stdlib.h>

/* Lines come from API calls on any thread (rkllm_abort races a run): one writer at a time. */
static pthread_mutex_t trace_lock = PTHREAD_MUTEX_INITIALIZER;

static bool trace_enabled(void) {
    const char *path = getenv("RKLLMSIM_TRACE");
    return path && *path;
}

bool trace_begin(sim_buf *b, const char *call) {
    if (!trace_enabled()) return false;
    buf_reset(b);
    buf_puts(b, "{\"call\":");
    buf_json_str(b, call);
    return true;
}

bool trace_begin_event(sim_buf *b, const char *event) {
    if (!trace_enabled()) return false;
    buf_reset(b);
    buf_puts(b, "{\"event\":");
    buf_json_str(b, event);
    return true;
}

void trace_key(sim_buf *b, const char *key) {
    buf_put(b, ",", 1);
    buf_json_str(b, key);
    buf_put(b, ":", 1);
}

void trace_int(sim_buf *b, const char *key, long long v) {
    trace_key(b, key);
    buf_printf(b, "%lld", v);
}

void trace_bool(sim_buf *b, const char *key, bool v) {
    trace_key(b, key);
    buf_puts(b, v ? "true" : "false");
}

void trace_float(sim_buf *b, const char *key, float v) {
    trace_key(b, key);
    buf_json_float(b, v);
}

void trace_str(sim_buf *b, const char *key, const char *v) {
    trace_key(b, key);
    buf_json_str(b, v);
}

void trace_end(sim_buf *b) {
    buf_puts(b, "}\n");
    const char *path = getenv("RKLLMSIM_TRACE");
    if (!path || !*path) return;
    pthread_mutex_lock(&trace_lock);
    FILE *f = fopen(path, "a");
    if (f) {
        fwrite(b->p, 1, b->n, f);
        fclose(f);
    } else {
        static bool warned;
        if (!warned) sim_log('W', "RKLLMSim: cannot append to RKLLMSIM_TRACE=%s", path);
        warned = true;
    }
    pthread_mutex_unlock(&trace_lock);
}
