/*
 * Kiln portable kernels: int16 ADD, SUB, MUL, SQUARED_DIFFERENCE, MAXIMUM
 * and MINIMUM with broadcasting (the
 * int8 arithmetic of binary_s8.c on int16 values; ADD and SUB with TFLite's
 * int16 headroom, left_shift = 15). Recipes: kiln/ops/int16.h.
 */
#include "kiln/kernels.h"
#include "kiln/quant.h"

#define KILN_BW_T int16_t
#include "binary_walk.inc"

/* Both inputs offset, scaled up by 2^left_shift, brought to the common
 * scale; `sign` +1 adds, -1 subtracts; the result requantized. */
static int32_t add_sub(const kiln_binary_s8_params_t *p, int32_t qa, int32_t qb, int32_t sign)
{
    const int32_t a = (int32_t)((uint32_t)(qa + p->a_offset) << p->left_shift);
    const int32_t b = (int32_t)((uint32_t)(qb + p->b_offset) << p->left_shift);
    const int32_t sa = kiln_requantize(a, p->a_mult, p->a_shift);
    const int32_t sb = kiln_requantize(b, p->b_mult, p->b_shift);

    return kiln_requantize(sign > 0 ? sa + sb : sa - sb, p->out_mult, p->out_shift) + p->out_offset;
}

static int32_t add_one(const kiln_binary_s8_params_t *p, int32_t qa, int32_t qb)
{
    return add_sub(p, qa, qb, 1);
}

static int32_t sub_one(const kiln_binary_s8_params_t *p, int32_t qa, int32_t qb)
{
    return add_sub(p, qa, qb, -1);
}

static int32_t mul_one(const kiln_binary_s8_params_t *p, int32_t qa, int32_t qb)
{
    const int32_t prod = (qa + p->a_offset) * (qb + p->b_offset);

    return kiln_requantize(prod, p->out_mult, p->out_shift) + p->out_offset;
}

/* SQUARED_DIFFERENCE: both inputs to the common scale (no headroom shift:
 * the values are 16-bit already), the square of the difference (below 2^30)
 * requantized to the output. */
static int32_t sqdiff_one(const kiln_binary_s8_params_t *p, int32_t qa, int32_t qb)
{
    const int32_t d = kiln_requantize(qa + p->a_offset, p->a_mult, p->a_shift) -
                      kiln_requantize(qb + p->b_offset, p->b_mult, p->b_shift);

    return kiln_requantize(d * d, p->out_mult, p->out_shift) + p->out_offset;
}

/* MAXIMUM, MINIMUM: raw values (every tensor shares one quantization). */
static int32_t max_one(const kiln_binary_s8_params_t *p, int32_t qa, int32_t qb)
{
    (void)p;
    return qa > qb ? qa : qb;
}

static int32_t min_one(const kiln_binary_s8_params_t *p, int32_t qa, int32_t qb)
{
    (void)p;
    return qa < qb ? qa : qb;
}

void kiln_add_s16(const kiln_binary_s8_params_t *p, const int16_t *a,
                  const int16_t *b, int16_t *out)
{
    binary_walk(p, a, b, out, add_one);
}

void kiln_sub_s16(const kiln_binary_s8_params_t *p, const int16_t *a,
                  const int16_t *b, int16_t *out)
{
    binary_walk(p, a, b, out, sub_one);
}

void kiln_mul_s16(const kiln_binary_s8_params_t *p, const int16_t *a,
                  const int16_t *b, int16_t *out)
{
    binary_walk(p, a, b, out, mul_one);
}

void kiln_maximum_s16(const kiln_binary_s8_params_t *p, const int16_t *a,
                      const int16_t *b, int16_t *out)
{
    binary_walk(p, a, b, out, max_one);
}

void kiln_minimum_s16(const kiln_binary_s8_params_t *p, const int16_t *a,
                      const int16_t *b, int16_t *out)
{
    binary_walk(p, a, b, out, min_one);
}

void kiln_squared_difference_s16(const kiln_binary_s8_params_t *p, const int16_t *a,
                                 const int16_t *b, int16_t *out)
{
    binary_walk(p, a, b, out, sqdiff_one);
}
