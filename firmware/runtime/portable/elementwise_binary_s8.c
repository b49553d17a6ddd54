/*
 * Kiln portable kernels: int8 SUB, SQUARED_DIFFERENCE, MAXIMUM, MINIMUM with
 * broadcasting (kiln/ops/elementwise.h gives every field's recipe).
 */
#include "kiln/kernels.h"
#include "kiln/quant.h"

typedef int8_t (*s8_binary_fn)(const kiln_ew_binary_s8_params_t *, int32_t, int32_t);

/* Offsets the input, shifts it left for headroom and brings it to the
 * common scale (twice the larger input scale), as ADD does. The shift is a
 * multiplication in the reference: (q + offset) fits in 9 bits, so the
 * shifted value cannot overflow for left_shift <= 20. */
static int32_t scaled(int32_t q, int32_t offset, int32_t left_shift, int32_t mult, int32_t shift)
{
    return kiln_requantize((int32_t)((uint32_t)(q + offset) << left_shift), mult, shift);
}

static int8_t sub_one(const kiln_ew_binary_s8_params_t *p, int32_t qa, int32_t qb)
{
    const int32_t d = scaled(qa, p->a_offset, p->left_shift, p->a_mult, p->a_shift) -
                      scaled(qb, p->b_offset, p->left_shift, p->b_mult, p->b_shift);
    const int32_t r = kiln_requantize(d, p->out_mult, p->out_shift) + p->out_offset;

    return (int8_t)kiln_clamp_s32(r, p->act_min, p->act_max);
}

/* The difference is at most 2^15 in size (9-bit inputs shifted by 7,
 * scaled by at most 1/2 each), so its square fits in int32. */
static int8_t sqdiff_one(const kiln_ew_binary_s8_params_t *p, int32_t qa, int32_t qb)
{
    const int32_t d = scaled(qa, p->a_offset, p->left_shift, p->a_mult, p->a_shift) -
                      scaled(qb, p->b_offset, p->left_shift, p->b_mult, p->b_shift);
    const int32_t r = kiln_requantize(d * d, p->out_mult, p->out_shift) + p->out_offset;

    return (int8_t)kiln_clamp_s32(r, p->act_min, p->act_max);
}

static int8_t max_one(const kiln_ew_binary_s8_params_t *p, int32_t qa, int32_t qb)
{
    (void)p;
    return (int8_t)(qa > qb ? qa : qb);
}

static int8_t min_one(const kiln_ew_binary_s8_params_t *p, int32_t qa, int32_t qb)
{
    (void)p;
    return (int8_t)(qa < qb ? qa : qb);
}

/* Row by row over the broadcast output; each input read through its strides. */
static void walk(const kiln_ew_binary_s8_params_t *p, const int8_t *a, const int8_t *b,
                 int8_t *out, s8_binary_fn fn)
{
    const size_t rows = kiln_ew_rows(&p->bc);
    const uint32_t inner = p->bc.shape[KILN_EW_RANK - 1];
    const uint32_t sa = p->bc.stride[0][KILN_EW_RANK - 1];
    const uint32_t sb = p->bc.stride[1][KILN_EW_RANK - 1];
    kiln_ew_iter_t it;
    size_t r, o = 0;
    uint32_t i;

    kiln_ew_iter_init(&it);
    for (r = 0; r < rows; r++) {
        const int8_t *ra = a + it.off[0];
        const int8_t *rb = b + it.off[1];
        for (i = 0; i < inner; i++) {
            out[o++] = fn(p, ra[(size_t)i * sa], rb[(size_t)i * sb]);
        }
        kiln_ew_iter_next(&p->bc, &it);
    }
}

void kiln_sub_s8(const kiln_ew_binary_s8_params_t *p, const int8_t *a, const int8_t *b, int8_t *out)
{
    walk(p, a, b, out, sub_one);
}

void kiln_squared_difference_s8(const kiln_ew_binary_s8_params_t *p, const int8_t *a,
                                const int8_t *b, int8_t *out)
{
    walk(p, a, b, out, sqdiff_one);
}

void kiln_maximum_s8(const kiln_ew_binary_s8_params_t *p, const int8_t *a, const int8_t *b,
                     int8_t *out)
{
    walk(p, a, b, out, max_one);
}

void kiln_minimum_s8(const kiln_ew_binary_s8_params_t *p, const int8_t *a, const int8_t *b,
                     int8_t *out)
{
    walk(p, a, b, out, min_one);
}

/* Leading bits equal to the sign bit, minus one (31 for 0 and -1), as the
 * reference's CountLeadingSignBits. */
static int32_t leading_sign_bits(int32_t x)
{
    if (x >= 0) {
        return kiln_clz32((uint32_t)x) - 1;
    }
    return kiln_clz32(2u * (uint32_t)(-x) - 1u);
}

/* DIV as tflite-micro's int8 DIV: the divisor's reciprocal in fixed point
 * (1 / (1 + x) on its normalized mantissa), the dividend normalized by its
 * headroom, their product, then one rounding right shift that also folds
 * the output multiplier's shift, the reciprocal's exponent and the
 * headroom. |a|, |b| <= 255, so the headroom is at least 22 and the
 * generator refuses output shifts above 22 (the total shift is then never
 * a left shift). A total right shift above 31 leaves less than one half:
 * the result is 0. A zero divisor (undefined in the reference) gives the
 * clamp limit of the dividend's sign, or the zero point for 0 / 0. */
static int8_t div_one(const kiln_ew_binary_s8_params_t *p, int32_t qa, int32_t qb)
{
    int32_t a = qa + p->a_offset;
    int32_t b = qb + p->b_offset;
    int32_t clz_b, recip_shift, inv, headroom, q, right, r;

    if (b == 0) {
        r = a > 0 ? p->act_max : (a < 0 ? p->act_min : p->out_offset);
        return (int8_t)kiln_clamp_s32(r, p->act_min, p->act_max);
    }
    if (b < 0) {
        a = -a;
        b = -b;
    }
    clz_b = kiln_clz32((uint32_t)b);
    recip_shift = 31 - clz_b;
    inv = kiln_one_over_one_plus_x_q0((int32_t)(((uint32_t)b << clz_b) - 0x80000000u));
    headroom = leading_sign_bits(a);
    q = kiln_sat_rdhm((int32_t)((uint32_t)a << headroom), inv);
    right = -(p->out_shift - recip_shift - headroom);
    q = kiln_sat_rdhm(q, p->out_mult);
    r = (right > 31 ? 0 : kiln_rounding_div_pot(q, right)) + p->out_offset;
    return (int8_t)kiln_clamp_s32(r, p->act_min, p->act_max);
}

void kiln_div_s8(const kiln_ew_binary_s8_params_t *p, const int8_t *a, const int8_t *b, int8_t *out)
{
    walk(p, a, b, out, div_one);
}
