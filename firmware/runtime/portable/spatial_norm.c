/*
 * Kiln portable kernels: L2_NORMALIZATION (int8, float32) and LOG_SOFTMAX
 * (float32) over the last axis. See kiln/ops/spatial.h.
 */
#include <string.h>

#include "kiln/kernels.h"
#include "kiln/quant.h"

/* 1 / sqrt(acc) as a Q0.31-style multiplier and a left shift, the fixed
 * point of tflite-micro's int8 L2 normalization: acc is normalised into
 * [2^27, 2^29) by an even shift, read as a Q3.28 value v in [1/4, 1), and
 * 1/sqrt(v) comes from five Newton-Raphson steps x <- 1.5 x - v/2 x^3 from
 * x = 1, scaled by sqrt(2)/2 for the half bit of the shift. */
static void inv_sqrt(int32_t acc, int32_t *mult, int32_t *left_shift)
{
    const int32_t half_three = (1 << 28) + (1 << 27); /* 1.5 in Q3.28 */
    int32_t shift = 11;
    int32_t pairs, v, half_v, x, i;

    if (acc <= 1) {
        *mult = KILN_INT32_MAX;
        *left_shift = 0;
        return;
    }
    while (acc >= (1 << 29)) {
        acc /= 4;
        shift++;
    }
    pairs = (kiln_clz32((uint32_t)acc) - 1) / 2 - 1;
    shift -= pairs;
    acc <<= 2 * pairs;
    v = acc >> 1;                      /* Q3.28 */
    half_v = kiln_rounding_div_pot(v, 1);
    x = 1 << 28;                       /* 1.0 in Q3.28 */
    for (i = 0; i < 5; i++) {
        /* x^3: Q3 * Q3 -> Q6, * Q3 -> Q9, back to Q3 (saturating) */
        const int32_t x3 = kiln_sat_shl(kiln_sat_rdhm(kiln_sat_rdhm(x, x), x), 6);
        /* 1.5 x - v/2 x^3 in Q6, back to Q3 */
        x = kiln_sat_shl(kiln_sat_rdhm(half_three, x) - kiln_sat_rdhm(half_v, x3), 3);
    }
    x = kiln_sat_rdhm(x, 1518500250); /* * sqrt(2)/2 (Q0.31) */
    if (shift < 0) {
        x = (int32_t)((uint32_t)x << -shift);
        shift = 0;
    }
    *mult = x;
    *left_shift = -shift;
}

void kiln_l2norm_s8(const kiln_l2norm_params_t *p, const int8_t *in, int8_t *out)
{
    uint32_t r, c;

    for (r = 0; r < p->rows; r++) {
        const int8_t *x = in + (size_t)r * p->depth;
        int8_t *y = out + (size_t)r * p->depth;
        int32_t acc = 0, mult, shift;
        for (c = 0; c < p->depth; c++) {
            const int32_t v = (int32_t)x[c] - p->in_zp;
            acc += v * v;
        }
        inv_sqrt(acc, &mult, &shift);
        for (c = 0; c < p->depth; c++) {
            /* output scale 1/128: seven more bits of left shift */
            const int32_t v = kiln_requantize((int32_t)x[c] - p->in_zp, mult, shift + 7);
            y[c] = (int8_t)kiln_clamp_s32(v, -128, 127);
        }
    }
}

/* sqrt(v) for v >= 0 in single precision: a bit-level first guess, then
 * Newton-Raphson (each step doubles the correct bits: 4 reach float
 * precision from the guess's ~4 bits). */
static float sqrt_f(float v)
{
    uint32_t bits;
    float y;
    int i;

    if (!(v > 0.0f)) {
        return 0.0f;
    }
    memcpy(&bits, &v, sizeof bits);
    bits = 0x1fbd1df5u + (bits >> 1);
    memcpy(&y, &bits, sizeof y);
    for (i = 0; i < 4; i++) {
        y = 0.5f * (y + v / y);
    }
    return y;
}

void kiln_l2norm_f32(const kiln_l2norm_params_t *p, const float *in, float *out)
{
    uint32_t r, c;

    for (r = 0; r < p->rows; r++) {
        const float *x = in + (size_t)r * p->depth;
        float *y = out + (size_t)r * p->depth;
        float sum = 0.0f, norm;
        for (c = 0; c < p->depth; c++) {
            sum += x[c] * x[c];
        }
        norm = sqrt_f(sum);
        if (norm < 1e-6f) {
            norm = 1e-6f;
        }
        for (c = 0; c < p->depth; c++) {
            y[c] = x[c] / norm;
        }
    }
}

