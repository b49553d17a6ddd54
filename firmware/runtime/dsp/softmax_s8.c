/*
 * Kiln DSP kernel: int8 SOFTMAX with a table of exponentials
 * (kiln/dsp.h).
 *
 * The portable kernel (portable/softmax_s8.c) evaluates exp(beta * scale *
 * d) twice per element with a fixed-point series, d = q - max(q) in
 * [-255, 0]. Here the build evaluates it once per possible d (exp_q0[-d],
 * 0 below diff_min: site_scons/kiln/fixedpoint.py) and the kernel keeps the
 * rest of the portable arithmetic (the Q12.19 sum, one reciprocal per row,
 * the rounding to the 1/256 output scale), so the bits are the same.
 */
#include "dsp_rq.h"
#include "kiln/quant.h"

void kiln_dsp_softmax_s8(const kiln_dsp_softmax_params_t *p, const int8_t *in, int8_t *out)
{
    const int32_t accum_int_bits = 12;
    uint32_t r, i;

    for (r = 0; r < p->rows; r++) {
        const int8_t *x = in + r * p->depth;
        int8_t *y = out + r * p->depth;
        const int32_t *e;
        int32_t max = -128, sum = 0, headroom, shift, recip;

        for (i = 0; i < p->depth; i++) {
            max = x[i] > max ? x[i] : max;
        }
        e = p->exp_q0 + max;   /* e[-x] = exp_q0[max - x] */
        for (i = 0; i < p->depth; i++) {
            sum += kiln_rounding_div_pot(e[-x[i]], accum_int_bits);
        }
        /* sum > 0: the max element contributes exp(0) */
        headroom = kiln_clz32((uint32_t)sum);
        shift = accum_int_bits - headroom + 31 - 8;
        recip = kiln_one_over_one_plus_x_q0((int32_t)(((uint32_t)sum << headroom) - 0x80000000u));
        for (i = 0; i < p->depth; i++) {
            /* an entry below diff_min holds 0 and gives -128, as in the portable kernel */
            const int32_t v = kiln_rounding_div_pot(kiln_sat_rdhm(recip, e[-x[i]]), shift) - 128;
            y[i] = (int8_t)kiln_clamp_s32(v, -128, 127);
        }
    }
}
