/*
 * Kiln DSP kernel: DEPTHWISE_CONV_2D 3x3, stride 1 (kiln/dsp.h).
 *
 * Why planar: SMLAD's two products go to one accumulator, so it needs two
 * taps of one channel in one word. In NHWC a word holds four channels of one
 * tap, which leaves one multiply per MAC (dwconv_s8.c). Here each channel's
 * input is first widened into a padded int16 plane, where horizontally
 * adjacent taps are adjacent halfwords: per output row of the kernel one
 * SMLAD takes two taps and one SMLAxy the third. Two outputs of a row share
 * their loads: per kernel row three word loads and four multiplies for six
 * MACs. The plane costs about two instructions per input element, once per
 * channel; padding is written as the zero point, which the folded bias
 * expects (kiln/dsp.h).
 *
 * Measured on the emulated M33 (VWW's layers): 3.3 instructions per MAC at
 * 48x48 outputs against 5.9 for dwconv_s8, 3.6 against 4.6 at 24x24, 4.1
 * against 4.4 at 12x12; below that the per-channel plane and row costs make
 * it slower (DS-CNN's 25x5 outputs: 5.5 against 5.1; the rows are too short
 * to pay for their set-up), and with stride 2 the plane holds four inputs
 * per output, so the generator picks it only for stride 1 with at least 12
 * outputs a row and 100 a channel. The requantization (about 9 instructions per output here) and
 * the plane (about 4 per input element) are most of what is left above the
 * 13 the SMLAD loop takes per output.
 */
#include "dsp_rq.h"

/* Channel c of the input as the padded int16 plane the kernel reads. */
static void fill_plane(const kiln_dsp_dw3x3_params_t *p, const int8_t *in, uint32_t c)
{
    const uint32_t ch = p->g.in_c, in_w = p->g.in_w;
    const int32_t top = p->g.pad_top, left = p->g.pad_left;
    const int16_t pad = p->pad_value;
    int16_t *row = p->plane;
    uint32_t py, px;

    for (py = 0; py < p->plane_h; py++, row += p->plane_w) {
        const int32_t iy = (int32_t)py - top;
        if (iy < 0 || iy >= (int32_t)p->g.in_h) {
            for (px = 0; px < p->plane_w; px++) {
                row[px] = pad;
            }
            continue;
        }
        const int8_t *src = in + (uint32_t)iy * in_w * ch + c;
        const uint32_t end = (uint32_t)left + in_w;
        for (px = 0; px < (uint32_t)left; px++) {
            row[px] = pad;
        }
        for (; px + 2u <= end; px += 2u, src += 2u * ch) {
            row[px] = src[0];
            row[px + 1u] = src[ch];
        }
        if (px < end) {
            row[px++] = src[0];
        }
        for (; px < p->plane_w; px++) {
            row[px] = pad;
        }
    }
}

/* The accumulators of one output row, two outputs per step, into acc
 * (pairs steps, 2 * pairs int32). rows: the plane rows under kernel row 0 at
 * the row's first output. */
#if KILN_DSP_ASM
/* Registers: r0 r1 the two accumulators, r2-r4 the three plane rows, r5-r8
 * the weights [w00 w01] [w10 w11] [w20 w21] [w02 w12], r9 the bias, r10 r11
 * the loaded pairs, r12 the accumulator row, lr [w22 0] and the end, both
 * reloaded from the stack (no register is left for them). Per two outputs
 * (18 MACs): 9 pair loads, 12 multiplies, one STRD and the loop: 26. */
static void row_s1(const int16_t *rows, uint32_t pw, const uint32_t *w, int32_t bias, int32_t *acc,
                   uint32_t pairs)
{
    register int32_t a0 __asm__("r0");
    register int32_t a1 __asm__("r1");
    register const int16_t *p0 __asm__("r2") = rows;
    register const int16_t *p1 __asm__("r3") = rows + pw;
    register const int16_t *p2 __asm__("r4") = rows + 2u * pw;
    register uint32_t w0 __asm__("r5") = w[0];
    register uint32_t w1 __asm__("r6") = w[1];
    register uint32_t w2 __asm__("r7") = w[2];
    register uint32_t v __asm__("r8") = w[3];
    register int32_t b __asm__("r9") = bias;
    register int32_t *dst __asm__("r12") = acc;
    const uint32_t v2 = w[4];
    const int32_t *end = acc + 2u * pairs;

    __asm__ volatile(
        "1:\n\t"
        "ldr    r10, [r2, #4]\n\t"
        "ldr    r11, [r2], #4\n\t"
        "smlad  r0, r11, r5, r9\n\t"
        "smlabb r0, r10, r8, r0\n\t"
        "smlatb r1, r10, r8, r9\n\t"
        "ldr    r11, [r2, #-2]\n\t"
        "smlad  r1, r11, r5, r1\n\t"
        "ldr    r10, [r3, #4]\n\t"
        "ldr    r11, [r3], #4\n\t"
        "smlad  r0, r11, r6, r0\n\t"
        "smlabt r0, r10, r8, r0\n\t"
        "smlatt r1, r10, r8, r1\n\t"
        "ldr    r11, [r3, #-2]\n\t"
        "smlad  r1, r11, r6, r1\n\t"
        "ldr    r10, [r4, #4]\n\t"
        "ldr    r11, [r4], #4\n\t"
        "smlad  r0, r11, r7, r0\n\t"
        "ldr    lr, %[v2]\n\t"
        "smlabb r0, r10, lr, r0\n\t"
        "smlatb r1, r10, lr, r1\n\t"
        "ldr    r11, [r4, #-2]\n\t"
        "smlad  r1, r11, r7, r1\n\t"
        "strd   r0, r1, [r12], #8\n\t"
        "ldr    lr, %[end]\n\t"
        "cmp    r12, lr\n\t"
        "bne    1b\n\t"
        : "=&r"(a0), "=&r"(a1), "+r"(p0), "+r"(p1), "+r"(p2), "+r"(dst)
        : "r"(w0), "r"(w1), "r"(w2), "r"(v), "r"(b), [v2] "m"(v2), [end] "m"(end)
        : "r10", "r11", "lr", "cc", "memory");
}

