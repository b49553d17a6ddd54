/*
 * Kiln portable kernels: standalone int8 activations (RELU, RELU6,
 * LEAKY_RELU, PRELU, LOGISTIC, TANH, HARD_SWISH, and GELU's table). The arithmetic follows
 * tflite-micro's reference kernels; see kiln/ops/activation.h for how the
 * generator fills each struct and docs/ops/activation.md for the recipes.
 */
#include "kiln/kernels.h"
#include "kiln/quant.h"

static int8_t sat_s8(int32_t v)
{
    return (int8_t)kiln_clamp_s32(v, -128, 127);
}

void kiln_relu_s8(const kiln_act_relu_s8_params_t *p, const int8_t *in, int8_t *out)
{
    uint32_t i;

    for (i = 0; i < p->n; i++) {
        const int32_t v = p->out_zp + kiln_requantize((int32_t)in[i] - p->in_zp, p->mult, p->shift);
        out[i] = (int8_t)kiln_clamp_s32(v, p->act_min, p->act_max);
    }
}

void kiln_clamp_s8(const kiln_act_clamp_s8_params_t *p, const int8_t *in, int8_t *out)
{
    uint32_t i;

    for (i = 0; i < p->n; i++) {
        out[i] = (int8_t)kiln_clamp_s32(in[i], p->lo, p->hi);
    }
}

void kiln_leaky_relu_s8(const kiln_act_leaky_s8_params_t *p, const int8_t *in, int8_t *out)
{
    uint32_t i;

    for (i = 0; i < p->n; i++) {
        const int32_t x = (int32_t)in[i] - p->in_zp;
        const int32_t v = x >= 0 ? kiln_requantize(x, p->id_mult, p->id_shift)
                                 : kiln_requantize(x, p->alpha_mult, p->alpha_shift);
        out[i] = sat_s8(p->out_zp + v);
    }
}

void kiln_prelu_s8(const kiln_act_prelu_params_t *p, const int8_t *in,
                   const int8_t *alpha, int8_t *out)
{
    uint32_t d0, d1, d2, d3;
    size_t o = 0;

    for (d0 = 0; d0 < p->out_shape[0]; d0++) {
        for (d1 = 0; d1 < p->out_shape[1]; d1++) {
            for (d2 = 0; d2 < p->out_shape[2]; d2++) {
                for (d3 = 0; d3 < p->out_shape[3]; d3++) {
                    const size_t ii = (size_t)d0 * p->in_stride[0] + (size_t)d1 * p->in_stride[1] +
                                      (size_t)d2 * p->in_stride[2] + (size_t)d3 * p->in_stride[3];
                    const size_t ai = (size_t)d0 * p->alpha_stride[0] + (size_t)d1 * p->alpha_stride[1] +
                                      (size_t)d2 * p->alpha_stride[2] + (size_t)d3 * p->alpha_stride[3];
                    const int32_t x = (int32_t)in[ii] - p->in_zp;
                    int32_t v;
                    if (x >= 0) {
                        v = kiln_requantize(x, p->mult_1, p->shift_1);
                    } else {
                        /* |x| <= 255 and |a - zp| <= 255: the product fits easily */
                        v = kiln_requantize(x * ((int32_t)alpha[ai] - p->alpha_zp), p->mult_2, p->shift_2);
                    }
                    out[o++] = sat_s8(p->out_zp + v);
                }
            }
        }
    }
}

/* ---- LOGISTIC and TANH: gemmlowp-style fixed point ------------------------ */

/* exp(a) for a <= 0 in Q4.27, result in Q0.31: as kiln_exp_on_negative_q5
 * but with 4 integer bits, so the factors stop at exp(-8) (the input never
 * reaches -16). */
static int32_t exp_on_negative_q4(int32_t a)
{
    static const int32_t factors[6] = {
        1672461947, /* exp(-1/4) */
        1302514674, /* exp(-1/2) */
        790015084,  /* exp(-1)   */
        290630308,  /* exp(-2)   */
        39332535,   /* exp(-4)   */
        720401,     /* exp(-8)   */
    };
    const int32_t frac_bits = 27;
    const int32_t quarter = 1 << (frac_bits - 2);
    const int32_t a_mod_quarter_minus_quarter = (a & (quarter - 1)) - quarter;
    int32_t result = kiln_exp_on_interval_q0(kiln_sat_shl(a_mod_quarter_minus_quarter, 4));
    const int32_t remainder = a_mod_quarter_minus_quarter - a;
    int32_t k;

    for (k = 0; k < 6; k++) {
        if (remainder & (1 << (frac_bits - 2 + k))) {
            result = kiln_sat_rdhm(result, factors[k]);
        }
    }
    if (a == 0) {
        result = KILN_INT32_MAX;
    }
    return result;
}

/* (1 - x) / (1 + x) for x in [0, 1] in Q0.31: Newton-Raphson on the half
 * denominator as kiln_one_over_one_plus_x_q0, then 2/(1+x) - 1. */
static int32_t one_minus_x_over_one_plus_x_q0(int32_t a)
{
    const int32_t c48_17 = 1515870810;      /* 48/17 in Q2.29 */
    const int32_t c_neg32_17 = -1010580540; /* -32/17 in Q2.29 */
    const int32_t one_q2 = 1 << 29;
    const int64_t sum = (int64_t)a + KILN_INT32_MAX;
    const int32_t half_den = (int32_t)((sum + (sum >= 0 ? 1 : -1)) / 2);
    int32_t x = c48_17 + kiln_sat_rdhm(half_den, c_neg32_17);
    int32_t i;

    for (i = 0; i < 3; i++) {
        const int32_t hd_x = kiln_sat_rdhm(half_den, x);
        const int32_t corr = kiln_sat_rdhm(x, one_q2 - hd_x); /* Q4.27 */
        x = x + kiln_sat_shl(corr, 2);
    }
    return kiln_sat_shl(x - one_q2, 2);
}

