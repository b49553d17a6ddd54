/*
 * Kiln runtime: portable kernel interface.
 *
 * Every kernel is a flat C function over tensors in NHWC layout (batch 1
 * unless a `batches` field says otherwise). All shapes and quantization
 * parameters are known when the model is compiled, so the generated code
 * passes them in const parameter structs that live in flash; kernels never
 * allocate and never touch libm (float softmax uses kiln's own expf).
 *
 * The integer kernels follow TFLite's int8 quantization specification:
 *   real = scale * (q - zero_point)
 * with per-channel symmetric weights (zero point 0) for convolutions and
 * requantization through a Q31 multiplier and a power-of-two shift (see
 * kiln_requantize() in kiln/quant.h). Results are bit-identical to the
 * tflite-micro reference kernels when the generator precomputes every
 * field as documented here and in docs/runtime.md.
 *
 * "QuantizeMultiplier(r)" below means TFLite's decomposition of a positive
 * double r into (mult, shift) with r = mult * 2^shift / 2^31:
 *   (m, e) = frexp(r); mult = round_half_away(m * 2^31); shift = e;
 *   if mult == 2^31: mult /= 2, shift += 1;
 *   if shift < -31: mult = 0, shift = 0.
 * All real multipliers are computed in double from the float scales of the
 * .tflite, in the order written below (it matters for the last bit).
 *
 * In place: the memory planner (site_scons/kiln/planner.py) may give a
 * pooling, ADD, MUL or int8->int8 QUANTIZE layer the same arena bytes for
 * its output as for an input that dies there (out == in). Kernels must
 * therefore read every input element an output needs before writing that
 * output, and write outputs in increasing address order (NHWC, channel
 * innermost), as the portable kernels do.
 *
 * Optimized kernels (for example firmware/runtime/dsp/) may have other
 * signatures and weight layouts; the code generator picks one per layer.
 * The portable kernels here are the reference and the fallback.
 *
 * Contract changes (newest first):
 *   - added kiln_requantize_u8_s8 and kiln_requantize_s8_u8 for models
 *     with uint8 inputs or outputs.
 *   - the convolution and pooling structs (int8, float, hybrid) hold their
 *     dims, strides, dilations and padding in one kiln_geometry_t `g`
 *     (kiln/geometry.h) instead of separate fields; pooling's `c` is g.in_c.
 *   - added the hybrid (dynamic-range) section: kiln_hybrid_quantize_f32,
 *     kiln_hybrid_fc, kiln_hybrid_conv2d, kiln_hybrid_dwconv2d.
 *   - added kiln_mul_f32 and kiln_mean_f32 (+ kiln_mean_f32_params_t) so
 *     float variants of nets with MUL / global average pooling run.
 *   - kiln_quant_params_t: `inv_scale` removed; QUANTIZE divides by `scale`
 *     in single precision as tflite-micro does (multiplying by a rounded
 *     reciprocal, or dividing in double, is not bit-exact).
 *   - kiln_mean_s8_params_t: new `count` and `same_qparams` fields; `mult`
 *     and `shift` are now TFLite's count-folded values (see the struct).
 *   - kiln_softmax_s8_params_t: no lookup table; the three fields are the
 *     whole state (exp is computed in fixed point, see kiln/quant.h).
 *   - kiln_concat_params_t: documented that int8 inputs with other
 *     parameters than the output are requantized with kiln_requantize().
 */
#ifndef KILN_KERNELS_H
#define KILN_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "kiln/geometry.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- int8 ---------------------------------------------------------------- */

/* CONV_2D and DEPTHWISE_CONV_2D, int8 activations, int8 per-channel weights,
 * int32 bias.
 *   Weights: CONV_2D [out_c][k_h][k_w][in_c] (OHWI), DEPTHWISE_CONV_2D
 *   [1][k_h][k_w][in_c * depth_mult], both exactly as stored in the .tflite.
 *   bias may be NULL (treated as zeros).
 *   Geometry (dims, strides, dilations, padding): the kiln_geometry_t `g`
 *   of kiln/geometry.h; taps outside the input are skipped (equivalent to
 *   padding with the input zero point).
 *   Multipliers: per output channel c,
 *     QuantizeMultiplier((double)in_scale * (double)w_scale[c] / (double)out_scale).
 *   Per-tensor weights: repeat the one value out_c times.
 *   act_min/act_max: the fused activation in the output's quantized domain:
 *     NONE  -> [-128, 127]
 *     RELU  -> [max(-128, zp_out), 127]
 *     RELU6 -> [max(-128, zp_out), min(127, zp_out + round(6 / out_scale))]
 *   (round = half away from zero, like TFLite's CalculateActivationRange). */
