/*
 * Kiln portable kernels: int8 SOFTMAX (reference).
 *
 * Per row: d = q - max(q) (<= 0). Where d >= diff_min, d is rescaled to the
 * Q5.26 "scaled diff" beta * in_scale * d and exponentiated in fixed point
 * (kiln_exp_on_negative_q5, Q0.31). The sum of the exponentials is kept in
 * Q12.19; its reciprocal is taken as 2^-n / (1 + x) with x in [0, 1).
 * Each output is exp * reciprocal shifted down to the 1/256 output scale,
 * then offset by -128. Entries below diff_min (exp would round to 0) give
 * -128 and do not enter the sum.
 */
#include "kiln/kernels.h"
#include "kiln/quant.h"

/* beta * in_scale * diff as a Q5.26 value: diff * 2^left_shift times the
 * Q0.31 multiplier. diff_min guarantees the left shift cannot overflow. */
static int32_t scaled_diff(const kiln_softmax_s8_params_t *p, int32_t diff)
{
    return kiln_sat_rdhm((int32_t)((uint32_t)diff << p->input_left_shift),
                         p->input_multiplier);
}

/* in [rows][depth] -> out [rows][depth]. */
void kiln_softmax_s8(const kiln_softmax_s8_params_t *p, const int8_t *in, int8_t *out)
{
    const int32_t accum_int_bits = 12;
    uint32_t r, i;

    for (r = 0; r < p->rows; r++) {
        const int8_t *x = in + (size_t)r * p->depth;
        int8_t *y = out + (size_t)r * p->depth;
        int32_t max = -128;
        int32_t sum = 0; /* Q12.19 */
        int32_t headroom, bits_over_unit, recip;

        for (i = 0; i < p->depth; i++) {
            if (x[i] > max) {
                max = x[i];
            }
        }
        for (i = 0; i < p->depth; i++) {
            const int32_t diff = (int32_t)x[i] - max;
            if (diff >= p->diff_min) {
                sum += kiln_rounding_div_pot(
                    kiln_exp_on_negative_q5(scaled_diff(p, diff)), accum_int_bits);
            }
        }
        /* sum = 2^bits_over_unit * (1 + frac): normalise so that the leading
         * one is dropped and frac lands in Q0.31, then 1 / (1 + frac). The
         * max element contributes exp(0), so sum > 0. */
        headroom = kiln_clz32((uint32_t)sum);
        bits_over_unit = accum_int_bits - headroom;
        recip = kiln_one_over_one_plus_x_q0(
            (int32_t)(((uint32_t)sum << headroom) - 0x80000000u));
        for (i = 0; i < p->depth; i++) {
            const int32_t diff = (int32_t)x[i] - max;
            int32_t v = -128;
            if (diff >= p->diff_min) {
                const int32_t e = kiln_exp_on_negative_q5(scaled_diff(p, diff));
                /* Q0.31 product, then down to 8 fractional bits of the
                 * probability: the output scale is 1/256. */
                v = kiln_rounding_div_pot(kiln_sat_rdhm(recip, e),
                                          bits_over_unit + 31 - 8) - 128;
                v = kiln_clamp_s32(v, -128, 127);
            }
            y[i] = (int8_t)v;
        }
    }
}
