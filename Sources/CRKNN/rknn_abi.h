/*
 * rknn_abi.h: RockchipLlama's own C11 declaration of the part of librknnrt.so (Rockchip's RKNN runtime,
 * rknn-toolkit2 2.3.x) that runs a vision encoder: init, query, set inputs, run, get outputs, core mask.
 *
 * Nothing here is linked: the engine dlopen()s the library and dlsym()s the entry points below through the
 * function-pointer typedefs. Names, values and layouts are the vendor's (rknn_api.h, LP64); sizes and
 * offsets are checked with static assertions at the end. The RKNN simulator (Sources/RKNNSim) implements
 * exactly these entry points.
 */
#ifndef ROCKCHIPLLAMA_RKNN_ABI_H
#define ROCKCHIPLLAMA_RKNN_ABI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RKNN_MAX_DIMS 16
#define RKNN_MAX_NAME_LEN 256

/* uint64_t on 64-bit targets (the vendor uses uint32_t only under __arm__). */
typedef uint64_t rknn_context;

/* Return codes. */
#define RKNN_SUCC 0
#define RKNN_ERR_FAIL -1
#define RKNN_ERR_TIMEOUT -2
#define RKNN_ERR_DEVICE_UNAVAILABLE -3
#define RKNN_ERR_MALLOC_FAIL -4
#define RKNN_ERR_PARAM_INVALID -5
#define RKNN_ERR_MODEL_INVALID -6
#define RKNN_ERR_CTX_INVALID -7
#define RKNN_ERR_INPUT_INVALID -8
#define RKNN_ERR_OUTPUT_INVALID -9
#define RKNN_ERR_DEVICE_UNMATCH -10

typedef enum _rknn_query_cmd {
    RKNN_QUERY_IN_OUT_NUM = 0,
    RKNN_QUERY_INPUT_ATTR = 1,
    RKNN_QUERY_OUTPUT_ATTR = 2,
    RKNN_QUERY_PERF_DETAIL = 3,
    RKNN_QUERY_PERF_RUN = 4,
    RKNN_QUERY_SDK_VERSION = 5,
} rknn_query_cmd;

typedef enum _rknn_tensor_type {
    RKNN_TENSOR_FLOAT32 = 0,
    RKNN_TENSOR_FLOAT16 = 1,
    RKNN_TENSOR_INT8 = 2,
    RKNN_TENSOR_UINT8 = 3,
    RKNN_TENSOR_INT16 = 4,
    RKNN_TENSOR_UINT16 = 5,
    RKNN_TENSOR_INT32 = 6,
    RKNN_TENSOR_UINT32 = 7,
    RKNN_TENSOR_INT64 = 8,
    RKNN_TENSOR_BOOL = 9,
    RKNN_TENSOR_INT4 = 10,
    RKNN_TENSOR_BFLOAT16 = 11,
} rknn_tensor_type;

typedef enum _rknn_tensor_qnt_type {
    RKNN_TENSOR_QNT_NONE = 0,
    RKNN_TENSOR_QNT_DFP = 1,
    RKNN_TENSOR_QNT_AFFINE_ASYMMETRIC = 2,
} rknn_tensor_qnt_type;

typedef enum _rknn_tensor_format {
    RKNN_TENSOR_NCHW = 0,
    RKNN_TENSOR_NHWC = 1,
    RKNN_TENSOR_NC1HWC2 = 2,
    RKNN_TENSOR_UNDEFINED = 3,
} rknn_tensor_format;

typedef enum _rknn_core_mask {
    RKNN_NPU_CORE_AUTO = 0,
    RKNN_NPU_CORE_0 = 1,
    RKNN_NPU_CORE_1 = 2,
    RKNN_NPU_CORE_2 = 4,
    RKNN_NPU_CORE_0_1 = 3,
    RKNN_NPU_CORE_0_1_2 = 7,
    RKNN_NPU_CORE_ALL = 0xffff,
    RKNN_NPU_CORE_UNDEFINED = 0x10000,
} rknn_core_mask;

typedef struct _rknn_input_output_num {
    uint32_t n_input;
    uint32_t n_output;
} rknn_input_output_num;

typedef struct _rknn_tensor_attr {
    uint32_t index; /* set by the caller before RKNN_QUERY_INPUT_ATTR / RKNN_QUERY_OUTPUT_ATTR */
    uint32_t n_dims;
    uint32_t dims[RKNN_MAX_DIMS];
    char name[RKNN_MAX_NAME_LEN];
    uint32_t n_elems;
    uint32_t size; /* bytes */
    rknn_tensor_format fmt;
    rknn_tensor_type type;
    rknn_tensor_qnt_type qnt_type;
    int8_t fl;
    int32_t zp;
    float scale;
    uint32_t w_stride;
    uint32_t size_with_stride;
    uint8_t pass_through;
    uint32_t h_stride;
} rknn_tensor_attr;

