/*
 * image.c: multimodal input (RKLLM_INPUT_MULTIMODAL) of RKLLMSim, the librkllmrt.so simulator over llama.cpp.
 *
 * What the vendor documents: the prompt carries one literal "<image>" per image (n_image of them);
 * image_embed holds n_image x n_image_tokens rows of the model's input embedding width, images back to
 * back; the model's vision start/end/content tag strings come from the init param (1.2.x img_*) or from
 * each call (1.3.0 image.image_*), and are required in multimodal mode. What the simulator does with them:
 *
 *   - the chat template is applied to the prompt as to PROMPT text (head + prompt + tail, see template.c);
 *   - each "<image>" becomes the tokens of the start tag, n_image_tokens positions decoded from that image's
 *     rows (a llama_batch carrying embd), then the tokens of the end tag. The tag strings are not searched
 *     for "<image>" again (MiniCPM-V's start tag is "<image>");
 *   - the content tag must be exactly one token of the model's vocabulary: it names the token the real
 *     runtime puts at the embedding positions [inferred from the demo and the HF template]. The simulator
 *     feeds the rows directly, which computes the same thing, so the token is only checked;
 *   - image positions hold placeholders in the slot's history (sim.h): the image's hash picks a base, row i
 *     holds base + i. A new image whose placeholder range would overlap that of a different image the slot
 *     or the same input already holds is given the next salted base, so a placeholder always names one row.
 */
#include "sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IMAGE_TAG "<image>"

/* ---- the input, both ABIs ---- */

void sim_mm_view(const sim_handle *h, const sim_input_t *in, sim_mm *v) {
    memset(v, 0, sizeof *v);
#if SIM_ABI_13
    (void)h;
    const RKLLM13MultiModalInput *m = &in->payload.multimodal_input;
    v->prompt = m->prompt;
    v->embed = m->image.image_embed;
    v->n_tokens = m->image.n_image_tokens;
    v->n_image = m->image.n_image;
    v->width = m->image.image_width;
    v->height = m->image.image_height;
    v->start = m->image.image_start;
    v->end = m->image.image_end;
    v->content = m->image.image_content;
    const RKLLM13VideoInput *vd = &m->video;
    v->video = vd->video_embed || vd->n_frame_tokens || vd->n_frame_per_video || vd->n_video || vd->video_start ||
               vd->video_end || vd->video_content || vd->frame_width || vd->frame_height;
#else
    const RKLLM12MultiModalInput *m = &in->payload.multimodal_input;
    v->prompt = m->prompt;
    v->embed = m->image_embed;
    v->n_tokens = m->n_image_tokens;
    v->n_image = m->n_image;
    v->width = m->image_width;
    v->height = m->image_height;
    v->start = h->img_start;
    v->end = h->img_end;
    v->content = h->img_content;
    v->video = false;
#endif
}

bool sim_mm_readable(const sim_handle *h, const sim_mm *v) {
    size_t max = (size_t)h->max_ctx;
    return v->embed && v->n_image > 0 && v->n_tokens > 0 && v->n_image <= max && v->n_tokens <= max &&
           v->n_image * v->n_tokens <= max;
}

static size_t count_tags(const char *s) {
    size_t n = 0;
    for (const char *p = s ? strstr(s, IMAGE_TAG) : NULL; p; p = strstr(p + strlen(IMAGE_TAG), IMAGE_TAG)) n++;
    return n;
}

int sim_mm_check(sim_handle *h, int b, const sim_mm *v) {
    if (v->video) {
        sim_log('E', "RKLLMSim: video input (multimodal_input.video) is not supported by the simulator; batch %d "
                     "has a video field set",
                b);
        return -1;
    }
    if (v->n_image == 0 || v->n_tokens == 0) {
        sim_log('E', "The n_image/n_image_token of multimodal_input is not set");
        return -1;
    }
    if (!v->embed) {
        sim_log('E', "multimodal input of batch %d: image_embed is NULL", b);
        return -1;
    }
    if (!v->start || !v->end || !v->content) {
#if SIM_ABI_13
        sim_log('E', "multimodal input of batch %d: image.image_start, image_end and image_content are required in "
                     "multimodal mode",
                b);
#else
        sim_log('E', "multimodal input of batch %d: RKLLMParam.img_start, img_end and img_content are required in "
                     "multimodal mode and were not set at rkllm_init",
                b);
#endif
        return -1;
    }
    if (!sim_mm_readable(h, v)) {
        sim_log('E', "multimodal input of batch %d: %zu images of %zu tokens do not fit max_context_len %d", b,
                v->n_image, v->n_tokens, h->max_ctx);
        return -1;
    }
    size_t tags = count_tags(v->prompt);
    if (tags != v->n_image) {
        sim_log('E', "multimodal input of batch %d: the prompt has %zu %s tags but n_image is %zu", b, tags, IMAGE_TAG,
                v->n_image);
        return -1;
    }
    enum llama_rope_type rope = llama_model_rope_type(h->model);
    if (rope == LLAMA_ROPE_TYPE_MROPE || rope == LLAMA_ROPE_TYPE_IMROPE) {
        sim_log('E', "RKLLMSim: multimodal input on an mrope model (Qwen2-VL family) is not supported by the "
                     "simulator");
        return -1;
    }
    sim_tokens content = {0};
    int rc = sim_tokenize(h, v->content, false, &content);
    if (rc == 0 && content.n != 1) {
        sim_log('E', "multimodal input of batch %d: the image content tag \"%s\" is %d tokens of this model, not one "
                     "(it must name the model's image pad token)",
                b, v->content, content.n);
        rc = -1;
    }
    toks_free(&content);
    return rc;
}

