/*
 * Kiln runtime: elementwise operators (binary arithmetic, unary math,
 * comparisons, logical operators, SELECT_V2).
 *
 * Binary and ternary kernels broadcast NumPy-style over up to
 * KILN_EW_RANK dimensions: the generator right-aligns every shape into
 * KILN_EW_RANK dimensions (leading 1s) and gives, per input and per output
 * dimension, the input's element stride (0 where that input has size 1 and
 * the output does not: the broadcast dimensions). The output is written in
 * row-major order. bool tensors are one byte each, 0 or 1 (uint8_t).
 *
 * "QuantizeMultiplier(r)" is TFLite's decomposition described in
 * kiln/kernels.h; all real multipliers are computed in double from the
 * float32 scales of the .tflite, in the order written (kiln.quantmath).
 */
#ifndef KILN_OPS_ELEMENTWISE_H
#define KILN_OPS_ELEMENTWISE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define KILN_EW_RANK 6

/* The broadcast walk: shape = the output shape right-aligned into
 * KILN_EW_RANK dims; stride[k][d] = element stride of input k (k = 0, 1, 2
 * in the operator's input order; unused inputs all 0) along output
 * dimension d, 0 where input k is broadcast along d. */
typedef struct {
    uint32_t shape[KILN_EW_RANK];
    uint32_t stride[3][KILN_EW_RANK];
} kiln_ew_bcast_t;

/* Odometer over the rows (all dimensions but the last) of the output:
 * off[k] is the element offset of input k at the start of the current row. */
typedef struct {
    uint32_t idx[KILN_EW_RANK - 1];
    size_t off[3];
} kiln_ew_iter_t;

/* Number of output rows (product of all dimensions but the last). */
static inline size_t kiln_ew_rows(const kiln_ew_bcast_t *bc)
{
    size_t n = 1;
    int d;

    for (d = 0; d < KILN_EW_RANK - 1; d++) {
        n *= bc->shape[d];
    }
    return n;
}

static inline void kiln_ew_iter_init(kiln_ew_iter_t *it)
{
    int d;

    for (d = 0; d < KILN_EW_RANK - 1; d++) {
        it->idx[d] = 0;
    }
    it->off[0] = it->off[1] = it->off[2] = 0;
}

/* Advances to the next row; offsets wrap back (unsigned arithmetic is
 * modular, so the subtraction is exact) when a dimension rolls over. */
static inline void kiln_ew_iter_next(const kiln_ew_bcast_t *bc, kiln_ew_iter_t *it)
{
    int d, k;

    for (d = KILN_EW_RANK - 2; d >= 0; d--) {
        it->idx[d]++;
        for (k = 0; k < 3; k++) {
            it->off[k] += bc->stride[k][d];
        }
        if (it->idx[d] < bc->shape[d]) {
            return;
        }
        for (k = 0; k < 3; k++) {
            it->off[k] -= (size_t)bc->stride[k][d] * bc->shape[d];
        }
        it->idx[d] = 0;
    }
}

/* ---- binary arithmetic, int8 ----------------------------------------------
 * SUB (as tflite-micro's int8 SUB, the arithmetic of ADD):
 *   left_shift = 20; twice_max = 2 * (double)max(a_scale, b_scale)
 *   (a_mult, a_shift) = QuantizeMultiplier((double)a_scale / twice_max)
 *   (b_mult, b_shift) = QuantizeMultiplier((double)b_scale / twice_max)
 *   (out_mult, out_shift) = QuantizeMultiplier(twice_max / ((1 << 20) * (double)out_scale))
 *   out = clamp(rq(rq((qa - zp_a) << 20, a) - rq((qb - zp_b) << 20, b), out) + zp_out)
 *   with rq = kiln_requantize; every shift <= 0 (the generator refuses others).
 * SQUARED_DIFFERENCE: left_shift = 7; a_*, b_* as for SUB;
 *   (out_mult, out_shift) = QuantizeMultiplier(twice_max * twice_max /
 *                                              ((1 << 14) * (double)out_scale))
 *   d = rq((qa - zp_a) << 7, a) - rq((qb - zp_b) << 7, b)
 *   out = clamp(rq(d * d, out) + zp_out)
 * MAXIMUM, MINIMUM: the raw int8 values are compared (tflite-micro does not
 *   rescale; the converter gives both inputs and the output one scale and
 *   zero point, and the generator requires it). Only `bc` is used.
 * DIV: left_shift, a_*, b_* unused (0); (out_mult, out_shift) =
 *   QuantizeMultiplier((double)(a_scale / (b_scale * out_scale))), the
 *   expression in float as tflite-micro computes it; out_shift <= 22 (the
 *   generator refuses others). The divisor's fixed-point reciprocal and the
 *   shifts: elementwise_binary_s8.c, div_one().
 * act_min/act_max: the fused activation (kiln/kernels.h, CONV_2D). */
