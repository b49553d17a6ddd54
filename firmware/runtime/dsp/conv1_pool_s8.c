/*
 * Kiln DSP kernel: CONV_2D 3x3 over one input channel (VALID,
 * stride 1) fused with the 2x2 stride-2 max pool after it (kiln/dsp.h).
 *
 * Why it is fast: a first layer with one input channel has only 9 MACs per
 * output, so per-output overheads dominate. Each pooled output costs, per
 * output channel, about 36 instructions on the target: 20 SMUAD/SMLAD (four
 * conv positions, 9 taps as 5 halfword pairs), 5 loads (LDM), two USAT and
 * one compare-and-select for the max, one requantization (instead of four)
 * and one store.
 *
 * The max of four accumulators in five instructions: for the two conv
 * positions of one pool row, a1 - a0 is itself a dot product with the same
 * weights, over the differences of the two positions' input pairs. So
 * max(a0, a1) = a0 + USAT31(a1 - a0) is the difference chain, one USAT, and
 * a0's chain accumulated on top; the two rows' maxima then meet in one
 * compare-and-select. (|a1 - a0| <= 9 * 255 * 254, far inside int32.)
 *
 * Patch pairs (one 17-word patch per pool window, built once and shared by
 * every output channel): with r = the word at input row y+r, column x (bytes
 * p_r0..p_r3), e_r = SXTB16(r) = [p_r0, p_r2] and o_r = SXTB16(r ROR 8) =
 * [p_r1, p_r3]. Against the weight pairs
 *   [w00,w02] [w10,w12] [w20,w22] [w01,w11] [0,w21]
 * the conv output at column x of row a uses  P_a = e_a, e_a+1, e_a+2, V_a, L_a+2
 * and the one at column x+1 uses             e_a.. replaced by o_a, o_a+1, o_a+2, H_a, e_a+2
 * with V_a = [o_a.lo, o_a+1.lo], H_a = [e_a.hi, e_a+1.hi], L_r = [0, o_r.lo]
 * (the last pair's low lane meets the zero weight). D_a is the second minus
 * the first, lane by lane (SSUB16: every lane stays within int16). The patch
 * holds D_1, the three words of D_0 not shared with D_1, P_1, the three of
 * P_0 not shared with P_1, and the window's output offset (bytes from the
 * layer's output):
 *   d1 d2 d3 X1 Y3 | d0 X0 Y2 | e1 e2 e3 V1 L3 | e0 V0 L2 | out
 * (d_r = o_r - e_r, X_a = H_a - V_a, Y_r = e_r - L_r).
 *
 * Loop order: windows are patched CHUNK at a time; then for each output
 * channel (weights and bias in registers) the windows of the chunk run in
 * one inline-assembly loop on the target, two per pass. With an activation
 * whose lower bound is at or above the output zero point (ReLU, ReLU6: the
 * `floor` field) the requantization drops its rounding term for negative
 * accumulators: a negative accumulator requantizes to the zero point or
 * below either way, and the clamp lifts both to the lower bound
 * (kiln_dsp_requant_floor). A narrower
 * activation range is applied to the stored outputs in one pass after the
 * layer, four at a time. The C loop below is the assembly's exact
 * equivalent (the host build's, and the one for exact records); the
 * benchmark and the QEMU fidelity tests run the assembly against tflite-micro.
 *
 * Assumes: in_w >= 4 (the 4-byte loads stay inside each row: the window's
 * last column is x+3 <= in_w - 1); records as in kiln/dsp.h.
 */
#include "dsp_rq.h"

#define PATCH_WORDS 17u
#define CHUNK 16u

/* Patch one pool window whose input corner is src (rows iw bytes apart) and
 * whose outputs start at out + at. */
