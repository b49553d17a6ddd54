/*
 * Kiln runtime: fixed-point helpers shared by the int8 kernels.
 *
 * These implement the integer arithmetic of TFLite's int8 quantization
 * specification (the same results as the tflite-micro reference kernels,
 * bit for bit). Every function is static inline so that portable and
 * optimized kernels (firmware/runtime/dsp/) share exactly one definition.
 *
 * Notation: a Qm.n value is an int32_t holding real = raw / 2^n with m
 * integer bits and n = 31 - m fractional bits.
 *
 * Assumption (true for GCC and Clang on every Kiln target): right shifts of
 * negative signed integers are arithmetic and conversions of out-of-range
 * values to int32_t wrap modulo 2^32.
 */
#ifndef KILN_QUANT_H
#define KILN_QUANT_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define KILN_INT32_MIN ((int32_t)(-2147483647 - 1))
#define KILN_INT32_MAX ((int32_t)2147483647)

/* Clamps v to [lo, hi]. */
static inline int32_t kiln_clamp_s32(int32_t v, int32_t lo, int32_t hi)
{
    return v < lo ? lo : (v > hi ? hi : v);
}

/* round(a * b / 2^31), halves away from zero, saturating the single
 * overflowing case INT32_MIN * INT32_MIN. This is the Q0.31 product. */
static inline int32_t kiln_sat_rdhm(int32_t a, int32_t b)
{
    int64_t ab;
    int64_t nudged;

    if (a == b && a == KILN_INT32_MIN) {
        return KILN_INT32_MAX;
    }
    ab = (int64_t)a * (int64_t)b;
    nudged = ab + (ab >= 0 ? ((int64_t)1 << 30) : (1 - ((int64_t)1 << 30)));
    /* Division by 2^31 truncating toward zero, written with shifts so that
     * no 64-bit division helper from libgcc is pulled in. |nudged| < 2^63. */
    return (int32_t)(nudged >= 0 ? (nudged >> 31) : -((-nudged) >> 31));
}

/* x / 2^exponent rounded to nearest, ties away from zero (exponent 0..31). */
static inline int32_t kiln_rounding_div_pot(int32_t x, int32_t exponent)
{
    const int32_t mask = (int32_t)(((int64_t)1 << exponent) - 1);
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);

    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/* x * 2^exponent (exponent 0..30), saturating to the int32 range. */
static inline int32_t kiln_sat_shl(int32_t x, int32_t exponent)
{
    const int32_t threshold = (int32_t)(((int64_t)1 << (31 - exponent)) - 1);

    if (x > threshold) {
        return KILN_INT32_MAX;
    }
    if (x < -threshold) {
        return KILN_INT32_MIN;
    }
    return (int32_t)((uint32_t)x << exponent);
}

/* Requantization: round(x * mult * 2^shift / 2^31) where mult is a Q0.31
 * multiplier in [2^30, 2^31) (or 0) and shift is in [-31, 30]. Like the
 * TFLite default build it rounds twice: once in the doubling high multiply,
 * once in the right shift. A positive shift is applied to x first and wraps
 * on overflow exactly as the reference does. */
static inline int32_t kiln_requantize(int32_t x, int32_t mult, int32_t shift)
{
    const int32_t left = shift > 0 ? shift : 0;
    const int32_t right = shift > 0 ? 0 : -shift;

    return kiln_rounding_div_pot(
        kiln_sat_rdhm((int32_t)((uint32_t)x << left), mult), right);
}

/* Number of leading zero bits of x (32 for 0). */
static inline int32_t kiln_clz32(uint32_t x)
{
#if defined(__GNUC__)
    return x == 0 ? 32 : __builtin_clz(x);
#else
    int32_t n = 0;
    if (x == 0) {
        return 32;
    }
    while ((x & 0x80000000u) == 0) {
        x <<= 1;
        n++;
    }
    return n;
#endif
}

/* exp(a) for a in [-1/4, 0), a and the result in Q0.31. Taylor series
 * around -1/8 up to the fourth power: exp(-1/8) * (1 + x + x^2/2 + x^3/6
 * + x^4/24) with x = a + 1/8. */
