/*
 * Kiln DSP kernels: ADD, SUB, MUL and SQUARED_DIFFERENCE of two int8
 * tensors with broadcasting (kiln/dsp.h).
 *
 * ADD and SUB: TFLite rescales each input (offset, << 20, requantize to the
 * common scale) before summing. That rescaling depends only on the int8
 * value, so the build tabulates it (256 int32 per input, doubled for the
 * fast requantization; SUB's second table negated): per element two table
 * loads, one add and the four-instruction requantization, instead of three
 * full requantizations.
 *
 * MUL: (a - za) * 2 (b - zb) (the doubling folded into b's offset add), one
 * MUL and the same requantization.
 *
 * SQUARED_DIFFERENCE: the inputs are rescaled as ADD's, so the same two
 * tables (undoubled, the second negated) give the difference; its square,
 * doubled, is requantized. The portable kernel spends about 110 instructions
 * per element on three full requantizations.
 *
 * Broadcasting: the build collapses the shapes so that the innermost
 * dimension is as long as possible, and gives each input a stride per
 * dimension (0 where it is broadcast). The walk runs the innermost rows with
 * each input either advancing by one or held, the test hoisted out of the
 * row.
 */
#include "dsp_rq.h"

typedef struct {
    const int32_t *ta, *tb;    /* ADD/SUB tables, centred on 0 */
    int32_t a_off, b_off2;     /* MUL offsets */
    int32_t mult, round, shift, lo, hi;
} binary_t;

enum { OP_ADD, OP_MUL, OP_SQDIFF };

KILN_SPECIALIZE int32_t one(const binary_t *k, int32_t a, int32_t b, int kind, int clamp)
{
    const int32_t d = kind == OP_SQDIFF ? k->ta[a] + k->tb[b] : 0;
    const int32_t acc2 = kind == OP_MUL ? (a + k->a_off) * (k->b_off2 + 2 * b)
                         : kind == OP_SQDIFF ? (int32_t)((uint32_t)(d * d) << 1) : k->ta[a] + k->tb[b];
    const int32_t q = kiln_dsp_requant(acc2, k->mult, k->round, k->shift);

    return clamp ? kiln_dsp_clamp(q, k->lo, k->hi) : q;
}

/* One innermost row of n outputs; a and b advance by sa and sb (0 or 1). */
KILN_SPECIALIZE void row(const binary_t *k, const int8_t *a, uint32_t sa, const int8_t *b, uint32_t sb,
                         int8_t *out, uint32_t n, int kind, int clamp)
{
    const int8_t *end = out + n;

    if (sa && sb) {
        while (out != end) {
            *out++ = (int8_t)one(k, *a++, *b++, kind, clamp);
        }
    } else if (sa) {
        const int32_t vb = *b;
        while (out != end) {
            *out++ = (int8_t)one(k, *a++, vb, kind, clamp);
        }
    } else if (sb) {
        const int32_t va = *a;
        while (out != end) {
            *out++ = (int8_t)one(k, va, *b++, kind, clamp);
        }
    } else {
        const int8_t v = (int8_t)one(k, *a, *b, kind, clamp);
        while (out != end) {
            *out++ = v;
        }
    }
}

KILN_SPECIALIZE void walk(const kiln_dsp_binary_params_t *p, const binary_t *k, const int8_t *a,
                          const int8_t *b, int8_t *out, int kind, int clamp)
{
    const uint32_t n = p->shape[3];
    uint32_t i0, i1, i2;

    for (i0 = 0; i0 < p->shape[0]; i0++) {
        for (i1 = 0; i1 < p->shape[1]; i1++) {
            for (i2 = 0; i2 < p->shape[2]; i2++) {
                const int8_t *ra = a + i0 * p->a_stride[0] + i1 * p->a_stride[1] + i2 * p->a_stride[2];
                const int8_t *rb = b + i0 * p->b_stride[0] + i1 * p->b_stride[1] + i2 * p->b_stride[2];
                row(k, ra, p->a_stride[3], rb, p->b_stride[3], out, n, kind, clamp);
                out += n;
            }
        }
    }
}

static binary_t constants(const kiln_dsp_binary_params_t *p)
{
    binary_t k;

    k.ta = p->a_tab != 0 ? p->a_tab + 128 : 0;
    k.tb = p->b_tab != 0 ? p->b_tab + 128 : 0;
    k.a_off = p->a_offset;
    k.b_off2 = 2 * p->b_offset;
    k.mult = p->mult;
    k.round = p->round;
    k.shift = p->shift;
    k.lo = p->act_min;
    k.hi = p->act_max;
    return k;
}

/* The walk with the operation and the clamp known at compile time. */
KILN_SPECIALIZE void run(const kiln_dsp_binary_params_t *p, const int8_t *a, const int8_t *b, int8_t *out,
                         int kind)
{
    const binary_t k = constants(p);

    if (p->clamp) {
        walk(p, &k, a, b, out, kind, 1);
    } else {
        walk(p, &k, a, b, out, kind, 0);
    }
}

void kiln_dsp_add_s8(const kiln_dsp_binary_params_t *p, const int8_t *a, const int8_t *b,
                      int8_t *out)
{
    run(p, a, b, out, OP_ADD);
}

void kiln_dsp_mul_s8(const kiln_dsp_binary_params_t *p, const int8_t *a, const int8_t *b,
                      int8_t *out)
{
    run(p, a, b, out, OP_MUL);
}

void kiln_dsp_sqdiff_s8(const kiln_dsp_binary_params_t *p, const int8_t *a, const int8_t *b,
                        int8_t *out)
{
    run(p, a, b, out, OP_SQDIFF);
}
