/*
 * Kiln portable kernels: int8 ADD and MUL with broadcasting (reference).
 *
 * Both walk the 4-D output with binary_walk.inc (shared with int16).
 */
#include "kiln/kernels.h"
#include "kiln/quant.h"

#define KILN_BW_T int8_t
#include "binary_walk.inc"

/* ADD: each input is offset, scaled up by 2^left_shift for headroom,
 * brought to the common scale (twice the larger input scale) with its own
 * multiplier, summed, and the sum requantized to the output scale. */
static int32_t add_one(const kiln_binary_s8_params_t *p, int32_t qa, int32_t qb)
{
    const int32_t a = (int32_t)((uint32_t)(qa + p->a_offset) << p->left_shift);
    const int32_t b = (int32_t)((uint32_t)(qb + p->b_offset) << p->left_shift);
    const int32_t sa = kiln_requantize(a, p->a_mult, p->a_shift);
    const int32_t sb = kiln_requantize(b, p->b_mult, p->b_shift);
    return kiln_requantize(sa + sb, p->out_mult, p->out_shift) + p->out_offset;
}

/* MUL: the product of the offset inputs requantized to the output scale. */
static int32_t mul_one(const kiln_binary_s8_params_t *p, int32_t qa, int32_t qb)
{
    const int32_t prod = (qa + p->a_offset) * (qb + p->b_offset);

    return kiln_requantize(prod, p->out_mult, p->out_shift) + p->out_offset;
}

/* ADD: out = a + b in real terms (see add_one). */
void kiln_add_s8(const kiln_binary_s8_params_t *p, const int8_t *a,
                 const int8_t *b, int8_t *out)
{
    binary_walk(p, a, b, out, add_one);
}

/* MUL: out = a * b in real terms (see mul_one). */
void kiln_mul_s8(const kiln_binary_s8_params_t *p, const int8_t *a,
                 const int8_t *b, int8_t *out)
{
    binary_walk(p, a, b, out, mul_one);
}
