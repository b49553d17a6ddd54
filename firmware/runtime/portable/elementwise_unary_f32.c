/*
 * Kiln portable kernels: float32 unary operators (kiln/ops/elementwise.h).
 * No libm: square root and logarithm are computed here, floor and rounding
 * through integer conversion.
 */
#include "kiln/kernels.h"

typedef union {
    float f;
    uint32_t u;
} bits_t;

#define SMALLEST_NORMAL 1.17549435e-38f
#define TWO_23 8388608.0f

static float inf_f(void)
{
    bits_t b;
    b.u = 0x7f800000u;
    return b.f;
}

static float nan_f(void)
{
    bits_t b;
    b.u = 0x7fc00000u;
    return b.f;
}

/* sqrt(x): Newton-Raphson from an exponent-halving first guess (within
 * 4%); each step squares the relative error, so four reach single
 * precision (within one unit in the last place; a correctly rounded check
 * would need double arithmetic, which the Cortex-M33's FPU lacks). Subnormals are scaled by 2^24 first so the guess stays good. */
static float sqrt_f(float x)
{
    bits_t b;
    float y, post = 1.0f;
    int i;

    if (!(x > 0.0f)) {
        return x == 0.0f ? x : nan_f();   /* keeps -0; NaN and negatives: NaN */
    }
    if (x == inf_f()) {
        return x;
    }
    if (x < SMALLEST_NORMAL) {
        x *= 16777216.0f;                 /* 2^24 */
        post = 1.0f / 4096.0f;            /* 2^-12 */
    }
    b.f = x;
    b.u = (b.u >> 1) + 0x1fbb4f2eu;       /* halves the exponent, roughly */
    y = b.f;
    for (i = 0; i < 4; i++) {
        y = 0.5f * (y + x / y);
    }
    return y * post;
}

/* log(x) = e * ln2 + log(m), with x = m * 2^e and m in [sqrt(1/2), sqrt(2));
 * log(m) = 2 atanh(s), s = (m - 1) / (m + 1), |s| < 0.172, by its odd series
 * to s^11 (the next term is below 1e-10). */
static float log_f(float x)
{
    bits_t b;
    int32_t e;
    float m, s, s2, series;

    if (!(x > 0.0f)) {
        return x == 0.0f ? -inf_f() : nan_f();
    }
    if (x == inf_f()) {
        return x;
    }
    e = 0;
    if (x < SMALLEST_NORMAL) {
        x *= 16777216.0f;
        e = -24;
    }
    b.f = x;
    e += (int32_t)((b.u >> 23) & 0xffu) - 127;
    b.u = (b.u & 0x007fffffu) | 0x3f800000u;   /* m in [1, 2) */
    m = b.f;
    if (m > 1.41421356f) {
        m *= 0.5f;
        e += 1;
    }
    s = (m - 1.0f) / (m + 1.0f);
    s2 = s * s;
    series = 1.0f + s2 * (1.0f / 3 + s2 * (1.0f / 5 + s2 * (1.0f / 7 + s2 * (1.0f / 9 + s2 / 11))));
    /* ln2 split in a high part exact in float and a small correction */
    return (float)e * 0.693145752f + ((float)e * 1.42860677e-06f + 2.0f * s * series);
}

/* floor(x): values of 2^23 and above (and NaN, infinities) are integral. */
static float floor_f(float x)
{
    float t;

    if (!(x > -TWO_23 && x < TWO_23)) {
        return x;
    }
    t = (float)(int32_t)x;
    return t > x ? t - 1.0f : t;
}

/* Round half to even, as TFLite's ROUND: the floor, then up when the rest
 * is above one half, or exactly one half and the floor is odd. */
static float round_f(float x)
{
    float fl, diff;

    if (!(x > -TWO_23 && x < TWO_23)) {
        return x;
    }
    fl = floor_f(x);
    diff = x - fl;   /* exact */
    if (diff < 0.5f || (diff == 0.5f && ((int32_t)fl % 2) == 0)) {
        return fl;
    }
    return fl + 1.0f;
}

#define UNARY(name, expr)                                                       \
    void name(const kiln_ew_unary_f32_params_t *p, const float *in, float *out) \
    {                                                                           \
        uint32_t i;                                                             \
        for (i = 0; i < p->n; i++) {                                            \
            const float x = in[i];                                              \
            out[i] = (expr);                                                    \
        }                                                                       \
    }

UNARY(kiln_abs_f32, x < 0.0f ? -x : x)
UNARY(kiln_neg_f32, -x)
UNARY(kiln_square_f32, x * x)
UNARY(kiln_sqrt_f32, sqrt_f(x))
UNARY(kiln_rsqrt_f32, 1.0f / sqrt_f(x))
UNARY(kiln_exp_f32, kiln_expf(x))
UNARY(kiln_log_f32, log_f(x))
UNARY(kiln_floor_f32, floor_f(x))
UNARY(kiln_round_f32, round_f(x))
