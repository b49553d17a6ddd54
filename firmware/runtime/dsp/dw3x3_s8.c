/*
 * Kiln DSP kernel: DEPTHWISE_CONV_2D 3x3, stride 1 (kiln/dsp.h).
 *
 * Why planar: SMLAD's two products go to one accumulator, so it needs two
 * taps of one channel in one word. In NHWC a word holds four channels of one
 * tap, which leaves one multiply per MAC (dwconv_s8.c). Here each channel's
 * input is first widened into a padded int16 plane, where adjacent taps of a
 * plane row are adjacent halfwords.
 *
 * Two outputs x, x+1 of a plane row read, per kernel row, the words
 * W0 = [x, x+1] and W1 = [x+2, x+3]. With the row's weights held as the two
 * pairs P01 = [k0, k1] and P12 = [k1, k2]:
 *     out x   = SMLAD(W0, P01) + SMLABT(W1, P12)     (x k0 + x+1 k1, x+2 k2)
 *     out x+1 = SMLATB(W0, P01) + SMLAD(W1, P12)     (x+1 k0, x+2 k1 + x+3 k2)
 * so six MACs cost two loads and four multiplies, with no halfword shuffling:
 * 22 instructions per two outputs (18 MACs) with the loop. The row's
 * accumulators are then requantized in a second loop (7 per output), where
 * the per-channel constants stay in registers (one channel at a time).
 *
 * The plane's padding (the input zero point, which the folded bias expects:
 * kiln/dsp.h) is written once per call: it is the same for every channel,
 * and each channel overwrites only the plane's interior. The build may hand
 * the kernel the input transposed (the strides in the parameters), so that
 * the rows are the longer side: DS-CNN's 25x5 maps become 5 rows of 25.
 */
#include "dsp_rq.h"

/* Plane row d[0 .. n-1] = the int8 elements src[0], src[step], ... */
#if KILN_DSP_ASM
/* Per four elements: four LDRSB, two PKHBT, two STR (unaligned when the
 * padding is one column: STRD could not be) and the loop: 13. */
static void copy_row(int16_t *d, const int8_t *src, int32_t step, uint32_t n)
{
    uint32_t quads = n / 4u;

    if (quads) {
        uint32_t a, b, c, e;
        __asm__ volatile(
            "1:\n\t"
            "ldrsb  %[a], [%[s]]\n\t"
            "ldrsb  %[b], [%[s], %[st]]\n\t"
            "add    %[s], %[s], %[st], lsl #1\n\t"
            "ldrsb  %[c], [%[s]]\n\t"
            "ldrsb  %[e], [%[s], %[st]]\n\t"
            "add    %[s], %[s], %[st], lsl #1\n\t"
            "pkhbt  %[a], %[a], %[b], lsl #16\n\t"
            "pkhbt  %[c], %[c], %[e], lsl #16\n\t"
            "str    %[a], [%[d]], #4\n\t"
            "str    %[c], [%[d]], #4\n\t"
            "subs   %[n], %[n], #1\n\t"
            "bne    1b\n\t"
            : [a] "=&r"(a), [b] "=&r"(b), [c] "=&r"(c), [e] "=&r"(e), [s] "+r"(src), [d] "+r"(d),
              [n] "+r"(quads)
            : [st] "r"(step)
            : "cc", "memory");
    }
    for (n &= 3u; n; n--, src += step) {
        *d++ = *src;
    }
}
#else
static void copy_row(int16_t *d, const int8_t *src, int32_t step, uint32_t n)
{
    for (; n; n--, src += step) {
        *d++ = *src;
    }
}
#endif

/* The accumulators of one output row, two outputs per step, into acc
 * (pairs steps, 2 * pairs int32). rows: the plane row under kernel row 0 at
 * the row's first output; w: the channel's six weight pairs. */
#if KILN_DSP_ASM
/* Registers: r0-r5 the weight pairs, r6-r8 the three plane rows, r9 r10 the
 * accumulators, r11 the loaded word, r12 the accumulator row, lr its end.
 * The bias pair comes from the stack (LDRD): no register is left for it. */
