/*
 * Kiln DSP kernels: the batch and row-block walk shared by the two
 * FULLY_CONNECTED kernels (fc_s8.c: int16 weights, fc_w8_s8.c: int8).
 *
 * Rows go in blocks of 6, then at most one each of 4, 2 and 1
 * (dsp_layout.fc_blocks lays the weights out in that order); each block function reads its rows'
 * weights from w and returns where the next block's start. The block
 * functions are compile-time constants at every call, so the calls below are
 * direct once this is inlined.
 */
#ifndef KILN_DSP_FC_WALK_H
#define KILN_DSP_FC_WALK_H

#include "dsp_rq.h"

typedef const uint32_t *(*kiln_dsp_fc_rows_t)(const kiln_dsp_fc_params_t *p, const int8_t *x,
                                               const uint32_t *w, const kiln_dsp_rq_t *r, int8_t *o);

/* The 6-row block's assembly loop (fc_s8.c, fc_w8_s8.c): GROUP_ASM twice per
 * iteration until the input pointer (r12, from x) reaches end; the six
 * accumulators in r0-r5, from and back to acc[]; the weights in lr, from w,
 * which is left at the next block's start. GROUP_ASM may use r6-r11. The
 * accumulators stay in registers only in assembly (GCC spills some and
 * never forms LDM). */
#define KILN_FC6_PAIRS_ASM(GROUP_ASM, acc, x, w, end)                                \
    do {                                                                             \
        register int32_t a0 __asm__("r0") = (acc)[0];                                \
        register int32_t a1 __asm__("r1") = (acc)[1];                                \
        register int32_t a2 __asm__("r2") = (acc)[2];                                \
        register int32_t a3 __asm__("r3") = (acc)[3];                                \
        register int32_t a4 __asm__("r4") = (acc)[4];                                \
        register int32_t a5 __asm__("r5") = (acc)[5];                                \
        register const void *xr __asm__("r12") = (x);                                \
        register const uint32_t *wp __asm__("lr") = (w);                             \
        __asm__ volatile("1:\n\t" GROUP_ASM GROUP_ASM                                 \
                         "ldr    r8, %[end]\n\t"                                     \
                         "cmp    r12, r8\n\t"                                        \
                         "bne    1b\n\t"                                             \
                         : "+r"(a0), "+r"(a1), "+r"(a2), "+r"(a3), "+r"(a4), "+r"(a5), \
                           "+r"(xr), "+r"(wp)                                        \
                         : [end] "m"(end)                                            \
                         : "r6", "r7", "r8", "r9", "r10", "r11", "cc", "memory");    \
        (acc)[0] = a0; (acc)[1] = a1; (acc)[2] = a2;                                 \
        (acc)[3] = a3; (acc)[4] = a4; (acc)[5] = a5;                                 \
        (w) = wp;                                                                    \
    } while (0)

/* One batch row: the row blocks of out_n outputs from the input x. */
KILN_SPECIALIZE void kiln_dsp_fc_blocks(const kiln_dsp_fc_params_t *p, const int8_t *x, int8_t *out,
                                         const void *weights, kiln_dsp_fc_rows_t rows6,
                                         kiln_dsp_fc_rows_t rows4, kiln_dsp_fc_rows_t rows2,
                                         kiln_dsp_fc_rows_t rows1)
{
    const uint32_t *w = (const uint32_t *)weights;
    const kiln_dsp_rq_t *r = p->rq;
    uint32_t row = 0;

    for (; row + 6 <= p->out_n; row += 6, r += 6) {
        w = rows6(p, x, w, r, out + row);
    }
    if (row + 4 <= p->out_n) {
        w = rows4(p, x, w, r, out + row);
        row += 4;
        r += 4;
    }
    if (row + 2 <= p->out_n) {
        w = rows2(p, x, w, r, out + row);
        row += 2;
        r += 2;
    }
    if (row < p->out_n) {
        rows1(p, x, w, r, out + row);
    }
}

KILN_SPECIALIZE void kiln_dsp_fc_walk(const kiln_dsp_fc_params_t *p, const int8_t *in, int8_t *out,
                                       const void *weights, kiln_dsp_fc_rows_t rows6,
                                       kiln_dsp_fc_rows_t rows4, kiln_dsp_fc_rows_t rows2,
                                       kiln_dsp_fc_rows_t rows1)
{
    uint32_t b;

    for (b = 0; b < p->batches; b++) {
        kiln_dsp_fc_blocks(p, in, out, weights, rows6, rows4, rows2, rows1);
        in += p->in_n;
        out += p->out_n;
    }
}

#endif /* KILN_DSP_FC_WALK_H */
