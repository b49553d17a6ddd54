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

/* Every value here is non-negative: the exponentials (Q0.31, at most 2^31 - 1)
 * and the reciprocal (in (0, 2^31)). The portable helpers then simplify
 * without changing a bit:
 *   kiln_rounding_div_pot(x, s), x >= 0, s >= 1:  (x + 2^(s-1)) >> s, taken
 *     unsigned (no overflow below 2^32);
 *   kiln_sat_rdhm(a, b), a, b >= 0:  (a * b + 2^30) >> 31 (no saturation: that
 *     needs a = b = INT32_MIN). */
static inline uint32_t round_shift(uint32_t x, uint32_t s)
{
    return (x + (1u << (s - 1u))) >> s;
}

static inline uint32_t rdhm_pos(int32_t a, int32_t b)
{
    return (uint32_t)(((int64_t)a * b + (1ll << 30)) >> 31);
}

void kiln_dsp_softmax_s8(const kiln_dsp_softmax_params_t *p, const int8_t *in, int8_t *out)
{
    const uint32_t accum_int_bits = 12, depth = p->depth;
    uint32_t r, i;

    for (r = 0; r < p->rows; r++) {
        const int8_t *x = in + r * depth;
        int8_t *y = out + r * depth;
        const int32_t *e;
        int32_t max = -128, recip;
        uint32_t sum = 0, headroom, shift;

        for (i = 0; i < depth; i++) {
            max = x[i] > max ? x[i] : max;
        }
        e = p->exp_q0 + max;   /* e[-x] = exp_q0[max - x] */
        for (i = 0; i < depth; i++) {
            sum += round_shift((uint32_t)e[-x[i]], accum_int_bits);
        }
        /* sum >= 2^19 (the max element contributes exp(0)), so headroom <= 12
         * and the output shift is at least 23 */
        headroom = kiln_clz32(sum);
        shift = accum_int_bits - headroom + 31u - 8u;
        recip = kiln_one_over_one_plus_x_q0((int32_t)((sum << headroom) - 0x80000000u));
        for (i = 0; i < depth; i++) {
            /* an entry below diff_min holds 0 and gives -128, as in the portable kernel */
            const int32_t v = (int32_t)round_shift(rdhm_pos(recip, e[-x[i]]), shift) - 128;
            y[i] = (int8_t)kiln_ssat8(v);
        }
    }
}
