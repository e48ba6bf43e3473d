/*
 * template.c: the prompt "triple" of the RKLLM runtime, simulated.
 *
 * The real runtime applies the chat template captured at model conversion to PROMPT input as
 * system + prefix + text + postfix, and rkllm_set_chat_template replaces those three strings. We have a
 * GGUF and llama.cpp's llama_chat_apply_template (which recognises the common template families, no
 * Jinja), so the triple is derived by rendering small conversations whose contents are marker bytes and
 * cutting the output at the markers:
 *
 *   [user:U] + assistant header                 -> <default system> prefix U postfix
 *   [user:U, assistant:B, user:U2] + header      -> the text between B and U2 is <end of turn> prefix
 *   [system:S, user:U] + header                  -> the template's system form around S
 *
 * The end-of-turn text is what a continued conversation (keep_history=1) needs before the next prefix:
 * the assistant's reply is in the KV cache without its terminator (generation stops AT the end token,
 * which is never decoded), so ChatML needs "<|im_end|>\n" there.
 */
#include "sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Marker contents: control bytes that no template emits on its own and that trimming leaves alone. */
#define MARK_USER "\x01"
#define MARK_SYSTEM "\x02"
#define MARK_ASSISTANT "\x03"
#define MARK_USER2 "\x04"

/* What Qwen3's template inserts when enable_thinking is false: an empty reasoning block. */
#define EMPTY_THINK_BLOCK "<think>\n\n</think>\n\n"

static char *render(const char *tmpl, const llama_chat_message *msgs, size_t n, bool add_ass) {
    int cap = 1024;
    for (;;) {
        char *buf = sim_xmalloc((size_t)cap + 1);
        int r = llama_chat_apply_template(tmpl, msgs, n, add_ass, buf, cap);
        if (r < 0) {
            free(buf);
            return NULL;
        }
        if (r <= cap) {
            buf[r] = '\0';
            return buf;
        }
        free(buf);
        cap = r;
    }
}

