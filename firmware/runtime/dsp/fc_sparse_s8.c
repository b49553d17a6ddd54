/*
 * Kiln DSP kernel: FULLY_CONNECTED with block-sparse int8 weights
 * (kiln/dsp.h): the input row widened once, then per pair of units only
 * the K groups of four where one of the pair's weights is nonzero. A group
 * costs its index, two activation words, four weight words and four SMLAD;
 * the dense kernel's cost per group, paid only for the nonzero ones.
 */
#include "dsp_rq.h"

static inline int32_t out_q(const kiln_dsp_fc_sparse_params_t *p, const kiln_dsp_rq_t *r, int32_t acc,
                            int clamp, int exact)
{
    int32_t q = kiln_dsp_rq(acc, r, exact);
    if (clamp) {
        q = kiln_dsp_clamp(q, p->act_min, p->act_max);
    }
    return q;
}

/* The input row widened: [x0, x2] [x1, x3] per group of four, as the
 * weights are laid out; a K tail's missing activations are 0 (they meet zero
 * weights). Two groups per iteration on the target: two LDR, four SXTB16,
 * one STM. */
static void widen_row(uint32_t *xw, const int8_t *in, uint32_t in_n)
{
    const uint32_t full = in_n / 4u;
    uint32_t g = 0;

#if KILN_DSP_ASM
    if (full >= 2u) {
        const int8_t *end = in + 8u * (full / 2u);
        __asm__ volatile(
            "1:\n\t"
            "ldr    r5, [%[src]], #4\n\t"
            "ldr    r7, [%[src]], #4\n\t"
            "sxtb16 r4, r5\n\t"
            "sxtb16 r5, r5, ror #8\n\t"
            "sxtb16 r6, r7\n\t"
            "sxtb16 r7, r7, ror #8\n\t"
            "stmia  %[dst]!, {r4-r7}\n\t"
            "cmp    %[src], %[end]\n\t"
            "bne    1b\n\t"
            : [src] "+r"(in), [dst] "+r"(xw)
            : [end] "r"(end)
            : "r4", "r5", "r6", "r7", "cc", "memory");
        g = 2u * (full / 2u);
    }
#endif
    for (; g < full; g++, in += 4, xw += 2) {
        const uint32_t v = kiln_load32(in);
        xw[0] = kiln_sxtb16(v);
        xw[1] = kiln_sxtb16_ror8(v);
    }
    if (in_n % 4u) {
        const uint32_t v = kiln_load_tail32(in, in_n % 4u);
        xw[0] = kiln_sxtb16(v);
        xw[1] = kiln_sxtb16_ror8(v);
    }
}

/* A unit pair's nonzero groups idx .. end - 1: per group two activation
 * words (the widened row, 2 words a group), the pair's four weight words
 * and four SMLAD into *a and *c. Returns the weights after the pair. */
#if KILN_DSP_ASM
#define KILN_FC_SPARSE_GROUP_ASM \
            "ldrh   r4, [%[ip]], #2\n\t" \
            "add    r4, %[xw], r4, lsl #3\n\t" \
            "ldrd   r4, r5, [r4]\n\t" \
            "ldmia  %[wp]!, {r6-r9}\n\t" \
            "smlad  %[a0], r4, r6, %[a0]\n\t" \
            "smlad  %[a0], r5, r7, %[a0]\n\t" \
            "smlad  %[a1], r4, r8, %[a1]\n\t" \
            "smlad  %[a1], r5, r9, %[a1]\n\t"
#endif

/* Not inlined: the loop needs twelve registers, which the caller's live values
 * would leave it short of. */
static __attribute__((noinline)) const uint32_t *pair_groups(const uint32_t *xw, const uint32_t *w, const uint16_t *idx,
                                          const uint16_t *end, int32_t *a, int32_t *c)
{
#if KILN_DSP_ASM
    int32_t acc0 = *a, acc1 = *c;

    if (idx != end) {
        /* Two groups an iteration (an odd count enters at the second): per
         * group LDRH, the address, LDRD of the activations, LDM of the four
         * weight words, four SMLAD; nine instructions with the loop's share. */
        __asm__ volatile(
            "sub    r4, %[end], %[ip]\n\t"
            "tst    r4, #2\n\t"
            "bne    2f\n\t"
            "1:\n\t"
            KILN_FC_SPARSE_GROUP_ASM
            "2:\n\t"
            KILN_FC_SPARSE_GROUP_ASM
            "cmp    %[ip], %[end]\n\t"
            "bne    1b\n\t"
            : [a0] "+r"(acc0), [a1] "+r"(acc1), [ip] "+r"(idx), [wp] "+r"(w)
            : [xw] "r"(xw), [end] "r"(end)
            : "r4", "r5", "r6", "r7", "r8", "r9", "cc", "memory");
    }
    *a = acc0;
    *c = acc1;
    return w;
#else
    int32_t acc0 = *a, acc1 = *c;

    for (; idx != end; idx++) {
        const uint32_t *x = xw + 2u * *idx;
        uint32_t x0, x1, w00, w01, w10, w11;
        KILN_LDRD_INC(x, x0, x1);
        KILN_LDRD_INC(w, w00, w01);
        KILN_LDRD_INC(w, w10, w11);
        acc0 = kiln_smlad(x0, w00, acc0);
        acc0 = kiln_smlad(x1, w01, acc0);
        acc1 = kiln_smlad(x0, w10, acc1);
        acc1 = kiln_smlad(x1, w11, acc1);
    }
    *a = acc0;
    *c = acc1;
    return w;
#endif
}

KILN_SPECIALIZE void body(const kiln_dsp_fc_sparse_params_t *p, const int8_t *in, int8_t *out,
                          int clamp, int exact)
{
    uint32_t *xw = (uint32_t *)(void *)p->scratch;
    uint32_t b, u;

    for (b = 0; b < p->batches; b++, in += p->in_n, out += p->out_n) {
        const uint32_t *w = (const uint32_t *)(const void *)p->w;
        const kiln_dsp_rq_t *r = p->rq;
        widen_row(xw, in, p->in_n);
        for (u = 0; u < p->out_n; u += 2u, r += 2) {
            const uint16_t *idx = p->nz_idx + p->nz_start[u / 2u];
            const uint16_t *end = p->nz_idx + p->nz_start[u / 2u + 1u];
            int32_t a = r[0].bias, c = u + 1u < p->out_n ? r[1].bias : 0;
            w = pair_groups(xw, w, idx, end, &a, &c);
            out[u] = (int8_t)out_q(p, &r[0], a, clamp, exact);
            if (u + 1u < p->out_n) {
                out[u + 1u] = (int8_t)out_q(p, &r[1], c, clamp, exact);
            }
        }
    }
}

static void body_exact(const kiln_dsp_fc_sparse_params_t *p, const int8_t *in, int8_t *out)
{
    body(p, in, out, p->clamp, 1);
}

void kiln_dsp_fc_sparse_s8(const kiln_dsp_fc_sparse_params_t *p, const int8_t *in, int8_t *out)
{
    if (p->exact) {
        body_exact(p, in, out);
    } else if (p->clamp) {
        body(p, in, out, 1, 0);
    } else {
        body(p, in, out, 0, 0);
    }
}
