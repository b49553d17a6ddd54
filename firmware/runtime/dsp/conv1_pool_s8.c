/*
 * Kiln DSP kernel: CONV_2D 3x3 over one input channel (VALID,
 * stride 1) fused with the 2x2 stride-2 max pool after it (kiln/dsp.h).
 *
 * Why it is fast: a first layer with one input channel has only 9 MACs per
 * output, so per-output overheads dominate. Here each pooled output costs,
 * per output channel, about 44 instructions: 6 multi-word loads (LDM), 20
 * SMUAD/SMLAD (four conv positions, 9 taps as 5 halfword pairs), 3
 * compare-and-select for the max, one requantization (instead of four) and
 * the store. The 4x4 input patch under a pool window is loaded once as four
 * words, widened with SXTB16 and shared by all output channels.
 *
 * Patch pairs: with r = the word at input row y+r, column x (bytes
 * p_r0..p_r3), e_r = SXTB16(r) = [p_r0, p_r2] and o_r = SXTB16(r ROR 8) =
 * [p_r1, p_r3]. Against the weight pairs
 *   [w00,w02] [w10,w12] [w20,w22] [w01,w11] [0,w21]
 * the conv output at column x uses  e_a, e_a+1, e_a+2, [o_a.lo, o_a+1.lo], [0, o_a+2.lo]
 * and the one at column x+1 uses    o_a, o_a+1, o_a+2, [e_a.hi, e_a+1.hi], e_a+2
 * (a = 0 or 1 for the pool window's upper or lower row; the last pair's
 * low lane meets a zero weight).
 *
 * The channel loop is one inline-assembly block on the target, so that each
 * load is one LDM; a narrower activation range (QAT's ReLU with an output
 * zero point above -128) is applied to the stored outputs in one pass
 * after the layer, four at a time. The C loop below is its exact equivalent (and the
 * host build's, and the one for exact records). The benchmark and the QEMU
 * fidelity test run the assembly against tflite-micro.
 *
 * Assumes: in_w >= 4 (the 4-byte loads stay inside each row: the window's
 * last column is x+3 <= in_w - 1); records as in kiln/dsp.h.
 */
#include "dsp_rq.h"

/* patch[0..19]: the 20 pairs; [20]: end of this window's outputs;
 * [21]: channel records; [22]: first output. */
#define PATCH_WORDS 23

/* All output channels of one pool window, in C. */
static void window_c(const kiln_dsp_conv1_pool_params_t *p, const uint32_t *pt, int8_t *o)
{
    const int32_t *rec = p->rec;
    const int8_t *end = o + p->g.out_c;

    do {
        const uint32_t w0 = (uint32_t)rec[0], w1 = (uint32_t)rec[1], w2 = (uint32_t)rec[2];
        const uint32_t w3 = (uint32_t)rec[3], w4 = (uint32_t)rec[4];
        const uint32_t *x = pt;
        int32_t m = 0, k, q;
        for (k = 0; k < 4; k++, x += 5) {
            const int32_t a = kiln_smlad(x[4], w4, kiln_smlad(x[3], w3, kiln_smlad(x[2], w2,
                              kiln_smlad(x[1], w1, kiln_smuad(x[0], w0)))));
            m = (k == 0 || a > m) ? a : m;
        }
        q = kiln_dsp_rq(m + rec[5], (const kiln_dsp_rq_t *)(const void *)(rec + 5), 1);
        if (p->clamp) {
            q = kiln_dsp_clamp(q, p->act_min, p->act_max);
        }
        *o++ = (int8_t)q;
        rec += 9;
    } while (o != end);
}

/* The activation clamp over n stored outputs, four at a time
 * (SSUB8/SEL: kiln_max_s8x4, kiln_min_s8x4 against the bounds in every
 * byte); clamping the stored int8 equals clamping before the store. */
static inline void clamp_bytes(int8_t *o, uint32_t n, uint32_t lo4, uint32_t hi4, int32_t lo, int32_t hi)
{
    if (hi == 127) {   /* a ReLU: only the lower bound (SSAT already kept 127) */
        for (; n >= 4u; n -= 4u, o += 4) {
            kiln_store32(o, kiln_max_s8x4(kiln_load32(o), lo4));
        }
    }
    for (; n >= 4u; n -= 4u, o += 4) {
        kiln_store32(o, kiln_min_s8x4(kiln_max_s8x4(kiln_load32(o), lo4), hi4));
    }
    for (; n; n--, o++) {
        *o = (int8_t)kiln_dsp_clamp(*o, lo, hi);
    }
}

#if KILN_DSP_ASM
/* The same loop without clamp: registers r1-r5 weights, r6-r10 one conv
 * position's pairs (then the accumulator in r6 and the requantization
 * constants), r11 the running max, r12 the records, lr the output. */