static inline void patch_window(uint32_t *pt, const int8_t *src, uint32_t iw, uint32_t at)
{
    const uint32_t r0 = kiln_load32(src), r1 = kiln_load32(src + iw);
    const uint32_t r2 = kiln_load32(src + 2u * iw), r3 = kiln_load32(src + 3u * iw);
    const uint32_t e0 = kiln_sxtb16(r0), o0 = kiln_sxtb16_ror8(r0);
    const uint32_t e1 = kiln_sxtb16(r1), o1 = kiln_sxtb16_ror8(r1);
    const uint32_t e2 = kiln_sxtb16(r2), o2 = kiln_sxtb16_ror8(r2);
    const uint32_t e3 = kiln_sxtb16(r3), o3 = kiln_sxtb16_ror8(r3);
    const uint32_t v0 = kiln_pkhbt16(o0, o1), v1 = kiln_pkhbt16(o1, o2);
    const uint32_t l2 = o2 << 16, l3 = o3 << 16;

    pt[0] = kiln_ssub16(o1, e1);
    pt[1] = kiln_ssub16(o2, e2);
    pt[2] = kiln_ssub16(o3, e3);
    pt[3] = kiln_ssub16(kiln_pkhtb16(e1, e2), v1);
    pt[4] = kiln_ssub16(e3, l3);
    pt[5] = kiln_ssub16(o0, e0);
    pt[6] = kiln_ssub16(kiln_pkhtb16(e0, e1), v0);
    pt[7] = kiln_ssub16(e2, l2);
    pt[8] = e1; pt[9] = e2; pt[10] = e3; pt[11] = v1; pt[12] = l3;
    pt[13] = e0; pt[14] = v0; pt[15] = l2;
    pt[16] = at;
}

static inline int32_t dot5(uint32_t a, uint32_t b, uint32_t c, uint32_t d, uint32_t e, const int32_t *w)
{
    return kiln_smlad(e, (uint32_t)w[4], kiln_smlad(d, (uint32_t)w[3], kiln_smlad(c, (uint32_t)w[2],
           kiln_smlad(b, (uint32_t)w[1], kiln_smuad(a, (uint32_t)w[0])))));
}

static inline int32_t usat31(int32_t x)
{
    return x < 0 ? 0 : x;
}

