/*
 * Kiln portable kernels: int16 activations (the TFLite "16x8" scheme:
 * int16 activations with zero point 0, int8 symmetric weights, int64 bias)
 * and QUANTIZE / DEQUANTIZE between float32, int8, uint8, int16 and int32
 * (every direction tflite-micro runs that quantize.c does not).
 * Builders: site_scons/kiln/codegen/ops/int16.py; recipes: docs/ops/int16.md.
 *
 * Every int16 tensor has zero point 0 (the 16x8 specification; the
 * generator refuses others where tflite-micro does).
 */
#ifndef KILN_OPS_INT16_H
#define KILN_OPS_INT16_H

#include <stdint.h>
#include "kiln/geometry.h"
#include "kiln/kernels.h"
#include "kiln/ops/movement.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Requantization of a 64-bit accumulator (TFLite's int64 overload of
 * MultiplyByQuantizedMultiplier): the Q31 multiplier is first rounded to
 * its top 16 bits (saturating at 0x7FFF), then one rounding shift:
 *   r = (x * m16 + 2^(14 - shift)) >> (15 - shift), shift in [-31, 14].
 * |x| < 2^47 keeps the product inside int64. */
static inline int32_t kiln_requantize64(int64_t x, int32_t mult, int32_t shift)
{
    const int64_t m16 = mult < 0x7FFF0000 ? (int64_t)((mult + (1 << 15)) >> 16) : 0x7FFF;
    const int32_t total = 15 - shift;

    return (int32_t)((x * m16 + ((int64_t)1 << (total - 1))) >> total);
}

/* ---- QUANTIZE / DEQUANTIZE (kiln_quant_params_t of kiln/kernels.h) -------
 *   float -> intN: q = clamp(round_half_away(x / scale) + zero_point), the
 *                  division in single precision
 *   intN -> float: x = scale * (q - zero_point)
 *   intN -> intM:  q' = clamp(kiln_requantize(q + in_offset, mult, shift)
 *                  + out_offset), (mult, shift) =
 *                  QuantizeMultiplier((double)in_scale / (double)out_scale). */
void kiln_quantize_f32_s16(const kiln_quant_params_t *p, const float *in, int16_t *out);
void kiln_dequantize_u8_f32(const kiln_quant_params_t *p, const uint8_t *in, float *out);
void kiln_dequantize_s16_f32(const kiln_quant_params_t *p, const int16_t *in, float *out);
void kiln_requantize_s8_s16(const kiln_quant_params_t *p, const int8_t *in, int16_t *out);
void kiln_requantize_s16_s8(const kiln_quant_params_t *p, const int16_t *in, int8_t *out);
void kiln_requantize_s16_s16(const kiln_quant_params_t *p, const int16_t *in, int16_t *out);
/* int32 ends (tflite-micro runs int8/int16 <-> int32): the same
 * requantization, the input zero point subtracted modulo 2^32 and the
 * result clamped to the output type. */
void kiln_requantize_s8_s32(const kiln_quant_params_t *p, const int8_t *in, int32_t *out);
void kiln_requantize_s16_s32(const kiln_quant_params_t *p, const int16_t *in, int32_t *out);
void kiln_requantize_s32_s8(const kiln_quant_params_t *p, const int32_t *in, int8_t *out);
void kiln_requantize_s32_s16(const kiln_quant_params_t *p, const int32_t *in, int16_t *out);

/* ---- CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED (16x8) -----------------
 * acc = sum(q_in * q_w) (+ bias) then requantized per output channel:
 *   bias64 != 0 (int64 bias, or none): the int64 accumulator and
 *                                      kiln_requantize64, as tflite-micro
 *   bias64 == 0 (int32 bias, FULLY_CONNECTED only): tflite-micro's int32
 *                                      accumulator and kiln_requantize
 *                                      (CONV_2D / DEPTHWISE with an int32
 *                                      bias are refused: not verified)
 * mult/shift = QuantizeMultiplier((double)in_scale * (double)w_scale[c] /
 * (double)out_scale) (FULLY_CONNECTED per tensor: one entry, per_channel 0).
 * act_min/act_max: the fused activation in the int16 output domain. */
typedef struct {
    kiln_geometry_t g;            /* kiln/geometry.h */
    uint16_t depth_mult;
    uint8_t bias64;
    int32_t act_min, act_max;
    const int32_t *mult;
    const int32_t *shift;
} kiln_conv_s16_params_t;