#else
/* The same arithmetic in C (the host check build and unoptimized builds). */
static void row_s1(const int16_t *rows, uint32_t pw, const uint32_t *w, int32_t bias, int32_t *acc,
                   uint32_t pairs)
{
    const int16_t *r0 = rows, *r1 = rows + pw, *r2 = rows + 2u * pw;

    for (; pairs; pairs--, r0 += 2, r1 += 2, r2 += 2, acc += 2) {
        uint32_t x0 = kiln_load32(r0), x1 = kiln_load32(r0 + 1), x2 = kiln_load32(r0 + 2);
        int32_t acc0 = kiln_smlabb(x2, w[3], kiln_smlad(x0, w[0], bias));
        int32_t acc1 = kiln_smlad(x1, w[0], kiln_smlatb(x2, w[3], bias));
        x0 = kiln_load32(r1), x1 = kiln_load32(r1 + 1), x2 = kiln_load32(r1 + 2);
        acc0 = kiln_smlabt(x2, w[3], kiln_smlad(x0, w[1], acc0));
        acc1 = kiln_smlad(x1, w[1], kiln_smlatt(x2, w[3], acc1));
        x0 = kiln_load32(r2), x1 = kiln_load32(r2 + 1), x2 = kiln_load32(r2 + 2);
        acc0 = kiln_smlabb(x2, w[4], kiln_smlad(x0, w[2], acc0));
        acc1 = kiln_smlad(x1, w[2], kiln_smlatb(x2, w[4], acc1));
        acc[0] = acc0;
        acc[1] = acc1;
    }
}
#endif

/* One channel's outputs from its plane: each output row's accumulators into
 * p->acc, then requantized into the NHWC output (`ch` bytes apart). The
 * record is copied to locals: the byte stores could alias it otherwise. */
KILN_SPECIALIZE void channel(const kiln_dsp_dw3x3_params_t *p, const uint32_t *w,
                             const kiln_dsp_rq_t *r, int8_t *out, int clamp, int exact)
{
    const kiln_dsp_rq_t rec = *r;
    const int32_t lo = p->act_min, hi = p->act_max;
    const uint32_t ch = p->g.out_c, out_w = p->g.out_w, pw = p->plane_w, pairs = (out_w + 1u) / 2u;
    int32_t *acc = p->acc;
    uint32_t oy, ox;

    for (oy = 0; oy < p->g.out_h; oy++) {
        int8_t *o = out + oy * out_w * ch;
        row_s1(p->plane + oy * pw, pw, w, rec.bias, acc, pairs);
        for (ox = 0; ox < out_w; ox++, o += ch) {
            int32_t q = kiln_dsp_rq(acc[ox], &rec, exact);
            if (clamp) {
                q = kiln_dsp_clamp(q, lo, hi);
            }
            *o = (int8_t)q;
        }
    }
}

KILN_SPECIALIZE void body(const kiln_dsp_dw3x3_params_t *p, const int8_t *in, int8_t *out, int exact)
{
    const uint32_t *w = (const uint32_t *)(const void *)p->w;
    uint32_t c;

    for (c = 0; c < p->g.in_c; c++, w += 5) {
        fill_plane(p, in, c);
        if (p->clamp) {
            channel(p, w, &p->rq[c], out + c, 1, exact);
        } else {
            channel(p, w, &p->rq[c], out + c, 0, exact);
        }
    }
}

/* A separate copy for layers with exact records: the others do not test
 * for them per output. */
static void body_exact(const kiln_dsp_dw3x3_params_t *p, const int8_t *in, int8_t *out)
{
    body(p, in, out, 1);
}

void kiln_dsp_dw3x3_s8(const kiln_dsp_dw3x3_params_t *p, const int8_t *in, int8_t *out)
{
    if (p->exact) {
        body_exact(p, in, out);
    } else {
        body(p, in, out, 0);
    }
}