static char *substr(const char *s, size_t n) {
    char *d = sim_xmalloc(n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

static bool ends_with(const char *s, size_t n, const char *suffix) {
    size_t m = strlen(suffix);
    return m <= n && memcmp(s + n - m, suffix, m) == 0;
}

/* Fills t from template `tmpl` (text or a llama.cpp built-in name). false if llama.cpp does not know it
 * or the output cannot be cut at the markers. */
static bool derive(const char *tmpl, sim_template *t) {
    bool ok = false;
    llama_chat_message one[] = {{"user", MARK_USER}};
    llama_chat_message turn[] = {{"user", MARK_USER}, {"assistant", MARK_ASSISTANT}, {"user", MARK_USER2}};
    llama_chat_message sys[] = {{"system", MARK_SYSTEM}, {"user", MARK_USER}};
    char *a = render(tmpl, one, 1, true);
    char *c = render(tmpl, turn, 3, true);
    char *s = render(tmpl, sys, 2, true);
    if (!a || !c) goto out;

    const char *ua = strstr(a, MARK_USER);
    const char *cb = strstr(c, MARK_ASSISTANT);
    const char *cu2 = strstr(c, MARK_USER2);
    if (!ua || !cb || !cu2 || cu2 < cb) goto out;
    size_t pre_n = (size_t)(ua - a);
    const char *between = cb + 1;
    size_t between_n = (size_t)(cu2 - between);

    /* prefix = the longest common suffix of "what precedes the first user text" and "what lies between an
     * assistant reply and the next user text"; what is left of each is the default system block and the
     * end-of-turn text. */
    size_t common = 0;
    while (common < pre_n && common < between_n && a[pre_n - 1 - common] == between[between_n - 1 - common]) common++;

    t->system = substr(a, pre_n - common);
    t->prefix = substr(a + pre_n - common, common);
    t->postfix = sim_strdup(ua + 1);
    t->eot = substr(between, between_n - common);
    if (strcmp(cu2 + 1, t->postfix) != 0)
        sim_log('W', "RKLLMSim: the chat template ends a second user turn differently from the first; using the first");

    t->has_system_form = false;
    t->sys_head = sim_strdup("");
    t->sys_tail = sim_strdup("");
    const char *us = s ? strstr(s, MARK_USER) : NULL;
    if (us && ends_with(s, (size_t)(us - s), t->prefix)) {
        size_t form_n = (size_t)(us - s) - strlen(t->prefix);
        const char *ms = memchr(s, MARK_SYSTEM[0], form_n);
        if (ms) {
            free(t->sys_head);
            free(t->sys_tail);
            t->sys_head = substr(s, (size_t)(ms - s));
            t->sys_tail = substr(ms + 1, form_n - (size_t)(ms - s) - 1);
            t->has_system_form = true;
        }
    }
    ok = true;
out:
    free(a);
    free(c);
    free(s);
    return ok;
}

int sim_template_init(sim_handle *h) {
    sim_template *t = &h->tmpl;
    memset(t, 0, sizeof *t);
    const char *gguf = llama_model_chat_template(h->model, NULL);
    if (!gguf || !derive(gguf, t)) {
        sim_log('W', "RKLLMSim: %s; using ChatML",
                gguf ? "llama.cpp does not recognise the model's chat template" : "the model has no chat template");
        sim_template_free(t);
        if (!derive("chatml", t)) {
            sim_log('E', "RKLLMSim: llama.cpp cannot render ChatML");
            return -1;
        }
    }
    t->default_system = sim_strdup(t->system);
    t->think_switch = gguf && strstr(gguf, "enable_thinking") != NULL;
    t->custom = false;
    t->tool_tag = sim_strdup("tool_response");
    return 0;
}

void sim_template_free(sim_template *t) {
    free(t->system);
    free(t->default_system);
    free(t->prefix);
    free(t->postfix);
    free(t->eot);
    free(t->sys_head);
    free(t->sys_tail);
    free(t->tool_tag);
    memset(t, 0, sizeof *t);
}

static void replace(char **field, const char *value) {
    free(*field);
    *field = sim_strdup(value);
}

/* Both setters change what a fresh sequence starts with, so every conversation is dropped (as the real
 * runtime re-parses its template and resets). */
static void clear_all_histories(sim_handle *h) {
    for (int b = 0; b < h->n_batch; b++) sim_seq_reset(h, b);
}

SIM_API int rkllm_set_chat_template(LLMHandle handle, const char *system_prompt, const char *prompt_prefix,
                                    const char *prompt_postfix) {
    sim_handle *h = sim_handle_from(handle, "rkllm_set_chat_template");
    if (!h) return -1;
    sim_buf tr = {0};
    if (trace_begin(&tr, "rkllm_set_chat_template")) {
        trace_str(&tr, "system", system_prompt);
        trace_str(&tr, "prefix", prompt_prefix);
        trace_str(&tr, "postfix", prompt_postfix);
        trace_end(&tr);
    }
    buf_free(&tr);
    if (sim_lock_api(h, "rkllm_set_chat_template")) return -1;
    replace(&h->tmpl.system, system_prompt);
    replace(&h->tmpl.prefix, prompt_prefix);
    replace(&h->tmpl.postfix, prompt_postfix);
    /* eot stays the model's own: the custom triple describes turns, not how the model ends its reply. */
    h->tmpl.custom = true;
    clear_all_histories(h);
    sim_unlock_api(h);
    return 0;
}

/* Qwen2.5/Hermes-style tool instructions, as Qwen's own template writes them into the system turn. */
static void tools_system_text(sim_buf *out, const char *system_prompt, const char *tools) {
    if (system_prompt && *system_prompt) buf_puts(out, system_prompt);
    if (!tools || !*tools) return;
    if (out->n) buf_puts(out, "\n\n");
    buf_puts(out, "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
                  "You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n");
    buf_puts(out, tools);
    buf_puts(out, "\n</tools>\n\nFor each function call, return a json object with function name and arguments "
                  "within <tool_call></tool_call> XML tags:\n<tool_call>\n"
                  "{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call>");
}

SIM_API int rkllm_set_function_tools(LLMHandle handle, const char *system_prompt, const char *tools,
                                     const char *tool_response_str) {
    sim_handle *h = sim_handle_from(handle, "rkllm_set_function_tools");
    if (!h) return -1;
    sim_buf tr = {0};
    if (trace_begin(&tr, "rkllm_set_function_tools")) {
        trace_str(&tr, "system", system_prompt);
        trace_str(&tr, "tools", tools);
        trace_str(&tr, "tag", tool_response_str);
        trace_end(&tr);
    }
    buf_free(&tr);
    if (sim_lock_api(h, "rkllm_set_function_tools")) return -1;
    sim_buf content = {0};
    tools_system_text(&content, system_prompt, tools);
    if (content.n == 0) {
        /* nothing to say: back to the template's default system block */
        replace(&h->tmpl.system, h->tmpl.default_system);
    } else {
        sim_buf block = {0};
        if (h->tmpl.has_system_form) {
            buf_puts(&block, h->tmpl.sys_head);
            buf_put(&block, content.p, content.n);
            buf_puts(&block, h->tmpl.sys_tail);
        } else {
            /* templates without a system role (Gemma-like): plain text ahead of the first turn */
            buf_put(&block, content.p, content.n);
            buf_puts(&block, "\n\n");
        }
        replace(&h->tmpl.system, block.p);
        buf_free(&block);
    }
    buf_free(&content);
    replace(&h->tmpl.tool_tag, tool_response_str && *tool_response_str ? tool_response_str : "tool_response");
    clear_all_histories(h);
    sim_unlock_api(h);
    return 0;
}

/* The text around a user text: head = [end-of-turn] + prefix [+ tool open tag], tail = [tool close tag] +
 * postfix [+ empty think block]. PROMPT input is head + text + tail, tokenized as one string. */
static void prompt_parts(sim_handle *h, int b, const sim_input_t *in, bool fresh, sim_buf *head, sim_buf *tail) {
    const sim_template *t = &h->tmpl;
    bool tool = in->role && strcmp(in->role, "tool") == 0;
    const sim_seq *q = &h->seqs[b];
    bool only_system = q->sys_len > 0 && q->hist.n == q->sys_len;
    if (!fresh && !only_system) buf_puts(head, t->eot);
    buf_puts(head, t->prefix);
    if (tool) {
        buf_printf(head, "<%s>\n", t->tool_tag);
        buf_printf(tail, "\n</%s>", t->tool_tag);
    }
    buf_puts(tail, t->postfix);
    if (t->think_switch && !t->custom && !in->enable_thinking) buf_puts(tail, EMPTY_THINK_BLOCK);
}

int sim_build_input(sim_handle *h, int b, const sim_input_t *in, bool fresh, sim_tokens *out, int *sys_len,
                    sim_image_list *images) {
    const sim_template *t = &h->tmpl;
    *sys_len = 0;
    switch (in->input_type) {
    case RKLLM_INPUT_PROMPT:
    case RKLLM_INPUT_MULTIMODAL: {
        bool mm = in->input_type == RKLLM_INPUT_MULTIMODAL;
        sim_mm v;
        if (mm) {
            sim_mm_view(h, in, &v);
            if (sim_mm_check(h, b, &v)) return -1;
        }
        const char *text = mm ? (v.prompt ? v.prompt : "") : in->payload.prompt_input ? in->payload.prompt_input : "";
        if (fresh) {
            /* the system block is tokenized on its own so its length is known exactly (for
             * keep_system_prompt and n_keep = -1); BOS, if the model wants one, belongs to it */
            if (sim_tokenize(h, t->system, true, out)) return -1;
            *sys_len = out->n;
        }
        sim_buf head = {0}, tail = {0};
        buf_reset(&head); /* "" rather than NULL when nothing is added */
        buf_reset(&tail);
        prompt_parts(h, b, in, fresh, &head, &tail);
        if (sim_log_level() >= 2)
            sim_log('I', "batch %d prompt: %s%s%s%s%s", b, fresh ? t->system : "", head.p, text, tail.p,
                    mm ? " (each <image> expanded to the image tags and its embedding rows)" : "");
        int rc;
        if (mm) {
            rc = sim_mm_tokens(h, b, &v, head.p, tail.p, out, images);
        } else {
            sim_buf s = {0};
            buf_put(&s, head.p, head.n);
            buf_puts(&s, text);
            buf_put(&s, tail.p, tail.n);
            rc = sim_tokenize(h, s.p, false, out);
            buf_free(&s);
        }
        buf_free(&head);
        buf_free(&tail);
        return rc;
    }
    case RKLLM_INPUT_TOKEN: {
        const RKLLMTokenInput *ti = &in->payload.token_input;
        if (ti->n_tokens > 0 && !ti->input_ids) {
            sim_log('E', "token input of batch %d has n_tokens %zu but no input_ids", b, ti->n_tokens);
            return -1;
        }
        if (ti->n_tokens > (size_t)h->max_ctx) {
            sim_log('E', "token input of batch %d has %zu tokens, over max_context_len %d", b, ti->n_tokens, h->max_ctx);
            return -1;
        }
        for (size_t i = 0; i < ti->n_tokens; i++) {
            if (ti->input_ids[i] < 0 || ti->input_ids[i] >= h->n_vocab) {
                sim_log('E', "token input of batch %d: token %d at index %zu is outside the vocabulary (%d)", b,
                        (int)ti->input_ids[i], i, h->n_vocab);
                return -1;
            }
        }
        toks_append(out, ti->input_ids, (int)ti->n_tokens);
        return 0;
    }
    case RKLLM_INPUT_EMBED:
        sim_log('E', "RKLLMSim: embedding input (RKLLM_INPUT_EMBED) is not supported by the simulator");
        return -1;
    default:
        sim_log('E', "unknown input_type %d in batch %d", (int)in->input_type, b);
        return -1;
    }
}
