/*
 * Kiln runtime: the interface between generated model code and its users
 * (the firmware app, the host check library).
 *
 * The code generator emits kiln_model.c / kiln_model.h per model. The
 * generated file defines `kiln_model` (the descriptor below) and
 * kiln_model_invoke(). Everything is static: the arena is a generated,
 * aligned static array sized by the build-time memory planner.
 */
#ifndef KILN_MODEL_H
#define KILN_MODEL_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    KILN_DTYPE_INT8 = 1,
    KILN_DTYPE_FLOAT32 = 2,
    KILN_DTYPE_UINT8 = 3,   /* uint8 model edges; int8 inside */
    KILN_DTYPE_INT32 = 4,   /* int32 outputs (ARG_MAX / ARG_MIN) */
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
    kiln_tensor_desc_t input;
    kiln_tensor_desc_t output;
    uint32_t arena_bytes;
    uint32_t weight_bytes;
    uint32_t total_macs;
    uint32_t n_layers;
    const kiln_layer_desc_t *layers;
    const char *info_json;        /* the whole descriptor as compact JSON */
} kiln_model_t;

extern const kiln_model_t kiln_model;

/* Runs one inference. `input` holds model.input.bytes bytes, `output`
 * receives model.output.bytes bytes. When layer_cost is not NULL it
 * receives n_layers entries of kiln_cost_now() differences, one per layer.
 * Returns 0 on success. */
int kiln_model_invoke(const void *input, void *output, uint32_t *layer_cost);

/* Provided by the platform (board or host): a free-running counter of
 * cycles (hardware) or instructions (emulator); 0 where there is none. */
uint32_t kiln_cost_now(void);

#ifdef __cplusplus
}
#endif

#endif /* KILN_MODEL_H */