typedef struct {
    kiln_ew_bcast_t bc;
    int32_t a_offset, b_offset, out_offset;   /* -zp_a, -zp_b, +zp_out */
    int32_t left_shift;
    int32_t a_mult, a_shift, b_mult, b_shift;
    int32_t out_mult, out_shift;
    int32_t act_min, act_max;
} kiln_ew_binary_s8_params_t;

void kiln_sub_s8(const kiln_ew_binary_s8_params_t *p, const int8_t *a, const int8_t *b, int8_t *out);
void kiln_squared_difference_s8(const kiln_ew_binary_s8_params_t *p, const int8_t *a,
                                const int8_t *b, int8_t *out);
void kiln_maximum_s8(const kiln_ew_binary_s8_params_t *p, const int8_t *a, const int8_t *b,
                     int8_t *out);
void kiln_minimum_s8(const kiln_ew_binary_s8_params_t *p, const int8_t *a, const int8_t *b,
                     int8_t *out);
void kiln_div_s8(const kiln_ew_binary_s8_params_t *p, const int8_t *a, const int8_t *b, int8_t *out);

/* ---- binary arithmetic, float32 ---------------------------------------------
 * SUB a - b, SQUARED_DIFFERENCE (a - b)^2, MAXIMUM, MINIMUM, DIV a / b, in
 * single precision, then clamped to [act_min, act_max] (the fused activation:
 * NONE -> [-FLT_MAX, FLT_MAX], RELU -> [0, FLT_MAX], RELU6 -> [0, 6],
 * RELU_N1_TO_1 -> [-1, 1]; operators without one use NONE). */
typedef struct {
    kiln_ew_bcast_t bc;
    float act_min, act_max;
} kiln_ew_binary_f32_params_t;

void kiln_sub_f32(const kiln_ew_binary_f32_params_t *p, const float *a, const float *b, float *out);
void kiln_squared_difference_f32(const kiln_ew_binary_f32_params_t *p, const float *a,
                                 const float *b, float *out);
void kiln_maximum_f32(const kiln_ew_binary_f32_params_t *p, const float *a, const float *b,
                      float *out);
void kiln_minimum_f32(const kiln_ew_binary_f32_params_t *p, const float *a, const float *b,
                      float *out);
void kiln_div_f32(const kiln_ew_binary_f32_params_t *p, const float *a, const float *b, float *out);

/* ---- unary, float32 ------------------------------------------------------------
 * n: the number of elements. ABS, NEG, SQUARE (x * x), SQRT, RSQRT (1 / sqrt),
 * EXP (kiln_expf), LOG, FLOOR, ROUND (halves to even, as TFLite's ROUND). SQRT
 * and LOG are computed without libm (elementwise_unary_f32.c), within a few
 * units in the last place. */
typedef struct {
    uint32_t n;
} kiln_ew_unary_f32_params_t;

void kiln_abs_f32(const kiln_ew_unary_f32_params_t *p, const float *in, float *out);
void kiln_neg_f32(const kiln_ew_unary_f32_params_t *p, const float *in, float *out);
void kiln_square_f32(const kiln_ew_unary_f32_params_t *p, const float *in, float *out);
void kiln_sqrt_f32(const kiln_ew_unary_f32_params_t *p, const float *in, float *out);
void kiln_rsqrt_f32(const kiln_ew_unary_f32_params_t *p, const float *in, float *out);
void kiln_exp_f32(const kiln_ew_unary_f32_params_t *p, const float *in, float *out);
void kiln_log_f32(const kiln_ew_unary_f32_params_t *p, const float *in, float *out);
void kiln_floor_f32(const kiln_ew_unary_f32_params_t *p, const float *in, float *out);
void kiln_round_f32(const kiln_ew_unary_f32_params_t *p, const float *in, float *out);

