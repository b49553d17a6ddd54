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

extern const kiln_model_t kiln_model;

/* Runs one inference. `input` holds every input tensor back to back, in
 * the model's order (the sum of inputs[i].bytes: KILN_MODEL_INPUT_BYTES);
 * `output` receives every output tensor the same way (KILN_MODEL_OUTPUT_BYTES).
 * Neither needs any alignment. When layer_cost is not NULL it
 * receives n_layers entries of kiln_cost_now() differences, one per layer.
 * Returns 0 on success. */
int kiln_model_invoke(const void *input, void *output, uint32_t *layer_cost);

/* Where the inputs can be written in place: the arena's bytes of the input
 * tensors, back to back in the model's order (KILN_MODEL_INPUT_BYTES), or
 * NULL when the planner did not place them so (KILN_MODEL_INPUTS_IN_ARENA
 * says which at compile time). Passing this pointer to kiln_model_invoke
 * skips the copy. Its contents are lost once an inference runs: write the
 * next inputs after kiln_model_invoke returns. */
uint8_t *kiln_model_input_buffer(void);

/* Provided by the platform (board or host): a free-running counter of
 * cycles (hardware) or instructions (emulator); 0 where there is none. */
uint32_t kiln_cost_now(void);

#ifdef __cplusplus
}
#endif

#endif /* KILN_MODEL_H */