static void mac_row(const int16_t *rows, uint32_t pw, const uint32_t *w, int32_t bias, int32_t *acc,
                    uint32_t pairs)
{
    register uint32_t k0 __asm__("r0") = w[0];
    register uint32_t k1 __asm__("r1") = w[1];
    register uint32_t k2 __asm__("r2") = w[2];
    register uint32_t k3 __asm__("r3") = w[3];
    register uint32_t k4 __asm__("r4") = w[4];
    register uint32_t k5 __asm__("r5") = w[5];
    register const int16_t *p0 __asm__("r6") = rows;
    register const int16_t *p1 __asm__("r7") = rows + pw;
    register const int16_t *p2 __asm__("r8") = rows + 2u * pw;
    register int32_t *dst __asm__("r12") = acc;
    const int32_t bb[2] = {bias, bias};
    const int32_t *end = acc + 2u * pairs;

    __asm__ volatile(
        "ldr    lr, %[end]\n\t"
        "1:\n\t"
        "ldrd   r9, r10, %[bb]\n\t"
        "ldr    r11, [r6], #4\n\t"
        "smlad  r9, r11, r0, r9\n\t"
        "smlatb r10, r11, r0, r10\n\t"
        "ldr    r11, [r6]\n\t"
        "smlabt r9, r11, r1, r9\n\t"
        "smlad  r10, r11, r1, r10\n\t"
        "ldr    r11, [r7], #4\n\t"
        "smlad  r9, r11, r2, r9\n\t"
        "smlatb r10, r11, r2, r10\n\t"
        "ldr    r11, [r7]\n\t"
        "smlabt r9, r11, r3, r9\n\t"
        "smlad  r10, r11, r3, r10\n\t"
        "ldr    r11, [r8], #4\n\t"
        "smlad  r9, r11, r4, r9\n\t"
        "smlatb r10, r11, r4, r10\n\t"
        "ldr    r11, [r8]\n\t"
        "smlabt r9, r11, r5, r9\n\t"
        "smlad  r10, r11, r5, r10\n\t"
        "strd   r9, r10, [r12], #8\n\t"
        "cmp    r12, lr\n\t"
        "bne    1b\n\t"
        : "+r"(p0), "+r"(p1), "+r"(p2), "+r"(dst)
        : "r"(k0), "r"(k1), "r"(k2), "r"(k3), "r"(k4), "r"(k5), [bb] "m"(bb), [end] "m"(end)
        : "r9", "r10", "r11", "lr", "cc", "memory");
}
#else
/* The same arithmetic in C (the host check build and unoptimized builds). */
static void mac_row(const int16_t *rows, uint32_t pw, const uint32_t *w, int32_t bias, int32_t *acc,
                    uint32_t pairs)
{
    uint32_t r;

    for (; pairs; pairs--, rows += 2, acc += 2) {
        int32_t a0 = bias, a1 = bias;
        for (r = 0; r < 3u; r++) {
            const uint32_t w0 = kiln_load32(rows + r * pw), w1 = kiln_load32(rows + r * pw + 2);
            a0 = kiln_smlabt(w1, w[2u * r + 1u], kiln_smlad(w0, w[2u * r], a0));
            a1 = kiln_smlad(w1, w[2u * r + 1u], kiln_smlatb(w0, w[2u * r], a1));
        }
        acc[0] = a0;
        acc[1] = a1;
    }
}
#endif

/* n outputs of a row from their accumulators, `step` bytes apart: the
 * common case (no clamp, no exact record) in assembly, two per step. */
#if KILN_DSP_ASM
/* One output: SMMLAR, ADD ASR #31, ASR, SSAT (kiln_dsp_requant), STRB. */
#define KILN_DW_RQ_ASM(A, ADDR) \
        "smmlar %[t], " A ", %[m], %[rd]\n\t" \
        "add    %[t], %[t], " A ", asr #31\n\t" \
        "asr    %[t], %[t], %[e]\n\t" \
        "ssat   %[t], #8, %[t]\n\t" \
        "strb   %[t], " ADDR "\n\t"

/* Four outputs per step (one LDM of accumulators, two store pointers): 25
 * instructions for four. */
