/*
 * Kiln portable kernels: run-time quantization of a float input for the
 * hybrid (dynamic-range) layers, per batch. The formulas are documented in
 * kiln/kernels.h; every step is single precision, as the oracle rounds,
 * because the last bit of the scale reaches every output.
 */
#include "kiln/kernels.h"
#include "kiln/quant.h"

static float abs_f(float v)
{
    return v < 0.0f ? -v : v;
}

/* Keeps the float-to-int conversion defined for huge or NaN products; any
 * such value saturates the int8 range anyway. */
static float bounded(float v)
{
    if (v > 1e6f) {
        return 1e6f;
    }
    if (v < -1e6f) {
        return -1e6f;
    }
    return v == v ? v : 0.0f;
}

static void zero_fill(int8_t *q, uint32_t n)
{
    uint32_t i;

    for (i = 0; i < n; i++) {
        q[i] = 0;
    }
}

/* Symmetric: scale = max|x| / 127, zero point 0, codes in [-127, 127]. */
static void quantize_symmetric(const float *in, uint32_t n, int8_t *q, float *scale)
{
    float mn = in[0], mx = in[0], range, inv;
    uint32_t i;

    for (i = 1; i < n; i++) {
        mn = in[i] < mn ? in[i] : mn;
        mx = in[i] > mx ? in[i] : mx;
    }
    range = abs_f(mn) > abs_f(mx) ? abs_f(mn) : abs_f(mx);
    if (range == 0.0f) {
        zero_fill(q, n);
        *scale = 1.0f;
        return;
    }
    *scale = range / 127.0f;
    inv = 127.0f / range;
    for (i = 0; i < n; i++) {
        const int32_t v = kiln_round_half_away_f(bounded(in[i] * inv));
        q[i] = (int8_t)kiln_clamp_s32(v, -127, 127);
    }
}

/* Asymmetric: [min(0, min x), max(0, max x)] onto [-128, 127] with a zero
 * point. Everything in single precision: TFLite's source computes the scale
 * and zero point in double, but the x86 TensorFlow we test against rounds
 * them as float (a double scale differs in the last bit for about 4 inputs
 * in 10; tests/test_hybrid.py pins the float result). */
static void quantize_asymmetric(const float *in, uint32_t n, int8_t *q, float *scale,
                                int32_t *offset)
{
    float mn = in[0], mx = in[0], rmin, rmax, s, zp_min, zp_max, zp, inv;
    int32_t nudged;
    uint32_t i;

    for (i = 1; i < n; i++) {
        mn = in[i] < mn ? in[i] : mn;
        mx = in[i] > mx ? in[i] : mx;
    }
    rmin = mn < 0.0f ? mn : 0.0f;
    rmax = mx > 0.0f ? mx : 0.0f;
    if (rmin == rmax) {
        zero_fill(q, n);
        *scale = 1.0f;
        *offset = 0;
        return;
    }
    s = (rmax - rmin) / 255.0f;
    if (!(s > 0.0f)) {
        /* A range below 255 * FLT_TRUE_MIN (or NaN): nothing to resolve. */
        zero_fill(q, n);
        *scale = 1.0f;
        *offset = 0;
        return;
    }
    zp_min = -128.0f - rmin / s;
    zp_max = 127.0f - rmax / s;
    /* The end whose mapping loses less precision sets the zero point. */
    zp = (128.0f + abs_f(rmin / s)) < (127.0f + abs_f(rmax / s)) ? zp_min : zp_max;
    if (zp <= -128.0f) {
        nudged = -128;
    } else if (zp >= 127.0f) {
        nudged = 127;
    } else {
        nudged = kiln_round_half_away_f(zp);
    }
    *scale = s;
    *offset = nudged;
    inv = 1.0f / s;
    for (i = 0; i < n; i++) {
        /* The zero point is added after rounding: TFLite rounds x * inv on
         * its own (a tie t + 0.5 goes away from zero even when the sum with
         * the offset is negative; tests/test_hybrid.py pins this). */
        const int32_t v = kiln_round_half_away_f(bounded(in[i] * inv)) + nudged;
        q[i] = (int8_t)kiln_clamp_s32(v, -128, 127);
    }
}

/* Quantizes n floats to int8 codes with one scale (and offset). */
void kiln_hybrid_quantize_f32(const float *in, uint32_t n, uint8_t asymmetric,
                              int8_t *q, float *scale, int32_t *offset)
{
    *offset = 0;
    if (n == 0) {
        *scale = 1.0f;
        return;
    }
    if (asymmetric) {
        quantize_asymmetric(in, n, q, scale, offset);
    } else {
        quantize_symmetric(in, n, q, scale);
    }
}