typedef struct {
    kiln_geometry_t g;            /* kiln/geometry.h */
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

/* FULLY_CONNECTED. Weights [out_n][in_n] (symmetric, zero point 0); bias may
 * be NULL. Batches: rows of the input treated independently.
 *   per_channel == 0: mult/shift have one entry,
 *     QuantizeMultiplier((double)(float)(in_scale * w_scale) / (double)out_scale)
 *     -- note TFLite multiplies the two scales in float first.
 *   per_channel != 0: out_n entries, as for CONV_2D.
 *   act_min/act_max as for CONV_2D. */
typedef struct {
    uint32_t batches, in_n, out_n;
    int32_t in_offset, out_offset;   /* -zp_in, +zp_out */
    int32_t act_min, act_max;
    uint8_t per_channel;
    const int32_t *mult;
    const int32_t *shift;
} kiln_fc_s8_params_t;

void kiln_fc_s8(const kiln_fc_s8_params_t *p, const int8_t *in,
                const int8_t *w, const int32_t *bias, int8_t *out);

/* MAX_POOL_2D and AVERAGE_POOL_2D (input and output share scale and zero
 * point, as TFLite requires, so no requantization). Geometry `g` as for
 * CONV_2D (in_c == out_c, dilation 1); windows cover only valid input
 * pixels, and the average divides by the number of valid pixels in the
 * window. act_min/act_max as for CONV_2D (usually [-128, 127]). */
typedef struct {
    kiln_geometry_t g;            /* in_c == out_c: the channels; dilation 1 */
    int32_t act_min, act_max;
} kiln_pool_params_t;

void kiln_maxpool_s8(const kiln_pool_params_t *p, const int8_t *in, int8_t *out);
void kiln_avgpool_s8(const kiln_pool_params_t *p, const int8_t *in, int8_t *out);

/* ADD and MUL with NumPy-style broadcasting over up to 4 dimensions. The
 * generator right-aligns the shapes into 4-D (leading 1s); a_stride/b_stride
 * are element strides of each input for each output dimension, 0 where that
 * input has size 1 (broadcast).
 * ADD (int8): left_shift = 20;
 *   twice_max = 2 * (double)max(a_scale, b_scale)
 *   (a_mult, a_shift) = QuantizeMultiplier((double)a_scale / twice_max)
 *   (b_mult, b_shift) = QuantizeMultiplier((double)b_scale / twice_max)
 *   (out_mult, out_shift) = QuantizeMultiplier(twice_max / ((1 << 20) * (double)out_scale))
 * MUL (int8): left_shift, a_*, b_* unused (0);
 *   (out_mult, out_shift) = QuantizeMultiplier((double)a_scale * (double)b_scale / (double)out_scale)
 * act_min/act_max as for CONV_2D. */
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
 * point -128, as the converter always produces). Exponentials are computed
 * in fixed point at run time (no table). The generator precomputes, with
 * in_scale the input scale and beta from the SoftmaxOptions:
 *   r = min((double)beta * (double)in_scale * 2^26, 2^31 - 1)
 *   (input_multiplier, input_left_shift) = QuantizeMultiplier(r)   (shift >= 0)
 *   diff_min = -floor(31 * 2^26 / 2^input_left_shift)   (computed in double)
 * depth must be below 4096 (the Q12.19 sum of exponentials, as in TFLite). */
typedef struct {
    uint32_t rows, depth;
    int32_t input_multiplier;
    int32_t input_left_shift;
    int32_t diff_min;
} kiln_softmax_s8_params_t;

void kiln_softmax_s8(const kiln_softmax_s8_params_t *p, const int8_t *in, int8_t *out);

/* PAD (constant value, already in the quantized domain: for int8 the
 * output zero point unless a constant is given; for float32 pad_value holds
 * the float's bit pattern, normally 0), up to 4-D, shapes right-aligned with
 * leading 1s. before[d] elements are inserted before dimension d. */
typedef struct {
    uint32_t in_shape[4];
    uint32_t out_shape[4];
    uint32_t before[4];
    int32_t pad_value;
    uint8_t elem_bytes;           /* 1 for int8, 2 for int16, 4 for float32 */
} kiln_pad_params_t;

void kiln_pad(const kiln_pad_params_t *p, const void *in, void *out);

/* CONCATENATION: the output is `outer` rows; each row is the concatenation
 * of each input's `inner[i]` elements (inner = product of the input's dims
 * from the axis on). tflite-micro requires int8 inputs to share the
 * output's scale and zero point; then mult[i] = 0 and bytes are copied. As
 * a Kiln extension, an int8 input with other parameters is requantized:
 *   out = clamp(kiln_requantize(q + in_offset[i], mult[i], shift[i]) + out_offset)
 *   (mult, shift) = QuantizeMultiplier((double)in_scale / (double)out_scale)
 * in_offset/mult/shift may be NULL when every input is a plain copy. */
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