static void window_asm(uint32_t *pt)
{
    register uint32_t *base __asm__("r0") = pt;

    __asm__ volatile(
        "ldr    r12, [r0, #84]\n\t"
        "ldr    lr, [r0, #88]\n"
        "1:\n\t"
        "ldmia  r12!, {r1-r5}\n\t"
        "ldmia  r0!, {r6-r10}\n\t"
        "smuad  r11, r6, r1\n\t"
        "smlad  r11, r7, r2, r11\n\t"
        "smlad  r11, r8, r3, r11\n\t"
        "smlad  r11, r9, r4, r11\n\t"
        "smlad  r11, r10, r5, r11\n\t"
        "ldmia  r0!, {r6-r10}\n\t"
        "smuad  r6, r6, r1\n\t"
        "smlad  r6, r7, r2, r6\n\t"
        "smlad  r6, r8, r3, r6\n\t"
        "smlad  r6, r9, r4, r6\n\t"
        "smlad  r6, r10, r5, r6\n\t"
        "cmp    r6, r11\n\t"
        "it     gt\n\t"
        "movgt  r11, r6\n\t"
        "ldmia  r0!, {r6-r10}\n\t"
        "smuad  r6, r6, r1\n\t"
        "smlad  r6, r7, r2, r6\n\t"
        "smlad  r6, r8, r3, r6\n\t"
        "smlad  r6, r9, r4, r6\n\t"
        "smlad  r6, r10, r5, r6\n\t"
        "cmp    r6, r11\n\t"
        "it     gt\n\t"
        "movgt  r11, r6\n\t"
        "ldmia  r0!, {r6-r10}\n\t"
        "smuad  r6, r6, r1\n\t"
        "smlad  r6, r7, r2, r6\n\t"
        "smlad  r6, r8, r3, r6\n\t"
        "smlad  r6, r9, r4, r6\n\t"
        "smlad  r6, r10, r5, r6\n\t"
        "cmp    r6, r11\n\t"
        "it     gt\n\t"
        "movgt  r11, r6\n\t"
        "ldmia  r12!, {r6-r9}\n\t"          /* bias, mult, round, shift */
        "add    r11, r11, r6\n\t"
        "smmlar r7, r11, r7, r8\n\t"
        "add    r7, r7, r11, asr #31\n\t"
        "asr    r7, r7, r9\n\t"
        "ssat   r7, #8, r7\n\t"
        "strb   r7, [lr], #1\n\t"
        "ldr    r6, [r0], #-80\n\t"         /* end pointer; rewind to the patch */
        "cmp    lr, r6\n\t"
        "bne    1b\n\t"
        : "+r"(base)
        :
        : "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11", "r12", "lr",
          "cc", "memory");
}
#endif

void kiln_dsp_conv1_pool_s8(const kiln_dsp_conv1_pool_params_t *p, const int8_t *in,
                             int8_t *out)
{
    const uint32_t iw = p->g.in_w;
    int8_t *const first = out;
    uint32_t patch[PATCH_WORDS];
    uint32_t py, px;

    patch[21] = (uint32_t)(uintptr_t)p->rec;
    for (py = 0; py < p->pool_h; py++) {
        const int8_t *row = in + 2u * py * iw;
        for (px = 0; px < p->pool_w; px++) {
            const int8_t *src = row + 2u * px;
            const uint32_t r0 = kiln_load32(src), r1 = kiln_load32(src + iw);
            const uint32_t r2 = kiln_load32(src + 2u * iw), r3 = kiln_load32(src + 3u * iw);
            const uint32_t e0 = kiln_sxtb16(r0), o0 = kiln_sxtb16_ror8(r0);
            const uint32_t e1 = kiln_sxtb16(r1), o1 = kiln_sxtb16_ror8(r1);
            const uint32_t e2 = kiln_sxtb16(r2), o2 = kiln_sxtb16_ror8(r2);
            const uint32_t e3 = kiln_sxtb16(r3), o3 = kiln_sxtb16_ror8(r3);

            patch[0] = e0; patch[1] = e1; patch[2] = e2;
            patch[3] = kiln_pkhbt16(o0, o1); patch[4] = o2 << 16;
            patch[5] = o0; patch[6] = o1; patch[7] = o2;
            patch[8] = kiln_pkhtb16(e0, e1); patch[9] = e2;
            patch[10] = e1; patch[11] = e2; patch[12] = e3;
            patch[13] = kiln_pkhbt16(o1, o2); patch[14] = o3 << 16;
            patch[15] = o1; patch[16] = o2; patch[17] = o3;
            patch[18] = kiln_pkhtb16(e1, e2); patch[19] = e3;
#if KILN_DSP_ASM
            if (!p->exact) {
                patch[20] = (uint32_t)(uintptr_t)(out + p->g.out_c);
                patch[22] = (uint32_t)(uintptr_t)out;
                window_asm(patch);
            } else {
                window_c(p, patch, out);
            }
#else
            window_c(p, patch, out);
#endif
            out += p->g.out_c;
        }
    }
#if KILN_DSP_ASM
    if (p->clamp && !p->exact) {   /* the assembly's outputs, clamped in one pass */
        clamp_bytes(first, (uint32_t)(out - first), kiln_splat_s8x4(p->act_min), kiln_splat_s8x4(p->act_max),
                    p->act_min, p->act_max);
    }
#else
    (void)first;
#endif
}
