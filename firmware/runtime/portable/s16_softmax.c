/*
 * Kiln portable kernel: int16 SOFTMAX (TFLite's table arithmetic; input
 * and output zero point 0, output scale 1/32768). Recipe: kiln/ops/int16.h.
 */
#include "kiln/kernels.h"
#include "kiln/quant.h"

static int16_t sat_s16(int32_t v)
{
    return (int16_t)kiln_clamp_s32(v, -32768, 32767);
}

/* The exp() of every element is written to `out` first (Q0.15, as the
 * reference keeps it), then rescaled in place by the reciprocal of the sum. */
void kiln_softmax_s16(const kiln_softmax_s16_params_t *p, const int16_t *in, int16_t *out)
{
    uint32_t r, j;

    for (r = 0; r < p->rows; r++) {
        const int16_t *x = in + (size_t)r * p->depth;
        int16_t *y = out + (size_t)r * p->depth;
        int32_t max = -32768;
        int32_t sum = 0;
        int32_t headroom_plus_one, right_shift, shifted, recip;

        for (j = 0; j < p->depth; j++) {
            if (x[j] > max) {
                max = x[j];
            }
        }
        for (j = 0; j < p->depth; j++) {
            /* [-65535, 0] of the scaled difference is [-10, 0]; recentred
             * to the int16 range for the table */
            const int32_t d = kiln_requantize((int32_t)x[j] - max, p->input_multiplier,
                                              p->input_left_shift);
            y[j] = kiln_lut_s16(sat_s16(d + 32767), p->exp_lut);
            sum += y[j];
        }
        /* 1 / sum from the table of 1 / (1 + x), x = sum normalised to
         * [1, 2) minus 1, recentred to the int16 range */
        headroom_plus_one = kiln_clz32((uint32_t)sum);
        shifted = (int32_t)((((int64_t)sum << (headroom_plus_one - 1)) + (1 << 13)) >> 14);
        recip = kiln_lut_s16(sat_s16(shifted - ((1 << 15) + (1 << 16))), p->recip_lut);
        right_shift = 31 - headroom_plus_one;
        for (j = 0; j < p->depth; j++) {
            const int64_t prod = (int64_t)y[j] * recip + ((int64_t)1 << (right_shift - 1));
            y[j] = (int16_t)kiln_clamp_s32((int32_t)(prod >> right_shift), 0, 32767);
        }
    }
}