/* The n patched windows at pt, every output channel, in C. */
static void chunk_c(const kiln_dsp_conv1_pool_params_t *p, const uint32_t *pt, uint32_t n, int8_t *out)
{
    const int32_t *rec = p->rec;
    uint32_t c, i;

    for (c = 0; c < p->g.out_c; c++, rec += 9) {
        const kiln_dsp_rq_t *r = (const kiln_dsp_rq_t *)(const void *)(rec + 5);
        const uint32_t *x = pt;
        for (i = 0; i < n; i++, x += PATCH_WORDS) {
            const int32_t m1 = usat31(dot5(x[0], x[1], x[2], x[3], x[4], rec))
                               + dot5(x[8], x[9], x[10], x[11], x[12], rec);
            const int32_t m0 = usat31(dot5(x[5], x[0], x[1], x[6], x[7], rec))
                               + dot5(x[13], x[8], x[9], x[14], x[15], rec);
            int32_t q = kiln_dsp_rq_floor((m0 > m1 ? m0 : m1) + r->bias, r, 1, p->floor);
            if (p->clamp) {
                q = kiln_dsp_clamp(q, p->act_min, p->act_max);
            }
            out[x[16] + c] = (int8_t)q;
        }
    }
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
/* One chunk, every channel. job: patch start, patch end, the layer's
 * output (channel 0's address), the address past its last channel, the
 * records, and 1 if the chunk holds an odd number of windows (the first pass
 * then enters at its second window). Frame on the stack: [0] bias [4] mult
 * [8] round [12] shift [16] the channel's address [20] patch end [24] patch
 * start [28] channel end [32] records [36] odd. In the window loop: r1-r5
 * the weight pairs, r6-r10 patch words, r11 and lr the two pool rows'
 * maxima, r12 the window's output offset. */
#define KILN_CONV1_WINDOW(FIX)                                             \
        "ldmia  r0!, {r6-r10}\n\t"    /* D_1 */                            \
        "smuad  r11, r6, r1\n\t"                                           \
        "smlad  r11, r7, r2, r11\n\t"                                      \
        "smlad  r11, r8, r3, r11\n\t"                                      \
        "smlad  r11, r9, r4, r11\n\t"                                      \
        "smlad  r11, r10, r5, r11\n\t"                                     \
        "ldmia  r0!, {r8-r10}\n\t"    /* D_0 (d1 d2 still in r6 r7) */     \
        "smuad  lr, r8, r1\n\t"                                            \
        "smlad  lr, r6, r2, lr\n\t"                                        \
        "smlad  lr, r7, r3, lr\n\t"                                        \
        "smlad  lr, r9, r4, lr\n\t"                                        \
        "smlad  lr, r10, r5, lr\n\t"                                       \
        "usat   r11, #31, r11\n\t"                                         \
        "usat   lr, #31, lr\n\t"                                           \
        "ldmia  r0!, {r6-r10}\n\t"    /* P_1 */                            \
        "smlad  r11, r6, r1, r11\n\t"                                      \
        "smlad  r11, r7, r2, r11\n\t"                                      \
        "smlad  r11, r8, r3, r11\n\t"                                      \
        "smlad  r11, r9, r4, r11\n\t"                                      \
        "smlad  r11, r10, r5, r11\n\t"                                     \
        "ldmia  r0!, {r8-r10, r12}\n\t" /* P_0 (e1 e2 in r6 r7), output */ \
        "smlad  lr, r8, r1, lr\n\t"                                        \
        "smlad  lr, r6, r2, lr\n\t"                                        \
        "smlad  lr, r7, r3, lr\n\t"                                        \
        "smlad  lr, r9, r4, lr\n\t"                                        \
        "smlad  lr, r10, r5, lr\n\t"                                       \
        "cmp    lr, r11\n\t"                                               \
        "it     gt\n\t"                                                    \
        "movgt  r11, lr\n\t"                                               \
        "ldmia  sp, {r6-r10, lr}\n\t" /* bias mult round shift channel end */ \
        "add    r11, r11, r6\n\t"                                          \
        "smmlar r7, r11, r7, r8\n\t"                                       \
        FIX                                                                \
        "asr    r7, r7, r9\n\t"                                            \
        "ssat   r7, #8, r7\n\t"                                            \
        "strb   r7, [r12, r10]\n\t"

#define KILN_CONV1_CHUNK(FIX)                                              \
    __asm__ volatile(                                                      \
        "sub    sp, sp, #40\n\t"                                           \
        "ldmia  r0, {r1-r6}\n\t"                                           \
        "strd   r3, r2, [sp, #16]\n\t"                                     \
        "strd   r1, r4, [sp, #24]\n\t"                                     \
        "strd   r5, r6, [sp, #32]\n"                                        \
        "2:\n\t"                                                           \
        "ldr    r12, [sp, #32]\n\t"                                        \
        "ldmia  r12!, {r1-r9}\n\t"   /* weight pairs, bias mult round shift */ \
        "str    r12, [sp, #32]\n\t"                                        \
        "stmia  sp, {r6-r9}\n\t"                                           \
        "ldr    r0, [sp, #24]\n\t"                                         \
        "ldr    r6, [sp, #36]\n\t"                                         \
        "cmp    r6, #0\n\t"                                                \
        "bne    3f\n"                                                       \
        "1:\n\t"                                                           \
        KILN_CONV1_WINDOW(FIX)                                             \
        "3:\n\t"                                                           \
        KILN_CONV1_WINDOW(FIX)                                             \
        "cmp    r0, lr\n\t"                                                \
        "bne    1b\n\t"                                                    \
        "ldr    r6, [sp, #16]\n\t"                                         \
        "ldr    r7, [sp, #28]\n\t"                                         \
        "adds   r6, r6, #1\n\t"                                            \
        "str    r6, [sp, #16]\n\t"                                         \
        "cmp    r6, r7\n\t"                                                \
        "bne    2b\n\t"                                                    \
        "add    sp, sp, #40\n\t"                                           \
        : "+r"(base)                                                       \
        :                                                                  \
        : "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11", "r12", "lr", \
          "cc", "memory")

/* patch_window for k windows of one pool row (src advancing by 2, the
 * output offset by out_c), on the target: job = src end, offset, out_c. Registers: r0 the
 * patch, r1 the input, r2 its row length; r3-r12 and lr the values. */
static void patch_run_asm(uint32_t *pt, const int8_t *src, uint32_t iw, uint32_t *job)
{
    register uint32_t *r_pt __asm__("r0") = pt;
    register const int8_t *r_src __asm__("r1") = src;
    register uint32_t r_iw __asm__("r2") = iw;
    register uint32_t *r_job __asm__("r3") = job;

    __asm__ volatile(
        "sub    sp, sp, #16\n\t"
        "ldmia  r3, {r3-r5}\n\t"
        "stmia  sp, {r3-r5}\n"
        "1:\n\t"
        "add    r7, r1, r2, lsl #1\n\t"
        "ldr    r6, [r7, r2]\n\t"
        "ldr    r5, [r7]\n\t"
        "ldr    r4, [r1, r2]\n\t"
        "ldr    r3, [r1], #2\n\t"
        "sxtb16 r7, r3, ror #8\n\t"       /* o0 */
        "sxtb16 r3, r3\n\t"               /* e0 */
        "sxtb16 r8, r4, ror #8\n\t"       /* o1 */
        "sxtb16 r4, r4\n\t"               /* e1 */
        "sxtb16 r9, r5, ror #8\n\t"       /* o2 */
        "sxtb16 r5, r5\n\t"               /* e2 */
        "sxtb16 r10, r6, ror #8\n\t"      /* o3 */
        "sxtb16 r6, r6\n\t"               /* e3 */
        "pkhbt  r11, r8, r9, lsl #16\n\t" /* V1 */
        "pkhtb  r12, r5, r4, asr #16\n\t" /* H1 */
        "ssub16 r12, r12, r11\n\t"        /* X1 */
        "strd   r4, r5, [r0, #32]\n\t"    /* e1 e2 */
        "strd   r6, r11, [r0, #40]\n\t"   /* e3 V1 */
        "pkhbt  r11, r7, r8, lsl #16\n\t" /* V0 */
        "pkhtb  lr, r4, r3, asr #16\n\t"  /* H0 */
        "ssub16 lr, lr, r11\n\t"          /* X0 */
        "ssub16 r7, r7, r3\n\t"           /* d0 */
        "ssub16 r8, r8, r4\n\t"           /* d1 */
        "lsl    r4, r9, #16\n\t"          /* L2 */
        "ssub16 r9, r9, r5\n\t"           /* d2 */
        "ssub16 r5, r5, r4\n\t"           /* Y2 */
        "strd   r3, r11, [r0, #52]\n\t"   /* e0 V0 */
        "lsl    r3, r10, #16\n\t"         /* L3 */
        "ssub16 r10, r10, r6\n\t"         /* d3 */
        "ssub16 r6, r6, r3\n\t"           /* Y3 */
        "strd   r8, r9, [r0]\n\t"         /* d1 d2 */
        "strd   r10, r12, [r0, #8]\n\t"   /* d3 X1 */
        "strd   r6, r7, [r0, #16]\n\t"    /* Y3 d0 */
        "strd   lr, r5, [r0, #24]\n\t"    /* X0 Y2 */
        "str    r3, [r0, #48]\n\t"        /* L3 */
        "str    r4, [r0, #60]\n\t"        /* L2 */
        "ldrd   r3, r4, [sp, #4]\n\t"     /* offset, out_c */
        "str    r3, [r0, #64]\n\t"
        "add    r3, r3, r4\n\t"
        "str    r3, [sp, #4]\n\t"
        "adds   r0, r0, #68\n\t"
        "ldr    r3, [sp]\n\t"
        "cmp    r1, r3\n\t"
        "bne    1b\n\t"
        "add    sp, sp, #16\n\t"
        : "+r"(r_pt), "+r"(r_src), "+r"(r_iw), "+r"(r_job)
        :
        : "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11", "r12", "lr", "cc", "memory");
}

static void chunk_floor_asm(uint32_t *job)
{
    register uint32_t *base __asm__("r0") = job;
    KILN_CONV1_CHUNK("");
}

static void chunk_asm(uint32_t *job)
{
    register uint32_t *base __asm__("r0") = job;
    KILN_CONV1_CHUNK("add    r7, r7, r11, asr #31\n\t");
}
#endif

/* Patch k windows of one pool row, the first one's outputs at out + at. */
static void patch_run(uint32_t *pt, const int8_t *src, uint32_t iw, uint32_t at, uint32_t k, uint32_t out_c)
{
#if KILN_DSP_ASM
    uint32_t job[3];
    job[0] = (uint32_t)(uintptr_t)(src + 2u * k);
    job[1] = at;
    job[2] = out_c;
    patch_run_asm(pt, src, iw, job);
#else
    for (; k; k--, pt += PATCH_WORDS, src += 2, at += out_c) {
        patch_window(pt, src, iw, at);
    }
#endif
}

/* The patched chunk of n windows, every channel. */
static void run_chunk(const kiln_dsp_conv1_pool_params_t *p, uint32_t *patch, uint32_t n, int8_t *out)
{
#if KILN_DSP_ASM
    if (!p->exact) {
        uint32_t job[6];
        job[0] = (uint32_t)(uintptr_t)patch;
        job[1] = (uint32_t)(uintptr_t)(patch + n * PATCH_WORDS);
        job[2] = (uint32_t)(uintptr_t)out;
        job[3] = (uint32_t)(uintptr_t)(out + p->g.out_c);
        job[4] = (uint32_t)(uintptr_t)p->rec;
        job[5] = n & 1u;
        if (p->floor) {
            chunk_floor_asm(job);
        } else {
            chunk_asm(job);
        }
        return;
    }
#endif
    chunk_c(p, patch, n, out);
}

void kiln_dsp_conv1_pool_s8(const kiln_dsp_conv1_pool_params_t *p, const int8_t *in,
                             int8_t *out)
{
    const uint32_t iw = p->g.in_w, out_c = p->g.out_c;
    uint32_t patch[CHUNK * PATCH_WORDS];
    uint32_t py, n = 0, at = 0;

    for (py = 0; py < p->pool_h; py++) {
        const int8_t *src = in + 2u * py * iw;
        uint32_t left = p->pool_w;
        while (left) {   /* the row's windows, as many as the chunk still takes */
            const uint32_t k = left < CHUNK - n ? left : CHUNK - n;
            patch_run(patch + n * PATCH_WORDS, src, iw, at, k, out_c);
            src += 2u * k;
            at += k * out_c;
            left -= k;
            n += k;
            if (n == CHUNK) {
                run_chunk(p, patch, n, out);
                n = 0;
            }
        }
    }
    if (n) {
        run_chunk(p, patch, n, out);
    }
#if KILN_DSP_ASM
    if (p->clamp && !p->exact) {   /* the assembly's outputs, clamped in one pass */
        clamp_bytes(out, at, kiln_splat_s8x4(p->act_min), kiln_splat_s8x4(p->act_max), p->act_min, p->act_max);
    }
#endif
}