void kiln_conv2d_s16(const kiln_conv_s16_params_t *p, const int16_t *in,
                     const int8_t *w, const void *bias, int16_t *out);
void kiln_dwconv2d_s16(const kiln_conv_s16_params_t *p, const int16_t *in,
                       const int8_t *w, const void *bias, int16_t *out);

typedef struct {
    uint32_t batches, in_n, out_n;
    uint8_t bias64, per_channel;
    int32_t act_min, act_max;
    const int32_t *mult;
    const int32_t *shift;
} kiln_fc_s16_params_t;

void kiln_fc_s16(const kiln_fc_s16_params_t *p, const int16_t *in,
                 const int8_t *w, const void *bias, int16_t *out);

/* TRANSPOSE_CONV 16x8: kiln_transpose_conv_s8_params_t's geometry and
 * padding (kiln/ops/spatial.h); acc = sum q_in * w in int64 (+ int64 bias),
 * out = clamp(kiln_requantize64(acc, mult[oc], shift[oc]), act_min, act_max),
 * the multipliers as for CONV_2D. */
typedef struct {
    kiln_geometry_t g;
    int32_t act_min, act_max;
    const int32_t *mult, *shift;    /* out_c each */
} kiln_transpose_conv_s16_params_t;

void kiln_transpose_conv_s16(const kiln_transpose_conv_s16_params_t *p, const int16_t *in,
                             const int8_t *w, const int64_t *bias, int16_t *out);

/* ---- ADD / SUB / MUL (broadcast as kiln_binary_s8_params_t) ----------------
 * ADD, SUB: kiln_binary_s8_params_t's recipe with left_shift = 15 (TFLite's
 * int16 headroom); SUB subtracts the rescaled second input.
 * MUL: kiln_requantize(qa * qb, out_mult, out_shift), both zero points 0.
 * The struct is kiln_binary_s8_params_t; only the element type differs. */
void kiln_add_s16(const kiln_binary_s8_params_t *p, const int16_t *a,
                  const int16_t *b, int16_t *out);
void kiln_sub_s16(const kiln_binary_s8_params_t *p, const int16_t *a,
                  const int16_t *b, int16_t *out);
void kiln_mul_s16(const kiln_binary_s8_params_t *p, const int16_t *a,
                  const int16_t *b, int16_t *out);
/* SQUARED_DIFFERENCE: ADD's input recipe with left_shift = 0 (tflite-micro:
 * the values are 16-bit already), the difference squared and requantized by
 * (out_mult, out_shift) = QM(twice_max^2 / out_scale). */
void kiln_squared_difference_s16(const kiln_binary_s8_params_t *p, const int16_t *a,
                                 const int16_t *b, int16_t *out);
/* MAXIMUM, MINIMUM: the larger / smaller raw value (every tensor shares one
 * quantization, as tflite-micro assumes); multipliers unused, act_min/act_max
 * the int16 range. */
void kiln_maximum_s16(const kiln_binary_s8_params_t *p, const int16_t *a,
                      const int16_t *b, int16_t *out);
void kiln_minimum_s16(const kiln_binary_s8_params_t *p, const int16_t *a,
                      const int16_t *b, int16_t *out);

/* ---- SOFTMAX (int16 input and output, output scale 1/32768) --------------
 * Row by row: d = kiln_requantize(q - max, input_multiplier,
 * input_left_shift) + 32767 saturated to int16 (the input difference mapped
 * so that [-65535, 0] is [-10, 0]), e = lut(d, exp_lut); s = sum(e);
 * the reciprocal of s from one_over_one_plus_x_lut; out = e * recip
 * rescaled (see s16_softmax.c). The two 513-entry tables are TFLite's
 * gen_lut of exp on [-10, 0] and 1 / (1 + x) on [0, 1], outputs in Q0.15,
 * computed at build time in single precision (kiln.quantmath). */
typedef struct {
    uint32_t rows, depth;
    int32_t input_multiplier, input_left_shift;
    const int16_t *exp_lut;       /* 513 entries */
    const int16_t *recip_lut;     /* 513 entries */
} kiln_softmax_s16_params_t;

void kiln_softmax_s16(const kiln_softmax_s16_params_t *p, const int16_t *in, int16_t *out);

/* Interpolated lookup in a 513-entry table over the int16 range (TFLite's
 * lut_lookup_with_interpolation): base lut[256 + (v >> 7)] plus the slope
 * times the low 7 bits, rounded. */