static void rq_row_fast(const int32_t *acc, int8_t *o, int32_t step, uint32_t n, const kiln_dsp_rq_t *r)
{
    uint32_t quads = n / 4u;

    if (quads) {
        register int32_t a0 __asm__("r0");
        register int32_t a1 __asm__("r1");
        register int32_t a2 __asm__("r2");
        register int32_t a3 __asm__("r3");
        int8_t *o2 = o + 2 * step;
        int32_t t;
        __asm__ volatile(
            "1:\n\t"
            "ldmia  %[acc]!, {r0-r3}\n\t"
            KILN_DW_RQ_ASM("r0", "[%[o]]")
            KILN_DW_RQ_ASM("r1", "[%[o], %[st]]")
            KILN_DW_RQ_ASM("r2", "[%[o2]]")
            KILN_DW_RQ_ASM("r3", "[%[o2], %[st]]")
            "add    %[o], %[o], %[st], lsl #2\n\t"
            "add    %[o2], %[o2], %[st], lsl #2\n\t"
            "subs   %[n], %[n], #1\n\t"
            "bne    1b\n\t"
            : "=&r"(a0), "=&r"(a1), "=&r"(a2), "=&r"(a3), [t] "=&r"(t), [acc] "+r"(acc), [o] "+r"(o),
              [o2] "+r"(o2), [n] "+r"(quads)
            : [m] "r"(r->mult), [rd] "r"(r->round), [e] "r"(r->shift), [st] "r"(step)
            : "cc", "memory");
    }
    for (n &= 3u; n; n--, o += step) {
        *o = (int8_t)kiln_dsp_requant(*acc++, r->mult, r->round, r->shift);
    }
}
#undef KILN_DW_RQ_ASM
#else
static void rq_row_fast(const int32_t *acc, int8_t *o, int32_t step, uint32_t n, const kiln_dsp_rq_t *r)
{
    for (; n; n--, o += step) {
        *o = (int8_t)kiln_dsp_requant(*acc++, r->mult, r->round, r->shift);
    }
}
#endif

/* The same for a layer with a clamp or exact records, in C. */
KILN_SPECIALIZE void rq_row(const kiln_dsp_dw3x3_params_t *p, const int32_t *acc, int8_t *o,
                            const kiln_dsp_rq_t *r, int clamp, int exact)
{
    const int32_t step = p->out_step, lo = p->act_min, hi = p->act_max;
    uint32_t n;

    for (n = p->len; n; n--, o += step) {
        int32_t q = kiln_dsp_rq(*acc++, r, exact);
        if (clamp) {
            q = kiln_dsp_clamp(q, lo, hi);
        }
        *o = (int8_t)q;
    }
}

/* Every plane cell the channels do not overwrite: the zero point. */
static void fill_padding(const kiln_dsp_dw3x3_params_t *p)
{
    const uint32_t n = (uint32_t)(p->rows + 2u) * p->plane_w;
    const uint32_t v = (uint16_t)(int16_t)p->pad_value * 0x10001u;
    uint32_t *d = (uint32_t *)(void *)p->plane;
    uint32_t i;

    for (i = 0; i < n / 2u; i++) {
        d[i] = v;
    }
}

KILN_SPECIALIZE void body(const kiln_dsp_dw3x3_params_t *p, const int8_t *in, int8_t *out, int general)
{
    const uint32_t *w = (const uint32_t *)(const void *)p->w;
    const uint32_t pw = p->plane_w, pairs = (p->len + 1u) / 2u;
    int16_t *const interior = p->plane + p->pad_r * pw + p->pad_c;
    uint32_t c, y;

    fill_padding(p);
    for (c = 0; c < p->channels; c++, w += 6) {
        const kiln_dsp_rq_t rec = p->rq[c];
        const int8_t *src = in + c;
        int16_t *d = interior;
        int8_t *o = out + c;

        for (y = 0; y < p->in_rows; y++, src += p->in_row, d += pw) {
            copy_row(d, src, p->in_step, p->in_len);
        }
        for (y = 0; y < p->rows; y++, o += p->out_row) {
            mac_row(p->plane + y * pw, pw, w, rec.bias, p->acc, pairs);
            if (!general) {
                rq_row_fast(p->acc, o, p->out_step, p->len, &rec);
            } else if (p->clamp) {
                rq_row(p, p->acc, o, &rec, 1, p->exact);
            } else {
                rq_row(p, p->acc, o, &rec, 0, p->exact);
            }
        }
    }
}

/* A separate copy for layers with a clamp or exact records: the common one
 * runs the assembly requantization and tests for neither. */
static void body_general(const kiln_dsp_dw3x3_params_t *p, const int8_t *in, int8_t *out)
{
    body(p, in, out, 1);
}

void kiln_dsp_dw3x3_s8(const kiln_dsp_dw3x3_params_t *p, const int8_t *in, int8_t *out)
{
    if (p->exact || p->clamp) {
        body_general(p, in, out);
    } else {
        body(p, in, out, 0);
    }
}