static inline int32_t kiln_exp_on_interval_q0(int32_t a)
{
    const int32_t exp_minus_one_eighth = 1895147668; /* exp(-1/8) * 2^31 */
    const int32_t one_third = 715827883;             /* 2^31 / 3 rounded */
    const int32_t x = a + (1 << 28);                 /* a + 1/8 */
    const int32_t x2 = kiln_sat_rdhm(x, x);
    const int32_t x3 = kiln_sat_rdhm(x2, x);
    const int32_t x4 = kiln_sat_rdhm(x2, x2);
    const int32_t x4_over_4 = kiln_rounding_div_pot(x4, 2);
    /* ((x^4/4 + x^3) / 3 + x^2) / 2 = x^4/24 + x^3/6 + x^2/2 */
    const int32_t poly = kiln_rounding_div_pot(
        kiln_sat_rdhm(x4_over_4 + x3, one_third) + x2, 1);

    return exp_minus_one_eighth + kiln_sat_rdhm(exp_minus_one_eighth, x + poly);
}

/* exp(a) for a <= 0 given in Q5.26 (the softmax "scaled diff" format);
 * result in Q0.31 (exp(0) saturates to INT32_MAX). The argument is split
 * into a part in [-1/4, 0) handled by the series above and a multiple of
 * 1/4 whose binary digits select factors exp(-1/4), exp(-1/2), ... exp(-16)
 * (Q0.31 constants: round(exp(-2^k) * 2^31)). */
static inline int32_t kiln_exp_on_negative_q5(int32_t a)
{
    static const int32_t factors[7] = {
        1672461947, /* exp(-1/4) */
        1302514674, /* exp(-1/2) */
        790015084,  /* exp(-1)   */
        290630308,  /* exp(-2)   */
        39332535,   /* exp(-4)   */
        720401,     /* exp(-8)   */
        242,        /* exp(-16)  */
    };
    const int32_t frac_bits = 26;
    const int32_t quarter = 1 << (frac_bits - 2);
    const int32_t a_mod_quarter_minus_quarter = (a & (quarter - 1)) - quarter;
    /* Q5.26 -> Q0.31: the value is in [-1/4, 0) so the shift cannot
     * overflow; it still goes through the saturating shift like the
     * reference. */
    int32_t result = kiln_exp_on_interval_q0(
        kiln_sat_shl(a_mod_quarter_minus_quarter, 5));
    const int32_t remainder = a_mod_quarter_minus_quarter - a;
    int32_t k;

    for (k = 0; k < 7; k++) {
        /* bit (frac_bits - 2 + k) of the remainder stands for 2^(k-2) */
        if (remainder & (1 << (frac_bits - 2 + k))) {
            result = kiln_sat_rdhm(result, factors[k]);
        }
    }
    if (a == 0) {
        result = KILN_INT32_MAX;
    }
    return result;
}

/* 1 / (1 + x) for x in [0, 1) given in Q0.31; result in Q0.31. Newton-
 * Raphson on the half denominator d = (1 + x) / 2 in Q2.29, starting from
 * the linear estimate 48/17 - 32/17 * d, three iterations. */
static inline int32_t kiln_one_over_one_plus_x_q0(int32_t a)
{
    const int32_t c48_17 = 1515870810;      /* 48/17 in Q2.29 */
    const int32_t c_neg32_17 = -1010580540; /* -32/17 in Q2.29 */
    const int32_t one_q2 = 1 << 29;
    /* (a + 1) / 2 rounded, ties away from zero, computed in 64 bits */
    const int64_t sum = (int64_t)a + KILN_INT32_MAX;
    const int32_t half_den = (int32_t)((sum + (sum >= 0 ? 1 : -1)) / 2);
    int32_t x = c48_17 + kiln_sat_rdhm(half_den, c_neg32_17);
    int32_t i;

    for (i = 0; i < 3; i++) {
        const int32_t hd_x = kiln_sat_rdhm(half_den, x);      /* Q2.29 */
        const int32_t one_minus = one_q2 - hd_x;              /* Q2.29 */
        const int32_t corr = kiln_sat_rdhm(x, one_minus);     /* Q4.27 */
        x = x + kiln_sat_shl(corr, 2);                        /* -> Q2.29 */
    }
    /* x approximates 2 / (1 + a) in Q2.29; halve it (reinterpret as Q1.30)
     * and convert to Q0.31. */
    return kiln_sat_shl(x, 1);
}