/* log(v) for v >= 1 (a sum of exponentials, one of which is 1): v = 2^e * m
 * with m in [sqrt(1/2), sqrt(2)), log m = 2 atanh((m - 1) / (m + 1)) by its
 * odd series (|t| < 0.172: terms to t^11 leave below 1e-9). */
static float log_f(float v)
{
    const float ln2 = 0.693147180559945309f;
    uint32_t bits;
    int32_t e;
    float m, t, t2;

    memcpy(&bits, &v, sizeof bits);
    e = (int32_t)((bits >> 23) & 0xffu) - 127;
    bits = (bits & 0x007fffffu) | 0x3f800000u; /* m in [1, 2) */
    memcpy(&m, &bits, sizeof m);
    if (m > 1.41421356f) {
        m *= 0.5f;
        e++;
    }
    t = (m - 1.0f) / (m + 1.0f);
    t2 = t * t;
    return (float)e * ln2 + 2.0f * t * (1.0f + t2 * (1.0f / 3 + t2 * (1.0f / 5 + t2 * (1.0f / 7 +
           t2 * (1.0f / 9 + t2 * (1.0f / 11))))));
}

void kiln_log_softmax_f32(const kiln_log_softmax_f32_params_t *p, const float *in, float *out)
{
    uint32_t r, c;

    for (r = 0; r < p->rows; r++) {
        const float *x = in + (size_t)r * p->depth;
        float *y = out + (size_t)r * p->depth;
        float max = x[0], sum = 0.0f, log_sum;
        for (c = 1; c < p->depth; c++) {
            if (x[c] > max) {
                max = x[c];
            }
        }
        for (c = 0; c < p->depth; c++) {
            sum += kiln_expf(x[c] - max);
        }
        log_sum = log_f(sum);
        for (c = 0; c < p->depth; c++) {
            y[c] = x[c] - max - log_sum;
        }
    }
}

/* ---- int8 LOG_SOFTMAX: gemmlowp-style fixed point ----------------------- */

static int32_t sat_add32(int32_t a, int32_t b)
{
    const int64_t s = (int64_t)a + b;

    return s > KILN_INT32_MAX ? KILN_INT32_MAX : (s < KILN_INT32_MIN ? KILN_INT32_MIN : (int32_t)s);
}

/* log(x) for x >= 1 given in Q12.19, result in Q5.26. x = 2^k * r with the
 * mantissa r in [sqrt(1/2), 1) chosen from two normalisations (plain and
 * premultiplied by sqrt(1/2)); log r comes from a rational approximation
 * around 2^(-1/4), divided with the Newton-Raphson reciprocal. The sums are
 * kept with 6 integer bits (one of headroom) and rescaled at the end. */
static int32_t log_q12_to_q5(int32_t z_a)
{
    const int32_t log_2 = 1488522236;          /* log(2), Q0.31 */
    const int32_t sqrt_sqrt_half = 1805811301; /* 2^(-1/4) */
    const int32_t sqrt_half = 1518500250;      /* 2^(-1/2) */
    const int32_t alpha_n = 117049297;         /* 11/240 * 2^(1/4) */
    const int32_t alpha_d = 127690142;         /* 1/20 * 2^(1/4) */
    const int32_t alpha_i = 1057819769;        /* 2 / 2^(1/4) - 2^(1/4) */
    const int32_t alpha_f = 638450708;         /* 1/4 * 2^(1/4) */
    const int32_t quarter_q6 = 1 << 23;        /* 1/4 in Q6.25 */
    const int32_t in_bits = 12, accum_frac = 25;
    const int32_t a_headroom_plus_1 = kiln_clz32((uint32_t)z_a);
    const int32_t r_a = kiln_sat_shl(kiln_sat_rdhm(kiln_sat_shl(z_a, a_headroom_plus_1 - 1), sqrt_half), 1);
    const int32_t a_pow2 = sat_add32(kiln_sat_shl(in_bits - a_headroom_plus_1, accum_frac), quarter_q6);
    const int32_t z_b = kiln_sat_rdhm(z_a, sqrt_half);
    const int32_t b_headroom = kiln_clz32((uint32_t)z_b) - 1;
    const int32_t r_b = kiln_sat_shl(z_a, b_headroom);
    const int32_t b_pow2 = sat_add32(kiln_sat_shl(in_bits - b_headroom, accum_frac), -quarter_q6);
    const int32_t r = r_a < r_b ? r_a : r_b;
    const int32_t pow2 = a_pow2 > b_pow2 ? a_pow2 : b_pow2; /* Q6.25 */
    const int64_t half_sum = (int64_t)r + sqrt_sqrt_half;
    const int32_t p = (int32_t)((half_sum + (half_sum >= 0 ? 1 : -1)) / 2);
    const int32_t q = 2 * (r - sqrt_sqrt_half);
    const int32_t sq = kiln_sat_rdhm(q, q);
    const int32_t num = kiln_sat_rdhm(q, r) + kiln_sat_rdhm(kiln_sat_rdhm(q, sq), alpha_n);
    const int32_t den_minus_one = kiln_sat_rdhm(p, alpha_i + q + kiln_sat_rdhm(alpha_d, sq)) +
                                  kiln_sat_rdhm(alpha_f, q);
    const int32_t recip = kiln_one_over_one_plus_x_q0(den_minus_one);
    const int32_t sum = kiln_sat_rdhm(pow2, log_2) +
                        kiln_sat_rdhm(kiln_rounding_div_pot(num, 6), recip); /* Q6.25 */

    return kiln_sat_shl(sum, 1);
}

