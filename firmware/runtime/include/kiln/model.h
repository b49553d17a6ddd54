/*
 * Kiln runtime: the interface between generated model code and its users
 * (the firmware app, the host check library, an exported library's caller).
 *
 * The code generator emits <prefix>.c / <prefix>.h per model (kiln_model by
 * default): the descriptor `<prefix>` (kiln_model_t below) and the model's
 * functions, declared in <prefix>.h. Everything is static: the arena is an
 * aligned array sized by the build-time memory planner, the model's own or
 * the caller's.
 */
#ifndef KILN_MODEL_H
#define KILN_MODEL_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The version of this C API (docs/export.md): the major number changes
 * when a program written for the previous one would no longer build or run. */
#define KILN_API_VERSION_MAJOR 1
#define KILN_API_VERSION_MINOR 0
#define KILN_API_VERSION "1.0"

typedef enum {
    KILN_DTYPE_INT8 = 1,
    KILN_DTYPE_FLOAT32 = 2,
    KILN_DTYPE_UINT8 = 3,   /* uint8 model edges; int8 inside */
    KILN_DTYPE_INT16 = 4,
    KILN_DTYPE_INT32 = 5,   /* e.g. an ARG_MAX output */
    KILN_DTYPE_BOOL = 6,    /* one byte, 0 or 1 */
} kiln_dtype_t;

typedef struct {
    kiln_dtype_t dtype;
    uint8_t rank;
    uint16_t dims[4];
    uint32_t bytes;
    float scale;          /* 0 for float tensors */
    int32_t zero_point;
} kiln_tensor_desc_t;

typedef struct {
    const char *name;     /* output tensor name from the .tflite */
    const char *op;       /* builtin operator name, e.g. "CONV_2D" */
    const char *kernel;   /* the kernel function chosen at build time */
    uint32_t macs;
} kiln_layer_desc_t;

typedef struct {
    const char *name;             /* <net>/<variant> or the .tflite stem */
    const char *tflite_sha256;    /* hex digest of the source .tflite */
    uint32_t n_inputs;
    uint32_t n_outputs;
    const kiln_tensor_desc_t *inputs;   /* n_inputs, in the .tflite's order */
    const kiln_tensor_desc_t *outputs;  /* n_outputs, in the .tflite's order */
    uint32_t arena_bytes;
    uint32_t weight_bytes;
    uint32_t total_macs;
    uint32_t n_layers;
    const kiln_layer_desc_t *layers;
    const char *info_json;        /* the whole descriptor as compact JSON */
} kiln_model_t;

/* Error codes of <prefix>_init and <prefix>_invoke (0 is success). */
#define KILN_E_ARENA_ALIGNMENT (-1)   /* the caller's arena is not 8-byte aligned */

/* Real values -> the tensor's stored values: round(x / scale) + zero_point,
 * halves away from zero, saturated to the dtype (TFLite's QUANTIZE); a
 * float32 tensor takes the values as they are. `q` holds n elements of
 * t->dtype. Returns 0, or -1 for a dtype without a real-valued meaning. */
int kiln_quantize(const kiln_tensor_desc_t *t, const float *x, void *q, uint32_t n);

/* Stored values -> real values: (q - zero_point) * scale (DEQUANTIZE). */
int kiln_dequantize(const kiln_tensor_desc_t *t, const void *q, float *x, uint32_t n);

/* The profiling hook's clock: a free-running counter of cycles (hardware)
 * or instructions (emulator). The runtime's weak default returns 0; a
 * platform that has a counter defines its own (Kiln's boards read DWT
 * CYCCNT or the emulator's clock). */
uint32_t kiln_cost_now(void);

#ifdef __cplusplus
}
#endif

#endif /* KILN_MODEL_H */