/* ---- unary, int8 -------------------------------------------------------------------
 * ABS (tflite-micro's quantized ABS): v = |q - zp_in|;
 *   rescale == 0 (input and output scales equal): out = clamp(v + zp_out)
 *   else out = clamp(kiln_requantize(v, mult, shift) + zp_out), with
 *   (mult, shift) = QuantizeMultiplier((double)in_scale / (double)out_scale).
 * RSQRT (tflite-micro's quantized RSQRT): (mult, shift) =
 *   QuantizeMultiplier(1 / (sqrt((double)in_scale) * (double)out_scale)),
 *   shift >= -11 (the generator refuses others); rescale unused. The
 *   fixed-point inverse square root: elementwise_unary_s8.c. */
typedef struct {
    uint32_t n;
    int32_t in_zp, out_zp;
    int32_t mult, shift;
    uint8_t rescale;
} kiln_ew_unary_s8_params_t;

void kiln_abs_s8(const kiln_ew_unary_s8_params_t *p, const int8_t *in, int8_t *out);
void kiln_rsqrt_s8(const kiln_ew_unary_s8_params_t *p, const int8_t *in, int8_t *out);

/* ---- comparisons -> bool ---------------------------------------------------------
 * op: KILN_CMP_* below. float32 and int32 compare the values. int8
 * (tflite-micro's quantized comparisons) compares both sides rescaled:
 *   left_shift = 8; (a_mult, a_shift) = QuantizeMultiplier((double)a_scale),
 *   (b_mult, b_shift) = QuantizeMultiplier((double)b_scale) (scales below 1,
 *   so the shifts are <= 0; the generator refuses others);
 *   va = kiln_requantize((qa - zp_a) << 8, a_mult, a_shift), vb likewise. */
enum { KILN_CMP_EQ, KILN_CMP_NE, KILN_CMP_LT, KILN_CMP_LE, KILN_CMP_GT, KILN_CMP_GE };

typedef struct {
    kiln_ew_bcast_t bc;
    uint8_t op;
    int32_t a_offset, b_offset;               /* int8: -zp_a, -zp_b */
    int32_t left_shift;                       /* int8 only */
    int32_t a_mult, a_shift, b_mult, b_shift; /* int8 only */
} kiln_compare_params_t;

void kiln_compare_s8(const kiln_compare_params_t *p, const int8_t *a, const int8_t *b, uint8_t *out);
void kiln_compare_f32(const kiln_compare_params_t *p, const float *a, const float *b, uint8_t *out);
void kiln_compare_s32(const kiln_compare_params_t *p, const int32_t *a, const int32_t *b,
                      uint8_t *out);

/* ---- logical (bool) -----------------------------------------------------------------
 * LOGICAL_AND, LOGICAL_OR: broadcasting; `n` unused. LOGICAL_NOT: `n`
 * elements, `bc` unused. Inputs are 0 or 1; outputs are 0 or 1. */
typedef struct {
    kiln_ew_bcast_t bc;
    uint32_t n;
} kiln_logical_params_t;

void kiln_logical_and(const kiln_logical_params_t *p, const uint8_t *a, const uint8_t *b,
                      uint8_t *out);
void kiln_logical_or(const kiln_logical_params_t *p, const uint8_t *a, const uint8_t *b,
                     uint8_t *out);
void kiln_logical_not(const kiln_logical_params_t *p, const uint8_t *in, uint8_t *out);

/* ---- SELECT_V2 --------------------------------------------------------------------------
 * out = cond ? x : y, the three inputs broadcast (stride[0]: cond, [1]: x,
 * [2]: y). elem_bytes: the size of an x/y/out element (1 for int8, 4 for
 * float32); values are copied unchanged (int8: x, y and the output
 * share one scale and zero point, which the generator requires). tflite-micro
 * selects no int32 values, so neither does Kiln. */
typedef struct {
    kiln_ew_bcast_t bc;
    uint8_t elem_bytes;
} kiln_select_params_t;

void kiln_select_v2(const kiln_select_params_t *p, const uint8_t *cond, const void *x,
                    const void *y, void *out);

#ifdef __cplusplus
}
#endif

#endif /* KILN_OPS_ELEMENTWISE_H */
