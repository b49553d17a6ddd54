/*
 * Kiln DSP kernel: BATCH_MATMUL of two int8 activations (attention's Q K^T
 * and its weighted sum of V), and FULLY_CONNECTED with runtime weights
 * (kiln/dsp.h).
 *
 * Why: the portable kernel reads both operands through their strides one
 * product at a time, about 14 instructions per MAC. Here each batch's
 * operands are first copied into arena scratch as int16 rows along the depth
 * with their offsets added, the left one doubled so that the sums are the
 * doubled accumulator the requantization takes: the LHS as [rows][depth4],
 * the RHS as its columns [cols][depth4] (depth4: the depth rounded up to a
 * multiple of four, the pad 0). A row contiguous in memory is widened a word
 * at a time. A 2x2 block of outputs then reads one word of each of its two
 * rows and two columns per two depth steps: four SMLAD per four loads. A
 * broadcast operand (batch stride 0) is copied once.
 */
#include "dsp_rq.h"

/* Depth positions are stored in groups of four as [k0, k2, k1, k3]: the order
 * SXTB16 and SXTB16 ROR #8 widen a word of four int8 values into. Both
 * operands use the same order, so the sum over the depth is unchanged. */
static inline uint32_t slot(uint32_t k)
{
    const uint32_t r = k & 3u;

    return (k & ~3u) | (r == 1u ? 2u : (r == 2u ? 1u : r));
}

/* Rows [0, n) and depths [0, depth) (both multiples of four) of an operand
 * whose rows are adjacent bytes (s_n == 1: the columns of A.B's right-hand
 * side, V in attention), as pack() lays them out. A 4x4 tile is four words,
 * one per depth, of four rows each; SXTB16 splits each into rows {0, 2} and
 * {1, 3}, and PKHBT / PKHTB pair depths {k0, k2} and {k1, k3} of one row,
 * the slot order: 2 instructions per value against 10 one at a time. */
KILN_SPECIALIZE void pack_tiles(int16_t *dst, const int8_t *src, uint32_t n, uint32_t depth, uint32_t d4,
                                uint32_t s_k, uint32_t off2, int doubled)
{
    uint32_t i, k, t;

    for (i = 0; i < n; i += 4u) {
        uint32_t *w0 = (uint32_t *)(void *)(dst + (size_t)i * d4);
        for (k = 0; k < depth; k += 4u) {
            const int8_t *s = src + i + (size_t)k * s_k;
            uint32_t e[4], o[4];
            for (t = 0; t < 4u; t++) {
                const uint32_t v = kiln_load32(s + (size_t)t * s_k);
                e[t] = kiln_sadd16(kiln_sxtb16(v), off2);
                o[t] = kiln_sadd16(kiln_sxtb16_ror8(v), off2);
                if (doubled) {
                    e[t] = kiln_sadd16(e[t], e[t]);
                    o[t] = kiln_sadd16(o[t], o[t]);
                }
            }
            /* row i + r's words for this group sit at w0 + r * d4 / 2 + k / 2 */
            w0[k / 2u] = kiln_pkhbt16(e[0], e[2]);
            w0[k / 2u + 1u] = kiln_pkhbt16(e[1], e[3]);
            w0[d4 / 2u + k / 2u] = kiln_pkhbt16(o[0], o[2]);
            w0[d4 / 2u + k / 2u + 1u] = kiln_pkhbt16(o[1], o[3]);
            w0[d4 + k / 2u] = kiln_pkhtb16(e[0], e[2]);
            w0[d4 + k / 2u + 1u] = kiln_pkhtb16(e[1], e[3]);
            w0[3u * d4 / 2u + k / 2u] = kiln_pkhtb16(o[0], o[2]);
            w0[3u * d4 / 2u + k / 2u + 1u] = kiln_pkhtb16(o[1], o[3]);
        }
    }
}

/* n rows of `depth` values, element (i, k) at src[i * s_n + k * s_k], as
 * int16 (v + offset) * (doubled ? 2 : 1), each row d4 long (zeros past the
 * depth). */
KILN_SPECIALIZE void pack(int16_t *dst, const int8_t *src, uint32_t n, uint32_t depth, uint32_t d4,
                          uint32_t s_n, uint32_t s_k, int32_t offset, int doubled)
{
    const uint32_t off2 = (uint32_t)(offset & 0xFFFF) * 0x10001u;
    const uint32_t tiled = s_n == 1u && s_k != 1u ? n & ~3u : 0u;
    uint32_t i, k;

    if (tiled) {
        pack_tiles(dst, src, tiled, depth & ~3u, d4, s_k, off2, doubled);
    }
    for (i = 0; i < n; i++, dst += d4) {
        const int8_t *s = src + (size_t)i * s_n;
        k = 0;
        if (i < tiled) {
            k = depth & ~3u;   /* the tiles packed the whole groups */
        } else if (s_k == 1u) {
            /* a word of four values: two SXTB16, two SADD16 (and the doubling) */
            uint32_t *w = (uint32_t *)(void *)dst;
            const int8_t *end = s + (depth & ~3u);
            for (; s != end; s += 4, w += 2) {
                const uint32_t v = kiln_load32(s);
                uint32_t e = kiln_sadd16(kiln_sxtb16(v), off2), o = kiln_sadd16(kiln_sxtb16_ror8(v), off2);
                if (doubled) {
                    e = kiln_sadd16(e, e);
                    o = kiln_sadd16(o, o);
                }
                w[0] = e;
                w[1] = o;
            }
            k = depth & ~3u;
            s -= k;
        }
        for (; k < depth; k++) {
            dst[slot(k)] = (int16_t)(((int32_t)s[(size_t)k * s_k] + offset) * (doubled ? 2 : 1));
        }
        for (; k < d4; k++) {
            dst[slot(k)] = 0;
        }
    }
}