/* ---- hashes and placeholders ---- */

static uint64_t mix64(uint64_t x) { /* splitmix64's finaliser */
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

/* FNV-1a over the rows' 32-bit words, seeded with their count. */
static uint64_t rows_hash(const float *rows, size_t n_floats) {
    uint64_t hsh = 0xcbf29ce484222325ull ^ mix64(n_floats);
    const unsigned char *p = (const unsigned char *)rows;
    for (size_t i = 0; i < n_floats; i++) {
        uint32_t w;
        memcpy(&w, p + i * sizeof w, sizeof w);
        hsh ^= w;
        hsh *= 0x100000001b3ull;
    }
    return mix64(hsh);
}

static uint32_t ph_base(uint64_t hash, uint32_t salt) {
    return (uint32_t)(mix64(hash + 0x9e3779b97f4a7c15ull * (uint64_t)salt) >> 34); /* 30 bits */
}

static bool ranges_overlap(uint32_t a, int n, uint32_t c, int m) {
    return ((c - a) & SIM_PH_MASK) < (uint32_t)n || ((a - c) & SIM_PH_MASK) < (uint32_t)m;
}

static bool same_rows(const sim_image *x, uint64_t hash, int n_rows, const float *rows, size_t width) {
    return x->hash == hash && x->n_rows == n_rows &&
           memcmp(x->rows, rows, (size_t)n_rows * width * sizeof(float)) == 0;
}

static const sim_image *find_same(const sim_image_list *l, uint64_t hash, int n_rows, const float *rows, size_t width) {
    for (int i = 0; i < l->n; i++)
        if (same_rows(&l->v[i], hash, n_rows, rows, width)) return &l->v[i];
    return NULL;
}

static bool overlaps_any(const sim_image_list *l, uint32_t base, int n_rows) {
    for (int i = 0; i < l->n; i++)
        if (ranges_overlap(base, n_rows, l->v[i].base, l->v[i].n_rows)) return true;
    return false;
}

static void list_push(sim_image_list *l, sim_image img) {
    l->v = sim_xrealloc(l->v, (size_t)(l->n + 1) * sizeof *l->v);
    l->v[l->n++] = img;
}

void sim_images_clear(sim_image_list *l) {
    for (int i = 0; i < l->n; i++)
        if (l->v[i].owned) free((void *)l->v[i].rows);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

/* The image an input's rows become: the same placeholders as an identical image the slot or this input
 * already has, otherwise the first salted base whose range overlaps none of theirs. */
static sim_image place_image(const sim_handle *h, int b, const sim_image_list *pending, const float *rows, int n_rows) {
    size_t width = (size_t)h->n_embd_inp;
    uint64_t hash = rows_hash(rows, (size_t)n_rows * width);
    const sim_image *same = find_same(&h->seqs[b].images, hash, n_rows, rows, width);
    if (!same) same = find_same(pending, hash, n_rows, rows, width);
    sim_image img = {hash, 0, n_rows, rows, false};
    if (same) {
        img.base = same->base;
        return img;
    }
    uint32_t salt = 0;
    do img.base = ph_base(hash, salt++);
    while (overlaps_any(&h->seqs[b].images, img.base, n_rows) || overlaps_any(pending, img.base, n_rows));
    return img;
}

static int tokenize_n(sim_handle *h, const char *s, size_t n, sim_tokens *out) {
    char *tmp = sim_xmalloc(n + 1);
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    int rc = sim_tokenize(h, tmp, false, out);
    free(tmp);
    return rc;
}

int sim_mm_tokens(sim_handle *h, int b, const sim_mm *v, const char *head, const char *tail, sim_tokens *out,
                  sim_image_list *images) {
    sim_tokens start = {0}, end = {0};
    sim_buf seg = {0};
    int rc = -1;
    if (sim_tokenize(h, v->start, false, &start) || sim_tokenize(h, v->end, false, &end)) goto out;
    const char *text = v->prompt ? v->prompt : "";
    size_t width = (size_t)h->n_embd_inp;
    int n_rows = (int)v->n_tokens;
    /* text before the first tag goes with the head, text after the last with the tail; each is tokenized on
     * its own, as the segments between the images are */
    buf_puts(&seg, head);
    for (size_t k = 0;; k++) {
        const char *tag = strstr(text, IMAGE_TAG);
        if (!tag || k == v->n_image) break;
        buf_put(&seg, text, (size_t)(tag - text));
        if (tokenize_n(h, seg.p, seg.n, out)) goto out;
        buf_reset(&seg);
        const float *rows = v->embed + k * (size_t)n_rows * width;
        sim_image img = place_image(h, b, images, rows, n_rows);
        list_push(images, img);
        toks_append(out, start.v, start.n);
        toks_reserve(out, out->n + n_rows);
        for (int i = 0; i < n_rows; i++) out->v[out->n++] = sim_placeholder(img.base, i);
        toks_append(out, end.v, end.n);
        text = tag + strlen(IMAGE_TAG);
    }
    buf_puts(&seg, text);
    buf_puts(&seg, tail);
    if (tokenize_n(h, seg.p, seg.n, out)) goto out;
    rc = 0;
out:
    toks_free(&start);
    toks_free(&end);
    buf_free(&seg);
    return rc;
}

/* ---- a slot's store ---- */

static const sim_image *find_placeholder(const sim_image_list *l, llama_token t, int *row) {
    if (!sim_is_placeholder(t)) return NULL;
    uint32_t v = (uint32_t)((int64_t)t - INT32_MIN);
    for (int i = 0; i < l->n; i++) {
        uint32_t r = (v - l->v[i].base) & SIM_PH_MASK;
        if (r < (uint32_t)l->v[i].n_rows) {
            *row = (int)r;
            return &l->v[i];
        }
    }
    return NULL;
}

const float *sim_seq_image_row(const sim_handle *h, int b, llama_token t) {
    int row;
    const sim_image *img = find_placeholder(&h->seqs[b].images, t, &row);
    return img ? img->rows + (size_t)row * (size_t)h->n_embd_inp : NULL;
}

void sim_seq_images_commit(sim_handle *h, int b, const sim_image_list *added) {
    sim_seq *q = &h->seqs[b];
    size_t width = (size_t)h->n_embd_inp;
    for (int i = 0; i < added->n; i++) {
        const sim_image *a = &added->v[i];
        if (find_same(&q->images, a->hash, a->n_rows, a->rows, width)) continue;
        size_t bytes = (size_t)a->n_rows * width * sizeof(float);
        float *copy = sim_xmalloc(bytes);
        memcpy(copy, a->rows, bytes);
        list_push(&q->images, (sim_image){a->hash, a->base, a->n_rows, copy, true});
    }
    if (q->images.n == 0) return;
    /* forget the images no position of the history refers to any more */
    bool *used = sim_xcalloc((size_t)q->images.n, sizeof *used);
    for (int p = 0; p < q->hist.n; p++) {
        int row;
        const sim_image *img = find_placeholder(&q->images, q->hist.v[p], &row);
        if (img) used[img - q->images.v] = true;
    }
    int kept = 0;
    for (int i = 0; i < q->images.n; i++) {
        if (used[i]) q->images.v[kept++] = q->images.v[i];
        else if (q->images.v[i].owned) free((void *)q->images.v[i].rows);
    }
    q->images.n = kept;
    free(used);
}

/* ---- trace ---- */

void sim_mm_trace(const sim_handle *h, const sim_input_t *in, sim_buf *tr) {
    sim_mm v;
    sim_mm_view(h, in, &v);
    trace_str(tr, "text", v.prompt);
    trace_key(tr, "image");
    buf_printf(tr, "{\"n_image\":%zu,\"n_image_tokens\":%zu,\"width\":%zu,\"height\":%zu", v.n_image, v.n_tokens,
               v.width, v.height);
    trace_str(tr, "start", v.start);
    trace_str(tr, "end", v.end);
    trace_str(tr, "content", v.content);
    /* one hash per image, as the placeholders use it (null when image_embed cannot be read) */
    trace_key(tr, "hashes");
    if (sim_mm_readable(h, &v)) {
        size_t per = v.n_tokens * (size_t)h->n_embd_inp;
        buf_puts(tr, "[");
        for (size_t k = 0; k < v.n_image; k++)
            buf_printf(tr, "%s\"%016llx\"", k ? "," : "", (unsigned long long)rows_hash(v.embed + k * per, per));
        buf_puts(tr, "]");
    } else {
        buf_puts(tr, "null");
    }
    buf_puts(tr, "}");
#if SIM_ABI_13
    trace_bool(tr, "video", v.video);
#endif
}