typedef struct _rknn_sdk_version {
    char api_version[256];
    char drv_version[256];
} rknn_sdk_version;

typedef struct _rknn_perf_run {
    int64_t run_duration; /* microseconds */
} rknn_perf_run;

typedef struct _rknn_input {
    uint32_t index;
    void *buf;
    uint32_t size;
    uint8_t pass_through; /* 0: the runtime converts from type/fmt, normalisation included */
    rknn_tensor_type type;
    rknn_tensor_format fmt;
} rknn_input;

typedef struct _rknn_output {
    uint8_t want_float;   /* 1: float32 whatever the tensor's type */
    uint8_t is_prealloc;  /* 0: the runtime allocates buf, freed by rknn_outputs_release */
    uint32_t index;
    void *buf;
    uint32_t size;
} rknn_output;

/* Entry points. `model` is a file path when `size` is 0, else a buffer of `size` bytes. */
typedef int (*rknn_init_fn)(rknn_context *context, void *model, uint32_t size, uint32_t flag, void *extend);
typedef int (*rknn_destroy_fn)(rknn_context context);
typedef int (*rknn_query_fn)(rknn_context context, rknn_query_cmd cmd, void *info, uint32_t size);
typedef int (*rknn_inputs_set_fn)(rknn_context context, uint32_t n_inputs, rknn_input inputs[]);
typedef int (*rknn_run_fn)(rknn_context context, void *extend);
typedef int (*rknn_outputs_get_fn)(rknn_context context, uint32_t n_outputs, rknn_output outputs[], void *extend);
typedef int (*rknn_outputs_release_fn)(rknn_context context, uint32_t n_outputs, rknn_output outputs[]);
typedef int (*rknn_set_core_mask_fn)(rknn_context context, rknn_core_mask core_mask);

#define RKNN_SYM_INIT "rknn_init"
#define RKNN_SYM_DESTROY "rknn_destroy"
#define RKNN_SYM_QUERY "rknn_query"
#define RKNN_SYM_INPUTS_SET "rknn_inputs_set"
#define RKNN_SYM_RUN "rknn_run"
#define RKNN_SYM_OUTPUTS_GET "rknn_outputs_get"
#define RKNN_SYM_OUTPUTS_RELEASE "rknn_outputs_release"
#define RKNN_SYM_SET_CORE_MASK "rknn_set_core_mask"

/* Layout, as the vendor's header has it on LP64. */
#define RKNN_ABI_CHECK(type, field, offset) _Static_assert(offsetof(type, field) == (offset), #type "." #field)
_Static_assert(sizeof(rknn_input_output_num) == 8, "rknn_input_output_num");
_Static_assert(sizeof(rknn_tensor_attr) == 376, "rknn_tensor_attr");
RKNN_ABI_CHECK(rknn_tensor_attr, dims, 8);
RKNN_ABI_CHECK(rknn_tensor_attr, name, 72);
RKNN_ABI_CHECK(rknn_tensor_attr, n_elems, 328);
RKNN_ABI_CHECK(rknn_tensor_attr, size, 332);
RKNN_ABI_CHECK(rknn_tensor_attr, fmt, 336);
RKNN_ABI_CHECK(rknn_tensor_attr, type, 340);
RKNN_ABI_CHECK(rknn_tensor_attr, qnt_type, 344);
RKNN_ABI_CHECK(rknn_tensor_attr, fl, 348);
RKNN_ABI_CHECK(rknn_tensor_attr, zp, 352);
RKNN_ABI_CHECK(rknn_tensor_attr, scale, 356);
RKNN_ABI_CHECK(rknn_tensor_attr, w_stride, 360);
RKNN_ABI_CHECK(rknn_tensor_attr, size_with_stride, 364);
RKNN_ABI_CHECK(rknn_tensor_attr, pass_through, 368);
RKNN_ABI_CHECK(rknn_tensor_attr, h_stride, 372);
_Static_assert(sizeof(rknn_input) == 32, "rknn_input");
RKNN_ABI_CHECK(rknn_input, buf, 8);
RKNN_ABI_CHECK(rknn_input, size, 16);
RKNN_ABI_CHECK(rknn_input, pass_through, 20);
RKNN_ABI_CHECK(rknn_input, type, 24);
RKNN_ABI_CHECK(rknn_input, fmt, 28);
_Static_assert(sizeof(rknn_output) == 24, "rknn_output");
RKNN_ABI_CHECK(rknn_output, index, 4);
RKNN_ABI_CHECK(rknn_output, buf, 8);
RKNN_ABI_CHECK(rknn_output, size, 16);
_Static_assert(sizeof(rknn_sdk_version) == 512, "rknn_sdk_version");
_Static_assert(sizeof(rknn_perf_run) == 8, "rknn_perf_run");
#undef RKNN_ABI_CHECK

#ifdef __cplusplus
}
#endif

#endif
