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
