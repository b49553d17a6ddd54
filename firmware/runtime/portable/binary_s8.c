/*
 * Kiln portable kernels: int8 ADD and MUL with broadcasting (reference).
 *
 * Both walk the 4-D output in row-major order; each input is addressed
 * through its own strides (0 on broadcast dimensions).
 */
#include "kiln/kernels.h"
#include "kiln/quant.h"

/* ADD: each input is offset, scaled up by 2^left_shift for headroom,
 * brought to the common scale (twice the larger input scale) with its own
 * multiplier, summed, and the sum requantized to the output scale. */
static int8_t add_one(const kiln_binary_s8_params_t *p, int32_t qa, int32_t qb)
{
    const int32_t a = (int32_t)((uint32_t)(qa + p->a_offset) << p->left_shift);
    const int32_t b = (int32_t)((uint32_t)(qb + p->b_offset) << p->left_shift);
    const int32_t sa = kiln_requantize(a, p->a_mult, p->a_shift);
    const int32_t sb = kiln_requantize(b, p->b_mult, p->b_shift);
    const int32_t r = kiln_requantize(sa + sb, p->out_mult, p->out_shift) + p->out_offset;

    return (int8_t)kiln_clamp_s32(r, p->act_min, p->act_max);
}

/* MUL: the product of the offset inputs requantized to the output scale. */
static int8_t mul_one(const kiln_binary_s8_params_t *p, int32_t qa, int32_t qb)
{
    const int32_t prod = (qa + p->a_offset) * (qb + p->b_offset);
    const int32_t r = kiln_requantize(prod, p->out_mult, p->out_shift) + p->out_offset;

    return (int8_t)kiln_clamp_s32(r, p->act_min, p->act_max);
}

/* Shared broadcast walk; `op` is add_one or mul_one. */
static void binary_walk(const kiln_binary_s8_params_t *p, const int8_t *a,
                        const int8_t *b, int8_t *out,
                        int8_t (*op)(const kiln_binary_s8_params_t *, int32_t, int32_t))
{
    uint32_t i0, i1, i2, i3;
    size_t o = 0;

    for (i0 = 0; i0 < p->out_shape[0]; i0++) {
        for (i1 = 0; i1 < p->out_shape[1]; i1++) {
            for (i2 = 0; i2 < p->out_shape[2]; i2++) {
                const size_t ab = (size_t)i0 * p->a_stride[0] + (size_t)i1 * p->a_stride[1] +
                                  (size_t)i2 * p->a_stride[2];
                const size_t bb = (size_t)i0 * p->b_stride[0] + (size_t)i1 * p->b_stride[1] +
                                  (size_t)i2 * p->b_stride[2];
                for (i3 = 0; i3 < p->out_shape[3]; i3++) {
                    out[o++] = op(p, a[ab + (size_t)i3 * p->a_stride[3]],
                                  b[bb + (size_t)i3 * p->b_stride[3]]);
                }
            }
        }
    }
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
