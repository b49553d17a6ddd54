/*
 * Kiln portable kernels: int8 unary operators (kiln/ops/elementwise.h).
 */
#include "kiln/kernels.h"
#include "kiln/quant.h"

/* ABS: |q - zp_in| is at most 255, so it is rescaled (or not, for equal
 * scales) like tflite-micro's quantized ABS and offset to the output. */
void kiln_abs_s8(const kiln_ew_unary_s8_params_t *p, const int8_t *in, int8_t *out)
{
    uint32_t i;

    for (i = 0; i < p->n; i++) {
        int32_t v = (int32_t)in[i] - p->in_zp;
        v = v < 0 ? -v : v;
        if (p->rescale) {
            v = kiln_requantize(v, p->mult, p->shift);
        }
        out[i] = (int8_t)kiln_clamp_s32(v + p->out_zp, -128, 127);
    }
}

/* 1 / sqrt(v) for an integer v >= 2 as a Q0.31-style multiplier and a shift
 * (<= 0 here), with TFLite's fixed-point recipe: v normalized by pairs of
 * bits into [2^27, 2^29), read as a Q3.28 value in [1/4, 1) (v / 2); five
 * Newton-Raphson steps x = 3/2 x - (v/2) x^3 from x = 1, every product a
 * doubling high multiply and every rescale a saturating left shift (Q9 -> Q3:
 * 6 bits, Q6 -> Q3: 3 bits); then times sqrt(2)/2, which the halving of the
 * input called for. v <= 1 gives (INT32_MAX, 0). */
static void inv_sqrt_multiplier(int32_t v, int32_t *mult, int32_t *shift)
{
    const int32_t three_halves = (1 << 28) + (1 << 27);   /* 1.5 in Q3.28 */
    const int32_t half_sqrt2 = 1518500250;               /* sqrt(2)/2 in Q0.31 */
    int32_t s = 11, pairs, half_in, x, k;

    if (v <= 1) {
        *mult = KILN_INT32_MAX;
        *shift = 0;
        return;
    }
    while (v >= (1 << 29)) {
        v /= 4;
        s++;
    }
    pairs = (kiln_clz32((uint32_t)v) - 1) / 2 - 1;
    s -= pairs;
    v <<= 2 * pairs;
    half_in = kiln_rounding_div_pot(v >> 1, 1);
    x = 1 << 28;                                         /* 1.0 in Q3.28 */
    for (k = 0; k < 5; k++) {
        const int32_t x3 = kiln_sat_shl(kiln_sat_rdhm(kiln_sat_rdhm(x, x), x), 6);
        x = kiln_sat_shl(kiln_sat_rdhm(three_halves, x) - kiln_sat_rdhm(half_in, x3), 3);
    }
    x = kiln_sat_rdhm(x, half_sqrt2);
    if (s < 0) {
        x = (int32_t)((uint32_t)x << -s);
        s = 0;
    }
    *mult = x;
    *shift = -s;
}

/* RSQRT (tflite-micro's quantized RSQRT): v = q - zp_in; v == 0 gives 127
 * (the reference's "largest value"); for v > 0 the fixed-point 1 / sqrt(v)
 * is applied to 1 << 20 and the result scaled by (mult, shift - 20), with
 * (mult, shift) = QuantizeMultiplier(1 / (sqrt((double)in_scale) *
 * (double)out_scale)). Inputs below the zero point (negative reals) are
 * refused by the reference at run time; Kiln gives 127 for them too. */
void kiln_rsqrt_s8(const kiln_ew_unary_s8_params_t *p, const int8_t *in, int8_t *out)
{
    uint32_t i;

    for (i = 0; i < p->n; i++) {
        const int32_t v = (int32_t)in[i] - p->in_zp;
        int32_t m, s, data, r;

        if (v <= 0) {
            out[i] = 127;
            continue;
        }
        inv_sqrt_multiplier(v, &m, &s);
        data = kiln_requantize(1, m, s + 20);
        r = kiln_requantize(data, p->mult, p->shift - 20) + p->out_zp;
        out[i] = (int8_t)kiln_clamp_s32(r, -128, 127);
    }
}