void kiln_log_softmax_s8(const kiln_log_softmax_s8_params_t *p, const int8_t *in, int8_t *out)
{
    uint32_t r, c;

    for (r = 0; r < p->rows; r++) {
        const int8_t *x = in + (size_t)r * p->depth;
        int8_t *y = out + (size_t)r * p->depth;
        int32_t max = -128, sum = 0, log_sum, floor_diff;
        for (c = 0; c < p->depth; c++) {
            if (x[c] > max) {
                max = x[c];
            }
        }
        for (c = 0; c < p->depth; c++) {
            const int32_t d = (int32_t)x[c] - max;
            if (d >= p->diff_min) {
                const int32_t d5 = kiln_requantize(d, p->input_multiplier, p->input_left_shift);
                sum += kiln_rounding_div_pot(kiln_exp_on_negative_q5(d5), 12); /* Q12.19 */
            }
        }
        log_sum = log_q12_to_q5(sum);
        /* Differences at or below this one would leave the Q5.26 range once
         * log_sum is subtracted: they output -128. */
        floor_diff = kiln_requantize((int32_t)((uint32_t)log_sum + 0x80000000u),
                                     p->reverse_multiplier, p->reverse_shift);
        if (floor_diff < p->diff_min - 1) {
            floor_diff = p->diff_min - 1;
        }
        for (c = 0; c < p->depth; c++) {
            const int32_t d = (int32_t)x[c] - max;
            if (d > floor_diff) {
                const int32_t d5 = kiln_requantize(d, p->input_multiplier, p->input_left_shift);
                /* Q5.26 -> output scale 1/16: 22 bits, zero point 127 */
                y[c] = (int8_t)kiln_clamp_s32(kiln_rounding_div_pot(d5 - log_sum, 22) + 127, -128, 127);
            } else {
                y[c] = -128;
            }
        }
    }
}

/* L2_POOL_2D: per window (clipped to the input) and channel,
 * sqrt(sum of squares / number of taps), the sum in row then column order
 * as the reference, then the fused activation's clamp. */
void kiln_l2pool_f32(const kiln_l2pool_f32_params_t *p, const float *in, float *out)
{
    const kiln_geometry_t *g = &p->g;
    uint32_t oy, ox, ch;

    for (oy = 0; oy < g->out_h; oy++) {
        for (ox = 0; ox < g->out_w; ox++) {
            const int32_t y0 = (int32_t)(oy * g->stride_h) - g->pad_top;
            const int32_t x0 = (int32_t)(ox * g->stride_w) - g->pad_left;
            const int32_t ky0 = y0 < 0 ? -y0 : 0, kx0 = x0 < 0 ? -x0 : 0;
            const int32_t ky1 = (int32_t)g->in_h - y0 < (int32_t)g->k_h ? (int32_t)g->in_h - y0 : g->k_h;
            const int32_t kx1 = (int32_t)g->in_w - x0 < (int32_t)g->k_w ? (int32_t)g->in_w - x0 : g->k_w;
            for (ch = 0; ch < g->in_c; ch++) {
                float sum = 0.0f, v;
                int32_t count = 0, ky, kx;
                for (ky = ky0; ky < ky1; ky++) {
                    for (kx = kx0; kx < kx1; kx++) {
                        const float x = in[((size_t)(y0 + ky) * g->in_w + (size_t)(x0 + kx)) * g->in_c + ch];
                        sum += x * x;
                        count++;
                    }
                }
                /* an empty window (impossible with TFLite's padding) gives 0, not 0/0 */
                v = count > 0 ? sqrt_f(sum / (float)count) : 0.0f;
                v = v < p->act_min ? p->act_min : v;
                *out++ = v > p->act_max ? p->act_max : v;
            }
        }
    }
}
