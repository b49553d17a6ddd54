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