void kiln_logistic_s8(const kiln_act_sigmoid_s8_params_t *p, const int8_t *in, int8_t *out)
{
    uint32_t i;

    for (i = 0; i < p->n; i++) {
        const int32_t x = (int32_t)in[i] - p->in_zp;
        if (x <= -p->radius) {
            out[i] = -128;
        } else if (x >= p->radius) {
            out[i] = 127;
        } else {
            const int32_t a = kiln_requantize(x, p->mult, p->left_shift); /* Q4.27 */
            int32_t r;                                                     /* Q0.31 */
            if (a == 0) {
                r = 1 << 30;
            } else {
                /* logistic(|a|) = 1 / (1 + exp(-|a|)); logistic(-|a|) = 1 - that */
                const int32_t pos = kiln_one_over_one_plus_x_q0(exp_on_negative_q4(a > 0 ? -a : a));
                r = a > 0 ? pos : KILN_INT32_MAX - pos;
            }
            out[i] = sat_s8(kiln_rounding_div_pot(r, 23) - 128);
        }
    }
}

void kiln_tanh_s8(const kiln_act_sigmoid_s8_params_t *p, const int8_t *in, int8_t *out)
{
    uint32_t i;

    for (i = 0; i < p->n; i++) {
        const int32_t x = (int32_t)in[i] - p->in_zp;
        if (x <= -p->radius) {
            out[i] = -128;
        } else if (x >= p->radius) {
            out[i] = 127;
        } else {
            const int32_t a = kiln_requantize(x, p->mult, p->left_shift); /* Q4.27 */
            int32_t r = 0;                                                 /* Q0.31 */
            if (a != 0) {
                /* tanh(|a|) = (1 - exp(-2|a|)) / (1 + exp(-2|a|)); the raw
                 * Q4.27 value read as Q5.26 is already -2|a|. */
                const int32_t t = one_minus_x_over_one_plus_x_q0(kiln_exp_on_negative_q5(a < 0 ? a : -a));
                r = a < 0 ? -t : t;
            }
            out[i] = sat_s8(kiln_rounding_div_pot(r, 24));
        }
    }
}

/* ---- HARD_SWISH: 16-bit fixed point ---------------------------------------- */

/* round(a * b / 2^15), ties away from zero, saturating -1 * -1. */
static int32_t srdhm16(int32_t a, int32_t b)
{
    const int32_t ab = a * b;

    if (a == -32768 && b == -32768) {
        return 32767;
    }
    return (int16_t)((ab + (ab >= 0 ? (1 << 14) : 1 - (1 << 14))) / (1 << 15));
}

/* a * b / 2^15 truncated toward zero (no rounding), saturating -1 * -1. */
static int32_t sdhm16(int32_t a, int32_t b)
{
    if (a == -32768 && b == -32768) {
        return 32767;
    }
    return (int16_t)((a * b) / (1 << 15));
}

/* v * 2^amount saturated to int16 (amount 0..30). */
static int32_t sat_shl16(int32_t v, int32_t amount)
{
    const int64_t r = (int64_t)v * ((int64_t)1 << amount);

    return r > 32767 ? 32767 : (r < -32768 ? -32768 : (int32_t)r);
}

/* The reference's rounding right shift of an int16 value (exponent 0..31).
 * Its mask 2^exponent - 1 is held in int16, so from exponent 16 on it is all
 * ones and the result is the sign alone: 1 for x >= 0, -1 below (reached
 * with input scales below about 2e-7). */
static int32_t rounding_div_pot16(int32_t x, int32_t exponent)
{
    if (exponent >= 16) {
        return x >= 0 ? 1 : -1;
    }
    return kiln_rounding_div_pot(x, exponent);
}

void kiln_hard_swish_s8(const kiln_act_hard_swish_s8_params_t *p, const int8_t *in, int8_t *out)
{
    uint32_t i;

    for (i = 0; i < p->n; i++) {
        /* x on a 128x finer scale: |x| <= 255, so this fits in 16 bits */
        const int32_t hires = ((int32_t)in[i] - p->in_zp) * 128;
        /* x on the output scale, before the final right shift */
        const int32_t pre_out = srdhm16(hires, p->out_mult);
        /* x rescaled so that 3.0 is 2^15 (saturating): the "relu-ish" factor.
         * A left shift is split so saturation happens only in its last bit. */
        int32_t relu = hires;
        int32_t v;
        if (p->relu_exp > 0) {
            relu = sat_shl16(relu, p->relu_exp - 1);
        }
        relu = srdhm16(relu, p->relu_mult);
        if (p->relu_exp > 0) {
            relu = sat_shl16(relu, 1);
        } else if (p->relu_exp < 0) {
            relu = rounding_div_pot16(relu, -p->relu_exp);
        }
        /* [-1, 1] -> [0, 1] in Q0.15 */
        relu = (relu + (1 << 15)) >> 1;
        v = rounding_div_pot16(sdhm16(relu, pre_out), -p->out_exp);
        out[i] = sat_s8(v + p->out_zp);
    }
}

void kiln_lut_s8(const kiln_act_lut_s8_params_t *p, const int8_t *in, int8_t *out)
{
    uint32_t i;

    for (i = 0; i < p->n; i++) {
        out[i] = p->table[(uint8_t)in[i]];
    }
}