/* MEAN over the spatial axes (1, 2) of an NHWC tensor with batch 1 (keep
 * dims or not: the output is c values either way). tflite-micro has two
 * int8 paths and the generator selects one:
 *   same_qparams = 1 (input and output scale and zero point equal):
 *     out = sum of the raw q values / count, C division (toward zero).
 *     mult, shift, offsets unused.
 *   same_qparams = 0: with (m, s) = QuantizeMultiplier((double)in_scale / (double)out_scale)
 *     and count = h * w:
 *       k = min(floor(log2(count)), 32, 31 + s)
 *       mult = (int32)(((int64)m << k) / count)   (int64 division)
 *       shift = s - k
 *     out = clamp(kiln_requantize(sum(q) + in_offset * count, mult, shift)
 *                 + out_offset, -128, 127). */
typedef struct {
    uint32_t h, w, c;
    uint32_t count;               /* h * w */
    int32_t in_offset, out_offset;   /* -zp_in, +zp_out */
    int32_t mult, shift;          /* folds 1/count and the scale ratio */
    uint8_t same_qparams;
} kiln_mean_s8_params_t;

void kiln_mean_s8(const kiln_mean_s8_params_t *p, const int8_t *in, int8_t *out);

/* QUANTIZE (float32 -> int8, or int8/uint8 -> int8/uint8 requantize) and DEQUANTIZE.
 *   float -> int8: q = clamp(round_half_away(x / scale) + zero_point), the
 *                  division in single precision as tflite-micro does
 *   int8 -> float: x = scale * (q - zero_point)
 *   int8 -> int8:  q' = clamp(kiln_requantize(q + in_offset, mult, shift)
 *                   + out_offset), (mult, shift) =
 *                   QuantizeMultiplier((double)in_scale / (double)out_scale).
 *   uint8 -> int8, int8 -> uint8: the same, clamped to the output type
 *                   (quantize_u8.c). */
typedef struct {
    uint32_t n;                   /* number of elements */
    float scale;                  /* float <-> int8 */
    int32_t zero_point;           /* float <-> int8 */
    int32_t in_offset, mult, shift, out_offset; /* int8 -> int8 */
} kiln_quant_params_t;

void kiln_quantize_f32_s8(const kiln_quant_params_t *p, const float *in, int8_t *out);
void kiln_requantize_s8_s8(const kiln_quant_params_t *p, const int8_t *in, int8_t *out);
void kiln_dequantize_s8_f32(const kiln_quant_params_t *p, const int8_t *in, float *out);
void kiln_requantize_u8_s8(const kiln_quant_params_t *p, const uint8_t *in, int8_t *out);
void kiln_requantize_s8_u8(const kiln_quant_params_t *p, const int8_t *in, uint8_t *out);

/* ---- float32 ------------------------------------------------------------- */

/* Float CONV_2D / DEPTHWISE_CONV_2D: same layouts and padding as the int8
 * versions; bias may be NULL. act_min/act_max: NONE -> [-FLT_MAX, FLT_MAX],
 * RELU -> [0, FLT_MAX], RELU6 -> [0, 6]. */
typedef struct {
    kiln_geometry_t g;            /* kiln/geometry.h */
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
    kiln_geometry_t g;            /* in_c == out_c: the channels; dilation 1 */
    float act_min, act_max;
} kiln_pool_f32_params_t;

void kiln_maxpool_f32(const kiln_pool_f32_params_t *p, const float *in, float *out);
void kiln_avgpool_f32(const kiln_pool_f32_params_t *p, const float *in, float *out);

/* Float ADD and MUL: broadcasting as for kiln_add_s8. */
typedef struct {
    uint32_t out_shape[4];
    uint32_t a_stride[4], b_stride[4];
    float act_min, act_max;
} kiln_binary_f32_params_t;

void kiln_add_f32(const kiln_binary_f32_params_t *p, const float *a,
                  const float *b, float *out);
void kiln_mul_f32(const kiln_binary_f32_params_t *p, const float *a,
                  const float *b, float *out);

/* Float MEAN over the spatial axes (1, 2) of an NHWC tensor, batch 1:
 * out[ch] = (sum over h, w in row-major order) / (h * w). */
typedef struct {
    uint32_t h, w, c;
} kiln_mean_f32_params_t;

void kiln_mean_f32(const kiln_mean_f32_params_t *p, const float *in, float *out);

typedef struct {
    uint32_t rows, depth;
    float beta;
} kiln_softmax_f32_params_t;

