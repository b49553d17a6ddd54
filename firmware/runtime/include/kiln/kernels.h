/*
 * Kiln runtime: portable kernel interface.
 *
 * Every kernel is a flat C function over tensors in NHWC layout (batch 1).
 * All shapes and quantization parameters are known when the model is
 * compiled, so the generated code passes them in const parameter structs
 * that live in flash; kernels never allocate and never touch libm on the
 * int8 path.
 *
 * The integer kernels follow TFLite's int8 quantization specification:
 *   real = scale * (q - zero_point)
 * with per-channel symmetric weights (zero point 0) for convolutions and
 * requantization through a Q31 multiplier and a power-of-two shift (see
 * kiln_requantize() in kiln/quant.h).
 *
 * Optimized kernels (for example firmware/runtime/cm33/) may have other
 * signatures and weight layouts; the code generator picks one per layer.
 * The portable kernels here are the reference and the fallback.
 */
#ifndef KILN_KERNELS_H
#define KILN_KERNELS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- int8 ---------------------------------------------------------------- */

/* CONV_2D and DEPTHWISE_CONV_2D. Weights: CONV_2D OHWI, depthwise 1HW(C*M)
 * as in the .tflite. bias may be NULL. Padding is resolved at build time
 * into pad_top/pad_left (SAME or VALID alike). */
typedef struct {
    uint16_t in_h, in_w, in_c;
    uint16_t out_h, out_w, out_c;
    uint16_t k_h, k_w;
    uint16_t stride_h, stride_w;
    uint16_t dil_h, dil_w;
    int16_t pad_top, pad_left;
    uint16_t depth_mult;          /* depthwise only; out_c == in_c * depth_mult */
    int32_t in_offset;            /* -input zero point */
    int32_t out_offset;           /* +output zero point */
    int32_t act_min, act_max;     /* clamp in the output's quantized domain */
    const int32_t *mult;          /* per output channel Q31 multiplier */
    const int32_t *shift;         /* per output channel shift (>0: left) */
} kiln_conv_s8_params_t;

void kiln_conv2d_s8(const kiln_conv_s8_params_t *p, const int8_t *in,
                    const int8_t *w, const int32_t *bias, int8_t *out);
void kiln_dwconv2d_s8(const kiln_conv_s8_params_t *p, const int8_t *in,
                      const int8_t *w, const int32_t *bias, int8_t *out);

/* FULLY_CONNECTED. Weights [out_n][in_n]; per-tensor or per-channel
 * (per_channel != 0: mult/shift have out_n entries, else one). Batches: rows
 * of the input treated independently. */
typedef struct {
    uint32_t batches, in_n, out_n;
    int32_t in_offset, out_offset;
    int32_t act_min, act_max;
    uint8_t per_channel;
    const int32_t *mult;
    const int32_t *shift;
} kiln_fc_s8_params_t;

void kiln_fc_s8(const kiln_fc_s8_params_t *p, const int8_t *in,
                const int8_t *w, const int32_t *bias, int8_t *out);

/* MAX_POOL_2D and AVERAGE_POOL_2D (input and output share scale and zero
 * point, as TFLite requires). */
typedef struct {
    uint16_t in_h, in_w, c;
    uint16_t out_h, out_w;
    uint16_t k_h, k_w;
    uint16_t stride_h, stride_w;
    int16_t pad_top, pad_left;
    int32_t act_min, act_max;
} kiln_pool_params_t;

void kiln_maxpool_s8(const kiln_pool_params_t *p, const int8_t *in, int8_t *out);
void kiln_avgpool_s8(const kiln_pool_params_t *p, const int8_t *in, int8_t *out);

/* ADD and MUL with NumPy-style broadcasting over up to 4 dimensions. The
 * generator expands the shapes to 4-D; strides of 0 broadcast. */
typedef struct {
    uint32_t out_shape[4];
    uint32_t a_stride[4], b_stride[4];
    int32_t a_offset, b_offset, out_offset;   /* -zp_a, -zp_b, +zp_out */
    int32_t left_shift;                       /* ADD only */
    int32_t a_mult, a_shift, b_mult, b_shift; /* ADD only */
    int32_t out_mult, out_shift;
    int32_t act_min, act_max;
} kiln_binary_s8_params_t;

void kiln_add_s8(const kiln_binary_s8_params_t *p, const int8_t *a,
                 const int8_t *b, int8_t *out);
void kiln_mul_s8(const kiln_binary_s8_params_t *p, const int8_t *a,
                 const int8_t *b, int8_t *out);