/* round(v), halves away from zero (TFLite's rounding of float to integer),
 * for |v| < 2^30, without libm. Truncation then a correction on the
 * fractional part: v - (float)t is exact in float (Sterbenz), unlike
 * v + 0.5f, which can itself round up. */
static inline int32_t kiln_round_half_away_f(float v)
{
    int32_t t = (int32_t)v;
    const float frac = v - (float)t;

    if (frac >= 0.5f) {
        t += 1;
    } else if (frac <= -0.5f) {
        t -= 1;
    }
    return t;
}

/* QUANTIZE's rounding of x / scale: NaN to 0, and values beyond 1e9 (whose
 * int conversion would be undefined; they saturate anyway) clamped first. */
static inline int32_t kiln_quantize_round_f(float v)
{
    if (v > 1e9f) {
        v = 1e9f;
    } else if (v < -1e9f) {
        v = -1e9f;
    } else if (v != v) {
        v = 0.0f;
    }
    return kiln_round_half_away_f(v);
}

#ifdef __cplusplus
}
#endif

/* 1 / sqrt(v) for an integer v >= 2 as a Q0.31-style multiplier and a shift
 * (<= 0 here), with TFLite's fixed-point recipe: v normalized by pairs of
 * bits into [2^27, 2^29), read as a Q3.28 value in [1/4, 1) (v / 2); five
 * Newton-Raphson steps x = 3/2 x - (v/2) x^3 from x = 1, every product a
 * doubling high multiply and every rescale a saturating left shift (Q9 -> Q3:
 * 6 bits, Q6 -> Q3: 3 bits); then times sqrt(2)/2, which the halving of the
 * input called for. v <= 1 gives (INT32_MAX, 0). */
static inline void kiln_inv_sqrt_multiplier(int32_t v, int32_t *mult, int32_t *shift)
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

/* TFLite's int16 sigmoid and tanh: linear interpolation in 256 samples of
 * 65536 * sigmoid(i / 24) (kiln_sigmoid_table, portable/sigmoid_table.c),
 * mirrored for negative inputs. */
extern const uint16_t kiln_sigmoid_table[256];

/* sigmoid(x) in Q0.15, x given in units of 1/(24 * 512): 9 fractional bits
 * of a table step. */
static inline int16_t kiln_sigmoid_q15(int32_t x)
{
    const uint32_t a = (uint32_t)(x < 0 ? -x : x);
    const uint32_t h = a >> 9;
    uint32_t r;

    if (h >= 255u) {
        r = 0x7FFFu << 10;
    } else {
        const uint32_t lo = kiln_sigmoid_table[h], hi = kiln_sigmoid_table[h + 1u];
        r = (lo << 9) + (a & 0x1FFu) * (hi - lo);
    }
    r = x >= 0 ? r + (1u << 9) : (1u << 25) - r + (1u << 9) - 1u;   /* sigmoid(-x) = 1 - sigmoid(x) */
    return (int16_t)(r >> 10);
}

/* tanh(x) = 2 sigmoid(2x) - 1 in Q0.15, x in units of 1/(24 * 256): the
 * same table read at twice the resolution. */
static inline int16_t kiln_tanh_q15(int32_t x)
{
    const uint32_t a = (uint32_t)(x < 0 ? -x : x);
    const uint32_t h = a >> 8;
    int32_t r;

    if (h >= 255u) {
        r = (int32_t)(0xFFFFu << 8);
    } else {
        const uint32_t lo = kiln_sigmoid_table[h], hi = kiln_sigmoid_table[h + 1u];
        r = (int32_t)((lo << 8) + (a & 0xFFu) * (hi - lo));
    }
    r = x >= 0 ? r - (1 << 23) + (1 << 7) : -r + (1 << 23) + (1 << 7) - 1;
    return (int16_t)(r >> 8);
}

#endif /* KILN_QUANT_H */
