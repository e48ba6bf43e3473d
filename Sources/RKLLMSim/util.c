/*
 * util.c: growable buffers, token vectors, time, environment and logging helpers for RKLLMSim (the
 * librkllmrt.so simulator over llama.cpp).
 */
#include "sim.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- memory: the runtime's API has no way to report out-of-memory mid-run, and a simulator that limps on
 * with half-built state would hide bugs, so allocation failure is fatal with a message. */

static void sim_oom(size_t n) {
    fprintf(stderr, "E rkllm: RKLLMSim: out of memory allocating %zu bytes\n", n);
    abort();
}

void *sim_xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) sim_oom(n);
    return p;
}

void *sim_xcalloc(size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) sim_oom(n * size);
    return p;
}

void *sim_xrealloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (!q) sim_oom(n);
    return q;
}

char *sim_strdup(const char *s) {
    if (!s) s = "";
    size_t n = strlen(s);
    char *d = sim_xmalloc(n + 1);
    memcpy(d, s, n + 1);
    return d;
}

/* ---- sim_buf ---- */

static void buf_grow(sim_buf *b, size_t extra) {
    if (b->n + extra + 1 <= b->cap) return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->n + extra + 1) cap *= 2;
    b->p = sim_xrealloc(b->p, cap);
    b->cap = cap;
}

void buf_put(sim_buf *b, const char *s, size_t n) {
    buf_grow(b, n);
    if (n) memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

void buf_puts(sim_buf *b, const char *s) {
    if (s) buf_put(b, s, strlen(s));
    else buf_put(b, "", 0);
}

void buf_printf(sim_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof small) {
        buf_put(b, small, (size_t)n);
        return;
    }
    buf_grow(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->p + b->n, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->n += (size_t)n;
}

void buf_reset(sim_buf *b) {
    b->n = 0;
    buf_put(b, "", 0);
}

void buf_free(sim_buf *b) {
    free(b->p);
    b->p = NULL;
    b->n = b->cap = 0;
}

void buf_json_str(sim_buf *b, const char *s) {
    if (!s) {
        buf_puts(b, "null");
        return;
    }
    buf_put(b, "\"", 1);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        switch (*c) {
        case '"': buf_puts(b, "\\\""); break;
        case '\\': buf_puts(b, "\\\\"); break;
        case '\n': buf_puts(b, "\\n"); break;
        case '\r': buf_puts(b, "\\r"); break;
        case '\t': buf_puts(b, "\\t"); break;
        case '\b': buf_puts(b, "\\b"); break;
        case '\f': buf_puts(b, "\\f"); break;
        default:
            if (*c < 0x20 || *c == 0x7f) buf_printf(b, "\\u%04x", *c);
            else buf_put(b, (const char *)c, 1);
        }
    }
    buf_put(b, "\"", 1);
}

/* Shortest decimal that reads back as the same float, so 0.7f is written 0.7 and tests can compare. */
void buf_json_float(sim_buf *b, float v) {
    if (!isfinite(v)) {
        buf_puts(b, "null");
        return;
    }
    char tmp[48];
    for (int prec = 1; prec <= 9; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, (double)v);
        if (strtof(tmp, NULL) == v) break;
    }
    buf_puts(b, tmp);
}

/* ---- sim_tokens ---- */

void toks_reserve(sim_tokens *t, int cap) {
    if (cap <= t->cap) return;
    int c = t->cap ? t->cap : 64;
    while (c < cap) c *= 2;
    t->v = sim_xrealloc(t->v, (size_t)c * sizeof *t->v);
    t->cap = c;
}

void toks_push(sim_tokens *t, llama_token tok) {
    toks_reserve(t, t->n + 1);
    t->v[t->n++] = tok;
}

void toks_append(sim_tokens *t, const llama_token *v, int n) {
    if (n <= 0) return;
    toks_reserve(t, t->n + n);
    memcpy(t->v + t->n, v, (size_t)n * sizeof *v);
    t->n += n;
}

void toks_erase(sim_tokens *t, int start, int end) {
    if (start < 0) start = 0;
    if (end > t->n) end = t->n;
    if (start >= end) return;
    memmove(t->v + start, t->v + end, (size_t)(t->n - end) * sizeof *t->v);
    t->n -= end - start;
}

void toks_free(sim_tokens *t) {
    free(t->v);
    t->v = NULL;
    t->n = t->cap = 0;
}

/* ---- time, environment, process ---- */

double sim_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

void sim_sleep_ms(double ms) {
    if (!(ms > 0)) return;
    struct timespec ts;
    ts.tv_sec = (time_t)(ms / 1000);
    ts.tv_nsec = (long)((ms - (double)ts.tv_sec * 1000) * 1e6);
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

double sim_env_double(const char *name, double fallback) {
    const char *s = getenv(name);
    if (!s || !*s) return fallback;
    char *end;
    double v = strtod(s, &end);
    if (end == s) return fallback;
    return v;
}

int sim_log_level(void) {
    return (int)sim_env_double("RKLLM_LOG_LEVEL", 0);
}

/* Peak resident set size, which is what the runtime reports as memory_usage_mb. */
float sim_peak_rss_mb(void) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return 0;
    char line[256];
    float mb = 0;
    while (fgets(line, sizeof line, f)) {
        long kb;
        if (sscanf(line, "VmHWM: %ld kB", &kb) == 1) {
            mb = (float)kb / 1024.0f;
            break;
        }
    }
    fclose(f);
    return mb;
}

void sim_log(char level, const char *fmt, ...) {
    sim_buf b = {0};
    buf_printf(&b, "%c rkllm: ", level);
    va_list ap;
    va_start(ap, fmt);
    char small[512];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < sizeof small) {
        buf_put(&b, small, (size_t)n);
    } else if (n >= 0) {
        char *big = sim_xmalloc((size_t)n + 1);
        va_start(ap, fmt);
        vsnprintf(big, (size_t)n + 1, fmt, ap);
        va_end(ap);
        buf_put(&b, big, (size_t)n);
        free(big);
    }
    buf_put(&b, "\n", 1);
    fputs(b.p, stderr); /* one write per line, so lines from several threads do not interleave */
    fflush(stderr);
    buf_free(&b);
}
