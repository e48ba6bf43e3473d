/*
 * rknnsim.h: internals of RKNNSim, a SIMULATOR of Rockchip's RKNN runtime (librknnrt.so) for one kind of
 * model only: a vision encoder, run on the CPU by llama.cpp's libmtmd from an mmproj GGUF.
 *
 * RKNNSim is not the vendor runtime and never touches an NPU. It exports the rknn_* entry points declared in
 * Sources/CRKNN/rknn_abi.h, with the vendor's struct layouts, return codes and call sequence, so that the
 * Swift engine's RKNN vision path can be developed and tested without an RK3588. The "model" it loads is a
 * small text descriptor naming a projector and its text model (README.md). Files:
 *
 *   api.c    the rknn_* entry points, the registry of live contexts, argument checks
 *   model.c  the descriptor, loading the projector with libmtmd, encoding an image
 *   util.c   logging, environment, time, float16
 */
#ifndef RKNNSIM_H
#define RKNNSIM_H

/* clock_gettime, localtime_r (POSIX 2008) and realpath (XSI) on top of strict C11. Every .c includes this
 * file first, so this is seen before any system header. */
#ifndef _XOPEN_SOURCE
#define _XOPEN_SOURCE 700
#endif

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "llama.h"
#include "mtmd.h"
#include "rknn_abi.h"

/* Only the rknn_* entry points leave the library (built with -fvisibility=hidden). */
#define RKNNSIM_API __attribute__((visibility("default")))

/* What the simulator reports itself as: the vendor runtime version it follows (rknn-toolkit2 / librknnrt
 * 2.3.2, the one rknn-llm 1.2.1-1.3.0 ship), marked as the simulator. */
#define RKNNSIM_RUNTIME_VERSION "2.3.2 (RKNNSim)"
#define RKNNSIM_DRIVER_VERSION "none (RKNNSim simulator, no NPU)"

/* The descriptor's first line, and the largest descriptor accepted (a real .rknn is megabytes). */
#define RKNNSIM_MAGIC_LINE "RKNNSIM 1"
#define RKNNSIM_MAX_DESCRIPTOR 65536

#define RKNNSIM_INPUT_NAME "pixel"
#define RKNNSIM_OUTPUT_NAME "image_embeds"

/* ---- util.c ---------------------------------------------------------------------------------------- */

/* "I RKNN: [hh:mm:ss.mmm] ..." on stderr, one write per line; nothing at all with RKNNSIM_LOG=0. */
void rs_log(char level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int rs_env_int(const char *name, int fallback);
int64_t rs_now_us(void);
uint16_t rs_f32_to_f16(float f);
float rs_f16_to_f32(uint16_t h);

/* ---- model.c --------------------------------------------------------------------------------------- */

/* A loaded encoder: the libmtmd context and what init learnt about it. */
typedef struct {
    char *projector_path; /* absolute or as given */
    char *text_model_path;
    struct llama_model *text_model; /* metadata only (no_alloc): vocab + hparams, no weights */
    mtmd_context *mtmd;
    uint32_t width;    /* W = H = clip.vision.image_size */
    uint32_t height;
    uint32_t n_tokens; /* output tokens per image */
    uint32_t n_embd;   /* output width = the text model's input embedding width */
} rs_model;

/* Parses the descriptor (a path when size == 0, else `size` bytes) and loads what it names. On failure logs
 * why and returns an RKNN_ERR_* code, leaving *out empty. */
int rs_model_load(rs_model *out, const void *model, uint32_t size, int n_threads);
void rs_model_free(rs_model *m);

/* Encodes one W x H RGB image (uint8, HWC) into out (n_tokens * n_embd floats). Returns 0 or an RKNN_ERR_*. */
int rs_model_encode(rs_model *m, const unsigned char *rgb, float *out);

#endif