static inline int16_t kiln_lut_s16(int16_t v, const int16_t *lut)
{
    const uint32_t index = (uint32_t)(256 + (v >> 7));
    const int32_t offset = v & 0x7f;
    const int32_t base = lut[index];
    const int32_t slope = (int32_t)lut[index + 1] - base;

    return (int16_t)(base + ((slope * offset + 64) >> 7));
}

/* ---- LOGISTIC / TANH (input zero point 0, output scale 1/32768) ----------
 * The input is brought to units of 1/(3 * 4096):
 *   v = (q * input_multiplier + round) >> input_left_shift
 * (input_multiplier == 0: a power-of-two input scale, multiplier 3 <<
 * input_left_shift, shift 0), then sigmoid(|v| / 24 / 512) (LOGISTIC) or
 * tanh (from sigmoid(2x)) is interpolated in a 256-entry table of
 * round(65536 * sigmoid(i / 24)) (kiln_sigmoid_table_u16, s16_sigmoid.c). */
typedef struct {
    uint32_t n;
    int32_t input_multiplier, input_left_shift;
} kiln_act_sigmoid_s16_params_t;

void kiln_logistic_s16(const kiln_act_sigmoid_s16_params_t *p, const int16_t *in, int16_t *out);
void kiln_tanh_s16(const kiln_act_sigmoid_s16_params_t *p, const int16_t *in, int16_t *out);

/* ---- RELU, RELU6, LEAKY_RELU (structs of kiln/ops/activation.h) ----------
 * RELU: kiln_act_relu_s8_params_t's recipe with int16 bounds; RELU6:
 * kiln_act_clamp_s8_params_t's; LEAKY_RELU: kiln_act_leaky_s8_params_t's,
 * clamped to int16. */
void kiln_relu_s16(const kiln_act_relu_s8_params_t *p, const int16_t *in, int16_t *out);
void kiln_clamp_s16(const kiln_act_clamp_s8_params_t *p, const int16_t *in, int16_t *out);
void kiln_leaky_relu_s16(const kiln_act_leaky_s8_params_t *p, const int16_t *in, int16_t *out);
/* ABS: kiln_ew_unary_s8_params_t (kiln/ops/elementwise.h): |q - in_zp|,
 * requantized by QM(in_scale / out_scale) when the scales differ, + out_zp. */
void kiln_abs_s16(const kiln_ew_unary_s8_params_t *p, const int16_t *in, int16_t *out);
/* RSQRT: kiln_rsqrt_s8's recipe (kiln/ops/elementwise.h) on int16 values,
 * 32767 for inputs at or below the zero point. */
void kiln_rsqrt_s16(const kiln_ew_unary_s8_params_t *p, const int16_t *in, int16_t *out);

/* ---- MAX_POOL_2D / AVERAGE_POOL_2D (kiln_pool_params_t) -------------------
 * As the int8 kernels: max over the window's taps inside the input, or
 * their sum divided by their count rounding half away from zero; clamped
 * to act_min/act_max (int16 domain). */
void kiln_maxpool_s16(const kiln_pool_params_t *p, const int16_t *in, int16_t *out);
void kiln_avgpool_s16(const kiln_pool_params_t *p, const int16_t *in, int16_t *out);

/* ---- data movement and reductions ----------------------------------------
 * RESIZE_NEAREST_NEIGHBOR: kiln_resize_nearest (kiln/ops/spatial.h) with
 * elem_bytes = 2. TRANSPOSE, SLICE, STRIDED_SLICE, REVERSE_V2, BROADCAST_TO,
 * SPLIT, SPLIT_V, UNPACK: kiln_strided_copy (kiln/ops/movement.h) with elem_bytes = 2;
 * CONCATENATION, PACK: kiln_concat with elem_bytes = 2 (every input shares
 * the output's parameters, as tflite-micro requires).
 * PAD: kiln_pad (kiln/kernels.h) with elem_bytes = 2, pad_value the output zero point.
 * MEAN, SUM: kiln_reduce_params_t (kiln/ops/movement.h) with the int8
 * recipe: (m, s) = QM((double)in_scale / (double)out_scale), for MEAN with
 * 1/count folded in (k = min(floor(log2(count)), 32, 31 + s),
 * mult = (m << k) / count, shift = s - k); count * 32768 < 2^31. */
void kiln_reduce_s16(const kiln_reduce_params_t *p, const int16_t *in, int16_t *out);

#ifdef __cplusplus
}
#endif

#endif /* KILN_OPS_INT16_H */
