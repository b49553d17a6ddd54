/*
 * Kiln DSP kernels: int8 MAXIMUM and MINIMUM (kiln/dsp.h): the clips of
 * hard_sigmoid and ReLU-like activations written as tf.maximum /
 * tf.minimum, and an elementwise max of two branches.
 *
 * Why: the portable kernel calls a function per element through the
 * broadcast walk (about 10 instructions an element). Both inputs and the
 * output share one scale and zero point (the generator requires it, as
 * tflite-micro compares raw values), so a row whose operands are both
 * contiguous, or one of them a single value, is four bytes per SSUB8 + SEL.
 */
#include "kiln/dsp.h"
#include "kiln_dsp.h"

typedef uint32_t (*kiln_dsp_pick4_t)(uint32_t, uint32_t);

static uint32_t pick_max(uint32_t a, uint32_t b)
{
    return kiln_max_s8x4(a, b);
}

static uint32_t pick_min(uint32_t a, uint32_t b)
{
    return kiln_min_s8x4(a, b);
}

/* One output row of n values: a and b through their strides (1 or 0). */
KILN_SPECIALIZE void row(const int8_t *a, uint32_t sa, const int8_t *b, uint32_t sb, int8_t *out,
                         uint32_t n, kiln_dsp_pick4_t pick)
{
    const uint32_t a4 = kiln_splat_s8x4(a[0]), b4 = kiln_splat_s8x4(b[0]);
    int8_t *const end8 = out + (n & ~7u), *const end = out + n;

    /* two words a step, the pointers walking (an index costs an add per access) */
    while (out != end8) {
        const uint32_t va0 = sa ? kiln_load32(a) : a4, va1 = sa ? kiln_load32(a + 4) : a4;
        const uint32_t vb0 = sb ? kiln_load32(b) : b4, vb1 = sb ? kiln_load32(b + 4) : b4;
        kiln_store32(out, pick(va0, vb0));
        kiln_store32(out + 4, pick(va1, vb1));
        out += 8;
        a += 8u * sa;
        b += 8u * sb;
    }
    for (; out != end; out++, a += sa, b += sb) {
        *out = (int8_t)pick(kiln_splat_s8x4(*a), kiln_splat_s8x4(*b));
    }
}

KILN_SPECIALIZE void walk(const kiln_ew_binary_s8_params_t *p, const int8_t *a, const int8_t *b,
                          int8_t *out, kiln_dsp_pick4_t pick)
{
    const size_t rows = kiln_ew_rows(&p->bc);
    const uint32_t n = p->bc.shape[KILN_EW_RANK - 1];
    const uint32_t sa = p->bc.stride[0][KILN_EW_RANK - 1], sb = p->bc.stride[1][KILN_EW_RANK - 1];
    kiln_ew_iter_t it;
    size_t r;

    kiln_ew_iter_init(&it);
    for (r = 0; r < rows; r++, out += n) {
        const int8_t *ra = a + it.off[0], *rb = b + it.off[1];
        if (sa && sb) {
            row(ra, 1u, rb, 1u, out, n, pick);
        } else if (sa) {
            row(ra, 1u, rb, 0u, out, n, pick);
        } else if (sb) {
            row(ra, 0u, rb, 1u, out, n, pick);
        } else {
            row(ra, 0u, rb, 0u, out, n, pick);
        }
        kiln_ew_iter_next(&p->bc, &it);
    }
}

void kiln_dsp_maximum_s8(const kiln_ew_binary_s8_params_t *p, const int8_t *a, const int8_t *b, int8_t *out)
{
    walk(p, a, b, out, pick_max);
}

void kiln_dsp_minimum_s8(const kiln_ew_binary_s8_params_t *p, const int8_t *a, const int8_t *b, int8_t *out)
{
    walk(p, a, b, out, pick_min);
}