void kiln_softmax_f32(const kiln_softmax_f32_params_t *p, const float *in, float *out);

/* exp(x) in single precision without libm (used by kiln_softmax_f32;
 * relative error below 2e-7 over the float range). */
float kiln_expf(float x);

/* ---- hybrid (dynamic-range quantized): float activations, int8 weights --- */

/* TFLite's dynamic-range ("hybrid") layers keep float32 activations and
 * int8 symmetric constant weights. At run time each batch (image) of the
 * float input is quantized to int8 with its own scale, the dot products are
 * done in int32, and the result goes back to float:
 *   out[c] = act(bias[c] + v[c]), in single precision, where
 *   FULLY_CONNECTED:             v = (float)acc * (in_scale * w_scale[c])
 *   conv, per-channel weights:   v = ((float)acc * w_scale[c]) * in_scale
 *   conv, per-tensor weights:    v = (float)acc * (in_scale * w_scale)
 * (TFLite's rounding orders; w_scale[c] is w_scale[0] when per-tensor),
 * and acc = sum w * (q - in_offset) over the taps inside the input
 * (padding contributes real zero). Results are bit-identical to TFLite's
 * interpreter (see docs/runtime.md, "Hybrid layers").
 *
 * Input quantization (kiln_hybrid_quantize_f32), per batch of n floats:
 *   symmetric:  range = max(|min x|, |max x|); range == 0 -> q = 0,
 *               scale 1; else scale = range / 127.0f, q = clamp(
 *               round(x * (127.0f / range)), -127, 127), offset 0.
 *   asymmetric: rmin = min(0, min x), rmax = max(0, max x), all in float;
 *               equal -> q = 0, scale 1, offset 0; else
 *               scale = (rmax - rmin) / 255.0f, the zero point is taken from
 *               whichever end (-128 - rmin/scale or 127 - rmax/scale) has the
 *               smaller error |q end| + |r end / scale|, nudged into
 *               [-128, 127] and rounded; the scale is then stored as float
 *               and q = clamp(round(x * (1.0f / scale)) + offset, -128, 127)
 *               (the offset is added after rounding, as TFLite's reference).
 *   round = half away from zero. FULLY_CONNECTED uses asymmetric when its
 *   options say AsymmetricQuantizeInputs; CONV_2D and DEPTHWISE_CONV_2D use
 *   asymmetric when their weights are per-channel with differing scales
 *   (TFLite's "hybrid per channel" path), symmetric otherwise.
 *
 * scratch: int8 room for one batch of the quantized input (in_n bytes for
 * FULLY_CONNECTED, in_h * in_w * in_c for convolutions), planned in the
 * arena by the generator; it must not overlap the input or the output.
 * bias may be NULL. act_min/act_max as for the float kernels. */
void kiln_hybrid_quantize_f32(const float *in, uint32_t n, uint8_t asymmetric,
                              int8_t *q, float *scale, int32_t *offset);

typedef struct {
    uint32_t batches, in_n, out_n;
    uint8_t asymmetric;           /* quantize inputs with a zero point */
    uint8_t per_channel;          /* w_scale has out_n entries, else 1 */
    float act_min, act_max;
    const float *w_scale;         /* the weights' scale(s) */
} kiln_hybrid_fc_params_t;

void kiln_hybrid_fc(const kiln_hybrid_fc_params_t *p, const float *in,
                    const int8_t *w, const float *bias, int8_t *scratch,
                    float *out);

/* CONV_2D / DEPTHWISE_CONV_2D: geometry, layouts and padding as
 * kiln_conv_f32_params_t (batch 1); the weights are int8. */
typedef struct {
    kiln_geometry_t g;            /* kiln/geometry.h */
    uint16_t depth_mult;
    uint8_t asymmetric;
    uint8_t per_channel;          /* w_scale has out_c entries, else 1 */
    float act_min, act_max;
    const float *w_scale;
} kiln_hybrid_conv_params_t;

void kiln_hybrid_conv2d(const kiln_hybrid_conv_params_t *p, const float *in,
                        const int8_t *w, const float *bias, int8_t *scratch,
                        float *out);
void kiln_hybrid_dwconv2d(const kiln_hybrid_conv_params_t *p, const float *in,
                          const int8_t *w, const float *bias, int8_t *scratch,
                          float *out);

#ifdef __cplusplus
}
#endif

#include "kiln/ops/activation.h"
#include "kiln/ops/elementwise.h"
#include "kiln/ops/movement.h"
#include "kiln/ops/spatial.h"
#include "kiln/ops/int16.h"
#include "kiln/ops/recurrent.h"

#endif /* KILN_KERNELS_H */