/* SOFTMAX over the last axis, int8 in and out (output scale 1/256, zero
 * point -128). The exp lookup and the input scaling are precomputed at build
 * time by the generator, matching TFLite's fixed-point reference. */
typedef struct {
    uint32_t rows, depth;
    int32_t input_multiplier;
    int32_t input_left_shift;
    int32_t diff_min;
} kiln_softmax_s8_params_t;

void kiln_softmax_s8(const kiln_softmax_s8_params_t *p, const int8_t *in, int8_t *out);

/* PAD (constant value, already in the quantized domain), up to 4-D. */
typedef struct {
    uint32_t in_shape[4];
    uint32_t out_shape[4];
    uint32_t before[4];
    int32_t pad_value;
    uint8_t elem_bytes;           /* 1 for int8, 4 for float32 */
} kiln_pad_params_t;

void kiln_pad(const kiln_pad_params_t *p, const void *in, void *out);

/* CONCATENATION: outer x (sum of inner sizes). Inputs are requantized to the
 * output's parameters when they differ (int8); bytes are copied otherwise. */
typedef struct {
    uint32_t outer;
    uint32_t n_inputs;
    const uint32_t *inner;        /* per input: elements along and after axis */
    const int32_t *in_offset;     /* per input, -zp (int8 only) */
    const int32_t *mult;          /* per input; 0 means plain copy */
    const int32_t *shift;
    int32_t out_offset;
    uint8_t elem_bytes;
} kiln_concat_params_t;

void kiln_concat(const kiln_concat_params_t *p, const void *const *in, void *out);

/* MEAN over the spatial axes of an NHWC tensor. */
typedef struct {
    uint32_t h, w, c;
    int32_t in_offset, out_offset;
    int32_t mult, shift;          /* folds 1/(h*w) and the scale ratio */
} kiln_mean_s8_params_t;

void kiln_mean_s8(const kiln_mean_s8_params_t *p, const int8_t *in, int8_t *out);

/* QUANTIZE (float32 -> int8, or int8 -> int8 requantize) and DEQUANTIZE. */
typedef struct {
    uint32_t n;
    float inv_scale;              /* float -> int8 */
    float scale;                  /* int8 -> float */
    int32_t zero_point;
    int32_t in_offset, mult, shift, out_offset; /* int8 -> int8 */
} kiln_quant_params_t;

void kiln_quantize_f32_s8(const kiln_quant_params_t *p, const float *in, int8_t *out);
void kiln_requantize_s8_s8(const kiln_quant_params_t *p, const int8_t *in, int8_t *out);
void kiln_dequantize_s8_f32(const kiln_quant_params_t *p, const int8_t *in, float *out);

/* ---- float32 ------------------------------------------------------------- */

typedef struct {
    uint16_t in_h, in_w, in_c;
    uint16_t out_h, out_w, out_c;
    uint16_t k_h, k_w;
    uint16_t stride_h, stride_w;
    uint16_t dil_h, dil_w;
    int16_t pad_top, pad_left;
    uint16_t depth_mult;
    float act_min, act_max;
} kiln_conv_f32_params_t;

void kiln_conv2d_f32(const kiln_conv_f32_params_t *p, const float *in,
                     const float *w, const float *bias, float *out);
void kiln_dwconv2d_f32(const kiln_conv_f32_params_t *p, const float *in,
                       const float *w, const float *bias, float *out);

typedef struct {
    uint32_t batches, in_n, out_n;
    float act_min, act_max;
} kiln_fc_f32_params_t;

void kiln_fc_f32(const kiln_fc_f32_params_t *p, const float *in,
                 const float *w, const float *bias, float *out);

typedef struct {
    uint16_t in_h, in_w, c;
    uint16_t out_h, out_w;
    uint16_t k_h, k_w;
    uint16_t stride_h, stride_w;
    int16_t pad_top, pad_left;
    float act_min, act_max;
} kiln_pool_f32_params_t;

void kiln_maxpool_f32(const kiln_pool_f32_params_t *p, const float *in, float *out);
void kiln_avgpool_f32(const kiln_pool_f32_params_t *p, const float *in, float *out);

typedef struct {
    uint32_t out_shape[4];
    uint32_t a_stride[4], b_stride[4];
    float act_min, act_max;
} kiln_binary_f32_params_t;

void kiln_add_f32(const kiln_binary_f32_params_t *p, const float *a,
                  const float *b, float *out);

typedef struct {
    uint32_t rows, depth;
    float beta;
} kiln_softmax_f32_params_t;

void kiln_softmax_f32(const kiln_softmax_f32_params_t *p, const float *in, float *out);

#ifdef __cplusplus
}
#endif

#endif /* KILN_KERNELS_H */
