/*
 * Kiln runtime: spatial operators (RESIZE_NEAREST_NEIGHBOR, RESIZE_BILINEAR,
 * TRANSPOSE_CONV), NHWC, the last-axis normalizations L2_NORMALIZATION
 * and LOG_SOFTMAX, and the matrix product BATCH_MATMUL.
 *
 * The generator (site_scons/kiln/codegen/ops/spatial.py) precomputes the
 * source coordinates of every output row and column as tflite-micro's
 * reference kernels compute them, in the same float32 or integer arithmetic,
 * so the kernels only gather. docs/ops/spatial.md describes the recipes.
 */
#ifndef KILN_OPS_SPATIAL_H
#define KILN_OPS_SPATIAL_H

#include <stdint.h>

#include "kiln/geometry.h"

#ifdef __cplusplus
extern "C" {
#endif

/* RESIZE_NEAREST_NEIGHBOR, any element size (int8: the values are copied,
 * the output keeps the input's quantization as in tflite-micro):
 *   out[b][y][x][:] = in[b][ys[y]][xs[x]][:]
 * with, for each output coordinate v of a dimension (in -> out), in float32:
 *   scale = align_corners && out > 1 ? (float)(in - 1) / (out - 1)
 *                                    : (float)in / out
 *   s = ((float)v + (half_pixel_centers ? 0.5f : 0)) * scale
 *   src = min(align_corners ? round_half_away(s) : floor(s), in - 1),
 *   then max(src, 0) when half_pixel_centers. */
typedef struct {
    uint32_t batches, in_h, in_w, out_h, out_w, c;
    uint32_t elem_bytes;          /* 1 for int8, 4 for float32 */
    const uint16_t *ys, *xs;      /* out_h and out_w source rows / columns */
} kiln_resize_nearest_params_t;

void kiln_resize_nearest(const kiln_resize_nearest_params_t *p, const void *in, void *out);

/* RESIZE_BILINEAR. Per output row y (and likewise per column x, with
 * in_w/out_w), the generator stores the two source rows lo[y] <= hi[y] and
 * the position between them:
 *   int8 (tflite-micro's integer kernel; no requantization, the output keeps
 *   the input's parameters): scale_10 = (1024 * in + out / 2) / out, or with
 *   align_corners and out > 1: (1024 * (in - 1) + (out - 1) / 2) / (out - 1)
 *   (integer divisions); s = half_pixel_centers ? y * scale_10 + scale_10 / 2
 *   - 512 : y * scale_10; lo = max(s / 1024, 0) (C division);
 *   hi = min((s + 1023) / 1024, in - 1); pos[y] = s - 1024 * lo.
 *   out = (sum of the four products in[.] * wy * wx (int64, weights
 *   1024 - pos and pos) + (sum > 0 ? 2^19 : -2^19)) / 2^20 (C division).
 *   float32: scale = (float)in / out (align_corners: (float)(in - 1) /
 *   (out - 1)); s = half_pixel_centers ? ((float)y + 0.5f) * scale - 0.5f :
 *   (float)y * scale; lo = max((int)floor(s), 0); hi = min((int)ceil(s),
 *   in - 1); fpos[y] = s - (float)lo. out = in[lo][lo] * (1 - dy) * (1 - dx)
 *   + in[hi][lo] * dy * (1 - dx) + in[lo][hi] * (1 - dy) * dx
 *   + in[hi][hi] * dy * dx, summed left to right as the reference. */
typedef struct {
    uint32_t batches, in_h, in_w, out_h, out_w, c;
    const uint16_t *y_lo, *y_hi, *x_lo, *x_hi;
    const int32_t *y_pos, *x_pos;   /* int8 kernel */
    const float *y_fpos, *x_fpos;   /* float kernel */
} kiln_resize_bilinear_params_t;

void kiln_resize_bilinear_s8(const kiln_resize_bilinear_params_t *p, const int8_t *in, int8_t *out);
void kiln_resize_bilinear_f32(const kiln_resize_bilinear_params_t *p, const float *in, float *out);

/* TRANSPOSE_CONV (inputs: output shape, weights [out_c][k_h][k_w][in_c],
 * data, optional bias), batch 1. g holds the data input's and the output's
 * dims, the kernel size and strides (dilation 1); the padding is
 * tflite-micro's: the SAME/VALID padding of a convolution whose INPUT has
 * the output's size, pad = max(0, (n - 1) * stride + k - out) / 2 with
 * n = SAME ? ceil(out / stride) : (out - k + stride) / stride.
 * Each output is a gather of the input taps that the reference's scatter
 * sends to it, in the reference's order (input row, column, channel):
 *   acc = sum (q_in - zp_in) * w   (+ bias[oc])
 *   int8:  out = clamp(requantize(acc, mult[oc], shift[oc]) + zp_out,
 *          act_min, act_max), the multipliers as for CONV_2D
 *          (QM((double)in_scale * (double)w_scale[oc] / (double)out_scale)),
 *          act_min/act_max the fused activation's range;
 *   float: out = clamp(acc + bias[oc], act_min, act_max). */
typedef struct {
    kiln_geometry_t g;
    int32_t in_offset, out_offset;  /* -zp_in, zp_out */
    int32_t act_min, act_max;
    const int32_t *mult, *shift;    /* out_c each */
} kiln_transpose_conv_s8_params_t;

typedef struct {
    kiln_geometry_t g;
    float act_min, act_max;
} kiln_transpose_conv_f32_params_t;

void kiln_transpose_conv_s8(const kiln_transpose_conv_s8_params_t *p, const int8_t *in,
                            const int8_t *w, const int32_t *bias, int8_t *out);
void kiln_transpose_conv_f32(const kiln_transpose_conv_f32_params_t *p, const float *in,
                             const float *w, const float *bias, float *out);

/* L2_NORMALIZATION over the last axis (rows * depth values).
 *   int8 (output scale 1/128, zero point 0, as the converter produces):
 *   x = q - in_zp; acc = sum x^2 (int32); (m, s) = the fixed-point inverse
 *   square root of acc (3 integer bits, five Newton-Raphson steps, times
 *   sqrt(2)/2, as tflite-micro's GetInvSqrtQuantizedMultiplierExp; acc <= 1
 *   gives m = 2^31 - 1, s = 0); out = clamp(requantize(x, m, 7 - s)).
 *   float: out = x / max(sqrt(sum x^2), 1e-6) (the sum in order; sqrt is
 *   Kiln's own, no libm). in_zp is unused by the float kernel. */
typedef struct {
    uint32_t rows, depth;
    int32_t in_zp;
} kiln_l2norm_params_t;

void kiln_l2norm_s8(const kiln_l2norm_params_t *p, const int8_t *in, int8_t *out);
void kiln_l2norm_f32(const kiln_l2norm_params_t *p, const float *in, float *out);

/* LOG_SOFTMAX over the last axis, float32: out = x - max - log(sum exp(x - max))
 * per row (kiln_expf and Kiln's own log, no libm). */
typedef struct {
    uint32_t rows, depth;
} kiln_log_softmax_f32_params_t;

void kiln_log_softmax_f32(const kiln_log_softmax_f32_params_t *p, const float *in, float *out);

/* LOG_SOFTMAX, int8 (output scale 16/256, zero point 127, as the converter
 * produces), tflite-micro's fixed point. With in_scale the input scale:
 *   (input_multiplier, input_left_shift) = QM(min((double)in_scale * 2^26,
 *                                              2^31 - 1))   (shift >= 0)
 *   diff_min = -floor(31 * 2^26 / 2^input_left_shift)
 *   (reverse_multiplier, reverse_shift) =
 *       QM(2^(31 - input_left_shift) / (double)input_multiplier)  (shift <= 0)
 * Per row: d = q - max; the exps of d >= diff_min (d as Q5.26) are summed
 * in Q12.19; log of the sum in Q5.26; outputs with d above
 * max(diff_min - 1, requantize(log_sum + INT32_MIN, reverse_multiplier,
 * reverse_shift)) are round((d5 - log_sum) / 2^22) + 127 clamped, the
 * rest -128. */
typedef struct {
    uint32_t rows, depth;
    int32_t input_multiplier, input_left_shift;
    int32_t reverse_multiplier, reverse_shift;
    int32_t diff_min;
} kiln_log_softmax_s8_params_t;

void kiln_log_softmax_s8(const kiln_log_softmax_s8_params_t *p, const int8_t *in, int8_t *out);

/* L2_POOL_2D, float32 only (tflite-micro registers no other dtype), batch 1;
 * g as for AVERAGE_POOL_2D (TFLite's SAME/VALID padding). Per output pixel
 * and channel, over the window clipped to the input (rows, then columns):
 *   out = clamp(sqrt(sum x^2 / taps), act_min, act_max)
 * with Kiln's own sqrt (no libm). */
typedef struct {
    kiln_geometry_t g;
    float act_min, act_max;
} kiln_l2pool_f32_params_t;

void kiln_l2pool_f32(const kiln_l2pool_f32_params_t *p, const float *in, float *out);

/* BATCH_MATMUL: out[b0][b1][i][j] = sum_k L[i][k] * R[k][j] over depth k
 * (k ascending, as the reference), the matrices of batch (b0, b1) at
 *   L[i][k] = lhs[b0 * lhs_bstride[0] + b1 * lhs_bstride[1] + i * l_row + k * l_k]
 *   R[k][j] = rhs[b0 * rhs_bstride[0] + b1 * rhs_bstride[1] + k * r_k + j * r_col]
 * Inputs are right-aligned to rank 4 (tflite-micro takes ranks 2 to 4);
 * a batch dimension of size 1 broadcasts (stride 0). adj_x swaps l_row and
 * l_k (the stored LHS is [.., depth, rows]), adj_y swaps r_k and r_col. The
 * output is written contiguously, [batch[0]][batch[1]][rows][cols].
 *   int8: (mult, shift) = QuantizeMultiplier((double)lhs_scale *
 *   (double)rhs_scale / (double)out_scale), as FULLY_CONNECTED's;
 *   acc = sum (L + lhs_offset) * (R + rhs_offset) (offsets -zp, int32);
 *   out = clamp(kiln_requantize(acc, mult, shift) + out_offset, act_min, act_max)
 *   (-128, 127: BATCH_MATMUL has no fused activation).
 *   float32: acc = 0.0f; acc += L * R in k order; out = acc, clamped to
 *   [fact_min, fact_max] only when has_act (BATCH_MATMUL's reference does not
 *   clamp, so an infinity stays one).
 * FULLY_CONNECTED with runtime (non-constant) weights and no bias runs here
 * too: input [batches][depth] (rows = batches), weights [cols][depth]
 * (adj_y), no batch dimensions; its multiplier is the same and its fused
 * activation gives act_min/act_max (fact_min/fact_max, has_act = 1). */
typedef struct {
    uint32_t batch[2], rows, cols, depth;
    uint32_t lhs_bstride[2], rhs_bstride[2];
    uint32_t l_row, l_k, r_k, r_col;
    int32_t lhs_offset, rhs_offset, out_offset;   /* int8 only */
    int32_t mult, shift;                          /* int8 only */
    int32_t act_min, act_max;                     /* int8 only */
    float fact_min, fact_max;                     /* float32, when has_act */
    uint8_t has_act;
} kiln_batch_matmul_params_t;

void kiln_batch_matmul_s8(const kiln_batch_matmul_params_t *p, const int8_t *lhs,
                          const int8_t *rhs, int8_t *out);
void kiln_batch_matmul_f32(const kiln_batch_matmul_params_t *p, const float *lhs,
                           const float *rhs, float *out);

#ifdef __cplusplus
}
#endif

#endif /* KILN_OPS_SPATIAL_H */