/* The doubled accumulators of rows a0, a1 against columns b0, b1 over n
 * words (n even: the packed depth is a multiple of four, two words): per
 * two words four LDRD and eight SMLAD, 14 instructions for 16 MACs with the
 * loop, against 20 a word at a time (GCC forms no LDRD here). */
static inline void block(const uint32_t *a0, const uint32_t *a1, const uint32_t *b0, const uint32_t *b1,
                         uint32_t n, int32_t *c)
{
    const uint32_t *end = a0 + n;
    int32_t c00 = 0, c01 = 0, c10 = 0, c11 = 0;

    while (a0 != end) {
        uint32_t x0, x0b, x1, x1b, y0, y0b, y1, y1b;
        KILN_LDRD_INC(a0, x0, x0b);
        KILN_LDRD_INC(b0, y0, y0b);
        c00 = kiln_smlad(x0, y0, c00);
        c00 = kiln_smlad(x0b, y0b, c00);
        KILN_LDRD_INC(b1, y1, y1b);
        c01 = kiln_smlad(x0, y1, c01);
        c01 = kiln_smlad(x0b, y1b, c01);
        KILN_LDRD_INC(a1, x1, x1b);
        c10 = kiln_smlad(x1, y0, c10);
        c10 = kiln_smlad(x1b, y0b, c10);
        c11 = kiln_smlad(x1, y1, c11);
        c11 = kiln_smlad(x1b, y1b, c11);
    }
    c[0] = c00;
    c[1] = c01;
    c[2] = c10;
    c[3] = c11;
}

/* One batch's product from the packed operands into out[rows][cols]. Odd
 * edges repeat the last row or column and store only what is theirs. An
 * exact record, and a clamp narrower than int8 (SSAT already gives the
 * full range), are known before the loops. */
KILN_SPECIALIZE void product(const kiln_dsp_matmul_params_t *p, int8_t *out, int exact, int clamp)
{
    const uint32_t rows = p->mm.rows, cols = p->mm.cols, words = (p->mm.depth + 3u) / 4u * 2u;
    const uint32_t *lw = (const uint32_t *)(const void *)p->lw;
    const uint32_t *rw = (const uint32_t *)(const void *)p->rw;
    const kiln_dsp_rq_t rq = p->rq;
    const int32_t lo = p->mm.act_min, hi = p->mm.act_max;
    uint32_t i, j;
    int32_t c[4];

#define KILN_MM_OUT(v) ((int8_t)(clamp ? kiln_dsp_clamp(kiln_dsp_rq((v), &rq, exact), lo, hi) \
                                       : kiln_dsp_rq((v), &rq, exact)))
    for (i = 0; i < rows; i += 2u) {
        const uint32_t i1 = i + 1u < rows ? i + 1u : i;
        int8_t *o0 = out + (size_t)i * cols, *o1 = out + (size_t)i1 * cols;
        const uint32_t *a0 = lw + i * words, *a1 = lw + i1 * words;
        for (j = 0; j + 1u < cols; j += 2u) {
            block(a0, a1, rw + j * words, rw + (j + 1u) * words, words, c);
            o0[j] = KILN_MM_OUT(c[0]);
            o0[j + 1u] = KILN_MM_OUT(c[1]);
            o1[j] = KILN_MM_OUT(c[2]);     /* the same as o0's when i1 == i */
            o1[j + 1u] = KILN_MM_OUT(c[3]);
        }
        if (j < cols) {
            block(a0, a1, rw + j * words, rw + j * words, words, c);
            o0[j] = KILN_MM_OUT(c[0]);
            o1[j] = KILN_MM_OUT(c[2]);
        }
    }
#undef KILN_MM_OUT
}

void kiln_dsp_matmul_s8(const kiln_dsp_matmul_params_t *p, const int8_t *lhs, const int8_t *rhs,
                        int8_t *out)
{
    const kiln_batch_matmul_params_t *m = &p->mm;
    const uint32_t d4 = (m->depth + 3u) & ~3u;
    const int8_t *packed_l = 0, *packed_r = 0;
    uint32_t b0, b1;

    for (b0 = 0; b0 < m->batch[0]; b0++) {
        for (b1 = 0; b1 < m->batch[1]; b1++) {
            const int8_t *l = lhs + (size_t)b0 * m->lhs_bstride[0] + (size_t)b1 * m->lhs_bstride[1];
            const int8_t *r = rhs + (size_t)b0 * m->rhs_bstride[0] + (size_t)b1 * m->rhs_bstride[1];
            if (l != packed_l) {
                pack(p->lw, l, m->rows, m->depth, d4, m->l_row, m->l_k, m->lhs_offset, 1);
                packed_l = l;
            }
            if (r != packed_r) {
                pack(p->rw, r, m->cols, m->depth, d4, m->r_col, m->r_k, m->rhs_offset, 0);
                packed_r = r;
            }
            if (p->rq.shift < 0) {
                product(p, out, 1, 1);
            } else if (m->act_min > -128 || m->act_max < 127) {
                product(p, out, 0, 1);
            } else {
                product(p, out, 0, 0);
            }
            out += (size_t)m->rows * m->cols;
        }
    }
}
