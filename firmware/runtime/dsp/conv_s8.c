/*
 * Kiln DSP kernel: CONV_2D, any geometry (kiln/dsp.h).
 *
 * Two output pixels at a time: their receptive fields are gathered
 * ("im2col") into `scratch`, widened to int16 once, in the order
 * [K group of 4][pixel][2 pairs]. Then for each pair of output channels
 * the inner loop reads 4 activation words and 4 weight words per group of
 * four K elements and issues 8 SMLAD: 16 MACs, 4 accumulators (2 pixels x 2
 * channels) in registers. Widening costs about one instruction per K
 * element per pixel, shared by all output channels.
 *
 * Padding: taps outside the input read the zero point (pad_value), which
 * contributes exactly the -in_offset * w that the folded bias expects.
 * Assumes: weights, records and k_len as documented in kiln/dsp.h;
 * scratch holds 2 * k_len int16, and `gather` k_len bytes when in_c is
 * not a multiple of 4.
 */
#include "dsp_rq.h"
#include "mac2x2_asm.h"

/* One K group of four int8 into its two widened words of the scratch. */
static inline void widen_group(uint32_t *dst, uint32_t v)
{
    dst[0] = kiln_sxtb16(v);
    dst[1] = kiln_sxtb16_ror8(v);
}

/* Widens the 4*n int8 at src into pixel `px` of the scratch (2 words per
 * group, groups 4 words apart). On the target, four groups at a time from a
 * word-aligned source: one LDM, 8 SXTB16 and 4 STRD (M-profile STRD needs
 * only a word-aligned address), 15 instructions with the loop against 32 a
 * group at a time (the widening is up to a seventh of a 16-channel 3x3
 * layer's instructions). */
static inline void widen(uint32_t *dst, const int8_t *src, uint32_t n)
{
#if KILN_DSP_ASM
    uint32_t quads = n / 4u;

    if (quads && ((uintptr_t)src & 3u) == 0) {
        /* LDM fills its registers in ascending order: they are fixed. */
        register uint32_t a __asm__("r2");
        register uint32_t b __asm__("r3");
        register uint32_t c __asm__("r4");
        register uint32_t d __asm__("r5");
        uint32_t t;
        __asm__ volatile(
            "1:\n\t"
            "ldmia  %[s]!, {r2-r5}\n\t"
            "sxtb16 %[t], %[a]\n\t"
            "sxtb16 %[a], %[a], ror #8\n\t"
            "strd   %[t], %[a], [%[o]], #16\n\t"
            "sxtb16 %[t], %[b]\n\t"
            "sxtb16 %[b], %[b], ror #8\n\t"
            "strd   %[t], %[b], [%[o]], #16\n\t"
            "sxtb16 %[t], %[c]\n\t"
            "sxtb16 %[c], %[c], ror #8\n\t"
            "strd   %[t], %[c], [%[o]], #16\n\t"
            "sxtb16 %[t], %[d]\n\t"
            "sxtb16 %[d], %[d], ror #8\n\t"
            "strd   %[t], %[d], [%[o]], #16\n\t"
            "subs   %[n], %[n], #1\n\t"
            "bne    1b\n\t"
            : [a] "=&r"(a), [b] "=&r"(b), [c] "=&r"(c), [d] "=&r"(d), [t] "=&r"(t), [s] "+r"(src),
              [o] "+r"(dst), [n] "+r"(quads)
            :
            : "cc", "memory");
        n &= 3u;
    }
#endif
    while (n--) {
        widen_group(dst, kiln_load32(src));
        dst += 4;
        src += 4;
    }
}

/* Copies n bytes, a word at a time (unaligned LDR/STR). */
static inline void copy_bytes(int8_t *dst, const int8_t *src, uint32_t n)
{
    for (; n >= 4u; n -= 4u, dst += 4, src += 4) {
        kiln_store32(dst, kiln_load32(src));
    }
    while (n--) {
        *dst++ = *src++;
    }
}

/* Gathers the receptive field of output pixel (oy, ox) as int8 into buf
 * (its k_h * k_w * in_c bytes, padding as the zero point). A
 * kernel row that lies inside the input (dilation 1) is one contiguous
 * run in NHWC and is copied as such. */
static void gather(const kiln_dsp_conv_params_t *p, const int8_t *in, uint32_t oy, uint32_t ox,
                   int8_t *buf)
{
    const int32_t y0 = (int32_t)(oy * p->g.stride_h) - p->g.pad_top;
    const int32_t x0 = (int32_t)(ox * p->g.stride_w) - p->g.pad_left;
    const uint32_t ic = p->g.in_c, run = (uint32_t)p->g.k_w * ic;
    const int row_inside = p->g.dil_w == 1 && x0 >= 0 && x0 + (int32_t)p->g.k_w <= (int32_t)p->g.in_w;
    uint32_t ky, kx, i, n = 0;

    for (ky = 0; ky < p->g.k_h; ky++) {
        const int32_t y = y0 + (int32_t)(ky * p->g.dil_h);
        if (y < 0 || y >= (int32_t)p->g.in_h) {
            for (i = 0; i < run; i++) {
                buf[n++] = p->pad_value;
            }
            continue;
        }
        if (row_inside) {
            copy_bytes(buf + n, in + ((uint32_t)y * p->g.in_w + (uint32_t)x0) * ic, run);
            n += run;
            continue;
        }
        for (kx = 0; kx < p->g.k_w; kx++) {
            const int32_t x = x0 + (int32_t)(kx * p->g.dil_w);
            if (x < 0 || x >= (int32_t)p->g.in_w) {
                for (i = 0; i < ic; i++) {
                    buf[n++] = p->pad_value;
                }
            } else {
                const int8_t *s = in + ((uint32_t)y * p->g.in_w + (uint32_t)x) * ic;
                for (i = 0; i < ic; i++) {
                    buf[n++] = s[i];
                }
            }
        }
    }
    /* The K tail past n is the zero point already (gather_tail). */
}

/* gather() for a pixel whose receptive field lies inside the input (dilation
 * 1): each kernel row a run of k_w * in_c bytes, copied a word at a time
 * (unaligned LDR/STR). Every row but the last is copied rounded up to whole
 * words: the up to 3 bytes past its run are read from the next input row and
 * written where the next row's copy overwrites them. For runs of 2 bytes or
 * more those bytes lie inside the next row's run, so no copy passes the
 * buffer's k_len bytes; a 1-byte run (a 3x1 window over one channel) would
 * write up to 3 bytes past both, so such rows are copied exactly. The last
 * row is copied exactly, so the K tail (the zero point, written once per
 * call by gather_tail) stays.
 * Returns 0 when the pixel touches the padding. A 3-channel stem's 3x3 field
 * costs about 25 instructions here against about 90 in gather(). */
static int gather_inside(const kiln_dsp_conv_params_t *p, const int8_t *in, uint32_t oy, uint32_t ox,
                         int8_t *buf)
{
    const int32_t y0 = (int32_t)(oy * p->g.stride_h) - p->g.pad_top;
    const int32_t x0 = (int32_t)(ox * p->g.stride_w) - p->g.pad_left;
    const uint32_t ic = p->g.in_c, run = (uint32_t)p->g.k_w * ic, words = (run + 3u) / 4u;
    const uint32_t row_bytes = (uint32_t)p->g.in_w * ic;
    const int8_t *src;
    uint32_t ky, i;

    if (y0 < 0 || x0 < 0 || y0 + p->g.k_h > p->g.in_h || x0 + p->g.k_w > p->g.in_w) {
        return 0;
    }
    src = in + ((uint32_t)y0 * p->g.in_w + (uint32_t)x0) * ic;
    if (run < 2u) {
        for (ky = 0; ky < p->g.k_h; ky++, src += row_bytes, buf += run) {
            copy_bytes(buf, src, run);
        }
        return 1;
    }
    for (ky = 1; ky < p->g.k_h; ky++, src += row_bytes, buf += run) {
        /* A stem's rows are a few words (3x3 over 3 channels: 3): unrolled. */
        switch (words) {
        case 4u: kiln_store32(buf + 12, kiln_load32(src + 12)); /* fall through */
        case 3u: kiln_store32(buf + 8, kiln_load32(src + 8));   /* fall through */
        case 2u: kiln_store32(buf + 4, kiln_load32(src + 4));   /* fall through */
        case 1u: kiln_store32(buf, kiln_load32(src)); break;
        default:
            for (i = 0; i < words; i++) {
                kiln_store32(buf + 4u * i, kiln_load32(src + 4u * i));
            }
        }
    }
    copy_bytes(buf, src, run);
    return 1;
}

/* The gather buffer's K tail (k_len - k_h * k_w * in_c bytes): the zero
 * point, which every receptive field shares. */
static void gather_tail(const kiln_dsp_conv_params_t *p)
{
    uint32_t n = (uint32_t)p->g.k_h * p->g.k_w * p->g.in_c;

    for (; n < p->k_len; n++) {
        p->gather[n] = p->pad_value;
    }
}

/* im2col of one pixel straight into the widened scratch when every kernel
 * row is one contiguous, 4-aligned run of k_w * in_c bytes inside the input
 * (no padding at this pixel, dilation 1 along the width, k_w * in_c % 4 ==
 * 0). The rows are dil_h input rows apart. */
static int widen_direct(const kiln_dsp_conv_params_t *p, const int8_t *in, uint32_t oy,
                        uint32_t ox, uint32_t *dst)
{
    const int32_t y0 = (int32_t)(oy * p->g.stride_h) - p->g.pad_top;
    const int32_t x0 = (int32_t)(ox * p->g.stride_w) - p->g.pad_left;
    const uint32_t run = (uint32_t)p->g.k_w * p->g.in_c;
    const uint32_t y_last = (uint32_t)(p->g.k_h - 1u) * p->g.dil_h;
    uint32_t ky;

    if (y0 < 0 || x0 < 0 || (uint32_t)y0 + y_last >= p->g.in_h || x0 + p->g.k_w > p->g.in_w) {
        return 0;
    }
    for (ky = 0; ky < p->g.k_h; ky++) {
        const uint32_t y = (uint32_t)y0 + ky * p->g.dil_h;
        widen(dst, in + (y * p->g.in_w + (uint32_t)x0) * p->g.in_c, run / 4);
        dst += run;   /* run/4 groups of 4 words */
    }
    return 1;
}

/* A 3x3 receptive field over 3 channels (an image stem) inside the input,
 * straight into the widened scratch: its 27 bytes (K padded to 28) are the
 * three kernel rows' 9 bytes back to back, so K groups 2 and 4 straddle two
 * rows. Each group is one unaligned word load, those two patched from a
 * second load (a byte insert, a halfword pack), then widened: about 45
 * instructions against 180 for gather_inside() and widen(). Group 6's last
 * byte (K element 27, weight zero) is whatever follows the field; a field
 * whose last load would pass the input's end returns 0 (the gather runs). */
KILN_SPECIALIZE int stem3x3_direct(const kiln_dsp_conv_params_t *p, const int8_t *in, uint32_t oy,
                                   uint32_t ox, uint32_t *dst)
{
    const int32_t y0 = (int32_t)(oy * p->g.stride_h) - p->g.pad_top;
    const int32_t x0 = (int32_t)(ox * p->g.stride_w) - p->g.pad_left;
    const uint32_t row = 3u * p->g.in_w;
    const int8_t *r0, *r1, *r2;

    /* unsigned compares: a negative origin fails them too (im2col_mode: in_h, in_w >= 3) */
    if ((uint32_t)y0 > p->g.in_h - 3u || (uint32_t)x0 > p->g.in_w - 3u) {
        return 0;
    }
    /* only a field on the last input rows can have its last load pass the end */
    if ((uint32_t)y0 + 3u == p->g.in_h && 3u * (uint32_t)x0 + 10u > row) {
        return 0;
    }
    r0 = in + (uint32_t)y0 * row + 3u * (uint32_t)x0;
    r1 = r0 + row;
    r2 = r1 + row;
    widen_group(dst, kiln_load32(r0));                                         /* r0[0..3] */
    widen_group(dst + 4, kiln_load32(r0 + 4));                                 /* r0[4..7] */
    widen_group(dst + 8, (kiln_load32(r1 - 1) & ~0xFFu) | (uint8_t)r0[8]);    /* r0[8], r1[0..2] */
    widen_group(dst + 12, kiln_load32(r1 + 3));                                /* r1[3..6] */
    widen_group(dst + 16, kiln_pkhbt16(kiln_load32(r1 + 7), kiln_load32(r2 - 2) >> 16)); /* r1[7..8], r2[0..1] */
    widen_group(dst + 20, kiln_load32(r2 + 2));                                /* r2[2..5] */
    widen_group(dst + 24, kiln_load32(r2 + 6));                                /* r2[6..8], K 27 */
    return 1;
}

/* A field whose kernel rows are one word each (k_w * in_c == 4, dilation 1
 * along the width: DS-CNN's 10x4 stem over one channel), straight into the
 * widened scratch: one load per row, about 5 instructions a row against
 * some 40 through gather() and widen(). A row in the padding is the zero
 * point; a row crossing the left or right edge is the row's first or last
 * word shifted, the zero point's bytes shifted in (no load reaches outside
 * the input row); a row crossing both is taken byte by byte. */
KILN_SPECIALIZE void rowword_field(const kiln_dsp_conv_params_t *p, const int8_t *in, uint32_t oy,
                                   uint32_t ox, uint32_t *dst)
{
    const int32_t y0 = (int32_t)(oy * p->g.stride_h) - p->g.pad_top;
    const int32_t x0 = (int32_t)(ox * p->g.stride_w) - p->g.pad_left;
    const uint32_t ic = p->g.in_c, row = (uint32_t)p->g.in_w * ic, step = (uint32_t)p->g.dil_h * row;
    const uint32_t zp4 = (uint8_t)p->pad_value * 0x01010101u;
    const int32_t right = x0 + (int32_t)p->g.k_w - (int32_t)p->g.in_w;   /* columns past the edge */
    uint32_t ky, b, off, sh = 0, keep = 0xFFFFFFFFu;

    if (x0 >= 0 && right <= 0) {
        off = (uint32_t)x0 * ic;
        if (y0 >= 0 && (uint32_t)y0 + (uint32_t)(p->g.k_h - 1u) * p->g.dil_h < p->g.in_h) {
            const int8_t *s = in + (uint32_t)y0 * row + off;
            for (ky = 0; ky < p->g.k_h; ky++, s += step, dst += 4) {
                widen_group(dst, kiln_load32(s));
            }
            return;
        }
    } else if (x0 < 0 && right <= 0 && row >= 4u) {
        off = 0;                                   /* the row's first word, moved up */
        sh = 8u * (uint32_t)(-x0) * ic;
        keep = 0xFFFFFFFFu << sh;
    } else if (x0 >= 0 && right > 0 && row >= 4u) {
        off = row - 4u;                            /* its last word, moved down */
        sh = 8u * (uint32_t)right * ic;
        keep = 0xFFFFFFFFu >> sh;
    } else {
        off = 0;
        keep = 0;                                  /* byte by byte */
    }
    for (ky = 0; ky < p->g.k_h; ky++, dst += 4) {
        const int32_t y = y0 + (int32_t)(ky * p->g.dil_h);
        uint32_t v = zp4;
        if (y >= 0 && y < (int32_t)p->g.in_h) {
            const int8_t *r = in + (uint32_t)y * row;
            if (keep == 0xFFFFFFFFu) {
                v = kiln_load32(r + off);
            } else if (keep == 0) {
                for (b = 0; b < 4u; b++) {
                    const int32_t x = x0 + (int32_t)(b / ic);
                    if (x >= 0 && x < (int32_t)p->g.in_w) {
                        v = (v & ~(0xFFu << (8u * b))) | (uint32_t)(uint8_t)r[(uint32_t)x * ic + b % ic] << (8u * b);
                    }
                }
            } else {
                const uint32_t w = kiln_load32(r + off);
                v = ((x0 < 0 ? w << sh : w >> sh) & keep) | (zp4 & ~keep);
            }
        }
        widen_group(dst, v);
    }
}

/* How a pixel is taken: a 1x1 stride-1 layer's pixel widened where it is
 * (from im2col_pair(): im2col()'s call and checks cost twice the widening
 * of 64 channels), rows widened straight from it (im2col()), a 3-channel
 * 3x3 stem's field patched together (stem3x3_direct()), kernel rows of one
 * word (rowword_field()), or the general ways. */
enum { IM2COL_GENERAL, IM2COL_DIRECT, IM2COL_STEM3X3, IM2COL_ROWWORD, IM2COL_POINTWISE };

static int im2col_mode(const kiln_dsp_conv_params_t *p)
{
    if (p->g.k_h == 1u && p->g.k_w == 1u && p->g.stride_h == 1u && p->g.stride_w == 1u &&
        p->g.pad_top == 0 && p->g.pad_left == 0 && p->g.in_c % 4u == 0 && p->g.in_h == p->g.out_h &&
        p->g.in_w == p->g.out_w) {
        return IM2COL_POINTWISE;
    }
    if (p->g.dil_w == 1u && (uint32_t)p->g.k_w * p->g.in_c == 4u && p->g.in_c < 4u) {
        return IM2COL_ROWWORD;
    }
    if (p->g.dil_w == 1u && ((uint32_t)p->g.k_w * p->g.in_c) % 4u == 0) {
        return IM2COL_DIRECT;
    }
    if (p->g.in_c == 3u && p->g.k_h == 3u && p->g.k_w == 3u && p->g.dil_h == 1u && p->g.dil_w == 1u &&
        p->k_len == 28u && p->g.in_h >= 3u && p->g.in_w >= 3u) {
        return IM2COL_STEM3X3;
    }
    return IM2COL_GENERAL;
}

/* The receptive field of one output pixel, widened into the scratch.
 * Fast path: no padding at this pixel and each kernel row one contiguous
 * run of a multiple of 4 bytes. Else, in_c % 4 == 0: tap by tap, padding
 * taps as the widened zero point. Else: gathered as int8 first (into the
 * k_len bytes of scratch planned after the widened pixels). */
static void im2col(const kiln_dsp_conv_params_t *p, const int8_t *in, uint32_t pix,
                   uint32_t *dst, int mode)
{
    const uint32_t oy = pix / p->g.out_w, ox = pix % p->g.out_w;

    if (mode == IM2COL_DIRECT && widen_direct(p, in, oy, ox, dst)) {
        return;
    }
    if (p->g.in_c % 4u == 0) {
        const int32_t y0 = (int32_t)(oy * p->g.stride_h) - p->g.pad_top;
        const int32_t x0 = (int32_t)(ox * p->g.stride_w) - p->g.pad_left;
        const uint32_t zp = kiln_pack16(p->pad_value, p->pad_value);
        uint32_t ky, kx, i;
        for (ky = 0; ky < p->g.k_h; ky++) {
            const int32_t y = y0 + (int32_t)(ky * p->g.dil_h);
            for (kx = 0; kx < p->g.k_w; kx++) {
                const int32_t x = x0 + (int32_t)(kx * p->g.dil_w);
                if (y < 0 || y >= (int32_t)p->g.in_h || x < 0 || x >= (int32_t)p->g.in_w) {
                    for (i = 0; i < p->g.in_c; i += 4) {
                        dst[0] = zp;
                        dst[1] = zp;
                        dst += 4;
                    }
                } else {
                    widen(dst, in + ((uint32_t)y * p->g.in_w + (uint32_t)x) * p->g.in_c, p->g.in_c / 4u);
                    dst += p->g.in_c;
                }
            }
        }
    } else {
        if (p->g.dil_h != 1u || p->g.dil_w != 1u || !gather_inside(p, in, oy, ox, p->gather)) {
            gather(p, in, oy, ox, p->gather);
        }
        widen(dst, p->gather, p->k_len / 4u);
    }
}

/* Pixels pix and, when `two`, pix + 1 into the scratch. A stem's fields (and
 * one-word rows) are taken here, inlined: im2col()'s call and dispatch cost as much as the
 * field itself; a field touching the padding goes to im2col(). */
KILN_SPECIALIZE void im2col_pair(const kiln_dsp_conv_params_t *p, const int8_t *in, uint32_t pix,
                                 int two, uint32_t *pt, int mode)
{
    const uint32_t pb = two ? pix + 1u : pix;

    if (mode == IM2COL_STEM3X3) {
        const uint32_t oy = pix / p->g.out_w, ox = pix - oy * p->g.out_w;
        const uint32_t oyb = pb / p->g.out_w, oxb = pb - oyb * p->g.out_w;
        if (!stem3x3_direct(p, in, oy, ox, pt)) {
            im2col(p, in, pix, pt, IM2COL_GENERAL);
        }
        if (!stem3x3_direct(p, in, oyb, oxb, pt + 2)) {
            im2col(p, in, pb, pt + 2, IM2COL_GENERAL);
        }
    } else if (mode == IM2COL_POINTWISE) {
        widen(pt, in + pix * p->g.in_c, p->g.in_c / 4u);
        widen(pt + 2, in + pb * p->g.in_c, p->g.in_c / 4u);
    } else if (mode == IM2COL_ROWWORD) {
        rowword_field(p, in, pix / p->g.out_w, pix % p->g.out_w, pt);
        rowword_field(p, in, pb / p->g.out_w, pb % p->g.out_w, pt + 2);
    } else {
        im2col(p, in, pix, pt, mode);
        im2col(p, in, pb, pt + 2, mode);
    }
}

/* One group of four K elements for pixels A, B and channels c, c+1:
 * two LDRD of activations, two LDRD of weights, 8 SMLAD (16 MACs). */
#define KILN_MAC_GROUP() KILN_MAC_GROUP_FROM(pt)

/* The same, the activations read (and advanced) through pointer `x`. */
#define KILN_MAC_GROUP_FROM(x)                             \
    do {                                                   \
        uint32_t xa0, xa1, xb0, xb1, w00, w01, w10, w11;   \
        KILN_LDRD_INC(x, xa0, xa1);                        \
        KILN_LDRD_INC(w, w00, w01);                        \
        a0 = kiln_smlad(xa0, w00, a0);                     \
        a0 = kiln_smlad(xa1, w01, a0);                     \
        KILN_LDRD_INC(x, xb0, xb1);                        \
        b0 = kiln_smlad(xb0, w00, b0);                     \
        b0 = kiln_smlad(xb1, w01, b0);                     \
        KILN_LDRD_INC(w, w10, w11);                        \
        a1 = kiln_smlad(xa0, w10, a1);                     \
        a1 = kiln_smlad(xa1, w11, a1);                     \
        b1 = kiln_smlad(xb0, w10, b1);                     \
        b1 = kiln_smlad(xb1, w11, b1);                     \
    } while (0)

/* The same for the group at `pg` (the sparse kernel's: pt does not move). */
#define KILN_MAC_GROUP_AT(pg)                              \
    do {                                                   \
        const uint32_t *q = (pg);                          \
        KILN_MAC_GROUP_FROM(q);                            \
    } while (0)

#if KILN_DSP_ASM
/* One nonzero K group of the sparse layout: its index (from r12), its
 * address (4 words a group from %[pt]), LDM of the activations and of the
 * weights, 8 SMLAD. */
#define KILN_SPARSE_GROUP_ASM \
        "ldrh   r5, [r12], #2\n\t" \
        "ldr    r4, %[pt]\n\t" \
        "add    r4, r4, r5, lsl #4\n\t" \
        "ldm    r4, {r4-r7}\n\t" \
        "ldmia  lr!, {r8-r11}\n\t" \
        KILN_CONV_SMLAD_ASM

/* Pairs of groups on the target: LDM loads the four activation words and the
 * four weight words of a group in one instruction each (GCC never forms LDM
 * here), 8 SMLAD per group: 23 instructions per 32 MACs with the loop.
 * Registers: r0-r3 the accumulators a0 a1 b0 b1, r4-r7 the activations,
 * r8-r11 the weights, r12 the activations' pointer, lr the weights'. */
static inline const uint32_t *mac_pairs(const uint32_t *pt, const uint32_t *w, uint32_t pairs,
                                        int32_t *acc)
{
    register int32_t a0 __asm__("r0") = acc[0];
    register int32_t a1 __asm__("r1") = acc[1];
    register int32_t b0 __asm__("r2") = acc[2];
    register int32_t b1 __asm__("r3") = acc[3];
    register const uint32_t *x __asm__("r12") = pt;
    register const uint32_t *wp __asm__("lr") = w;
    const uint32_t *end = pt + 8u * pairs;

    __asm__ volatile(
        "1:\n\t"
        KILN_CONV_GROUP_ASM
        KILN_CONV_GROUP_ASM
        "ldr    r4, %[end]\n\t"
        "cmp    r12, r4\n\t"
        "bne    1b\n\t"
        : "+r"(a0), "+r"(a1), "+r"(b0), "+r"(b1), "+r"(x), "+r"(wp)
        : [end] "m"(end)
        : "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11", "cc", "memory");
    acc[0] = a0; acc[1] = a1; acc[2] = b0; acc[3] = b1;
    return wp;
}
#endif

/* The four accumulators of pixels A, B and channels c, c+1, two groups per
 * iteration (an odd group first). Returns the weights after this pair. */
static inline const uint32_t *mac_2x2(const uint32_t *pt, const uint32_t *w, uint32_t groups,
                                      int32_t *acc)
{
    int32_t a0 = acc[0], a1 = acc[1], b0 = acc[2], b1 = acc[3];

    if (groups & 1u) {
        KILN_MAC_GROUP();
    }
#if KILN_DSP_ASM
    if (groups >= 2u) {
        acc[0] = a0; acc[1] = a1; acc[2] = b0; acc[3] = b1;
        return mac_pairs(pt, w, groups / 2u, acc);
    }
#else
    for (groups /= 2u; groups; groups--) {
        KILN_MAC_GROUP();
        KILN_MAC_GROUP();
    }
#endif
    acc[0] = a0; acc[1] = a1; acc[2] = b0; acc[3] = b1;
    return w;
}

/* The block-sparse weights of one channel pair (kiln/dsp.h): only its n
 * nonzero K groups, idx[] their numbers, each group's 4 weight words at w as
 * in the dense layout. Returns the weights after the pair. */
static inline const uint32_t *mac_sparse(const uint32_t *pt, const uint32_t *w, const uint16_t *idx,
                                         uint32_t n, int32_t *acc)
{
#if KILN_DSP_ASM
    register int32_t a0 __asm__("r0") = acc[0];
    register int32_t a1 __asm__("r1") = acc[1];
    register int32_t b0 __asm__("r2") = acc[2];
    register int32_t b1 __asm__("r3") = acc[3];
    register const uint16_t *ip __asm__("r12") = idx;
    register const uint32_t *wp __asm__("lr") = w;
    const uint16_t *end = idx + n;

    if (n != 0u) {
        __asm__ volatile(
            "1:\n\t"
            KILN_SPARSE_GROUP_ASM
            "ldr    r4, %[end]\n\t"
            "cmp    r12, r4\n\t"
            "bne    1b\n\t"
            : "+r"(a0), "+r"(a1), "+r"(b0), "+r"(b1), "+r"(ip), "+r"(wp)
            : [pt] "m"(pt), [end] "m"(end)
            : "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11", "cc", "memory");
    }
    acc[0] = a0; acc[1] = a1; acc[2] = b0; acc[3] = b1;
    return wp;
#else
    int32_t a0 = acc[0], a1 = acc[1], b0 = acc[2], b1 = acc[3];
    uint32_t j;

    for (j = 0; j < n; j++) {
        const uint32_t *pg = pt + 4u * idx[j];
        KILN_MAC_GROUP_AT(pg);
    }
    acc[0] = a0; acc[1] = a1; acc[2] = b0; acc[3] = b1;
    return w;
#endif
}

#if KILN_DSP_ASM
/* Every channel pair of pixels A and B, start to finish in assembly, for
 * layers without a clamp or exact records (the common case): the biases,
 * the MAC loop, the four requantizations (SMMLAR, ADD ASR #31, ASR, SSAT:
 * kiln_dsp_requant) and the four stores, all read from the one weight
 * stream (kiln/dsp.h) through lr: a pair's overhead is 15 instructions
 * besides its requantizations' 16.
 * Registers as in mac_pairs; the pointers that advance by pair live on the
 * stack ("m" operands, addressed from sp since every other register is
 * taken). The MAC loop is mac2x2_asm.h's run of sixteen K groups (entered
 * part-way for a count that is not a multiple of sixteen, no end test up to
 * sixteen, one per sixteen beyond: 0.02 instructions per MAC). Pixel B's
 * outputs are boff bytes after pixel A's (0 for an odd last pixel: stored
 * twice, the same). pairs_asm returns the stream after the last pair; it is
 * inlined into the pixel loop (a call per pixel pair cost a 3-channel stem
 * 1.5% of its instructions). */
#define KILN_PAIRS_ASM(ENTRY, TEST, RQ) \
        KILN_MAC_ENTRY_SETUP_ASM \
        "1:\n\t" \
        "ldmia  lr!, {r0-r3}\n\t"           /* the four accumulators' biases */ \
        "ldr    r12, %[pt]\n\t" \
        ENTRY \
        "\n" \
        KILN_MAC_RUN16_ASM \
        TEST \
        "ldmia  lr!, {r4-r11}\n\t"          /* the records of c, c + 1 */ \
        RQ \
        "ldr    r6, %[wend]\n\t" \
        "cmp    lr, r6\n\t" \
        KILN_PAIR_STORE_ASM

/* The four requantizations of a pair, its two records in r4-r11 (r5-r7
 * mult, round, shift of c; r9-r11 of c + 1), shared with the sparse
 * kernel's loop. */
#define KILN_PAIR_RQ_ASM \
        "smmlar r4, r0, r5, r6\n\t"         /* A, c */ \
        "add    r4, r4, r0, asr #31\n\t" \
        "asr    r4, r4, r7\n\t" \
        "ssat   r4, #8, r4\n\t" \
        "smmlar r8, r2, r5, r6\n\t"         /* B, c */ \
        "add    r8, r8, r2, asr #31\n\t" \
        "asr    r8, r8, r7\n\t" \
        "ssat   r8, #8, r8\n\t" \
        "smmlar r0, r1, r9, r10\n\t"        /* A, c + 1 */ \
        "add    r0, r0, r1, asr #31\n\t" \
        "asr    r0, r0, r11\n\t" \
        "ssat   r0, #8, r0\n\t" \
        "smmlar r2, r3, r9, r10\n\t"        /* B, c + 1 */ \
        "add    r2, r2, r3, asr #31\n\t" \
        "asr    r2, r2, r11\n\t" \
        "ssat   r2, #8, r2\n\t"

/* The same under a ReLU (`floor`): without the rounding term only negative
 * accumulators need (kiln_dsp_requant_floor), 12 instructions for four. */
#define KILN_PAIR_RQ_FLOOR_ASM \
        "smmlar r4, r0, r5, r6\n\t"         /* A, c */ \
        "asr    r4, r4, r7\n\t" \
        "ssat   r4, #8, r4\n\t" \
        "smmlar r8, r2, r5, r6\n\t"         /* B, c */ \
        "asr    r8, r8, r7\n\t" \
        "ssat   r8, #8, r8\n\t" \
        "smmlar r0, r1, r9, r10\n\t"        /* A, c + 1 */ \
        "asr    r0, r0, r11\n\t" \
        "ssat   r0, #8, r0\n\t" \
        "smmlar r2, r3, r9, r10\n\t"        /* B, c + 1 */ \
        "asr    r2, r2, r11\n\t" \
        "ssat   r2, #8, r2\n\t"

/* A pair's four stores (the loop's end test already in the flags) and the
 * next pair. */
#define KILN_PAIR_STORE_ASM \
        "ldr    r5, %[oa]\n\t" \
        "ldr    r7, %[boff]\n\t" \
        "strb   r8, [r5, r7]\n\t" \
        "strb   r4, [r5], #1\n\t" \
        "strb   r2, [r5, r7]\n\t" \
        "strb   r0, [r5], #1\n\t" \
        "str    r5, %[oa]\n\t" \
        "bne    1b\n\t"

KILN_SPECIALIZE const uint32_t *pairs_asm(const uint32_t *pt, const uint32_t *w, uint32_t groups,
                                          int8_t *oa, int32_t boff, uint32_t npairs, int floor)
{
    register const uint32_t *wp __asm__("lr") = w;
    const uint32_t *kend = pt + 4u * groups;
    const uint32_t *wend = w + npairs * (4u * groups + KILN_CONV_PAIR_EXTRA);
    const uint32_t back = kiln_mac_back(groups);
    uint32_t entry;

#define KILN_PAIRS_CALL_RQ(ENTRY, TEST, RQ) \
        __asm__ volatile(KILN_PAIRS_ASM(ENTRY, TEST, RQ) \
        : "+r"(wp), [oa] "+m"(oa), [entry] "=m"(entry) \
        : [pt] "m"(pt), [kend] "m"(kend), [wend] "m"(wend), [boff] "m"(boff), [back] "m"(back) \
        : KILN_MAC_CLOBBERS)
#define KILN_PAIRS_CALL(ENTRY, TEST) KILN_PAIRS_CALL_RQ(ENTRY, TEST, KILN_PAIR_RQ_ASM)
#define KILN_PAIRS_CALL_FLOOR(ENTRY, TEST) KILN_PAIRS_CALL_RQ(ENTRY, TEST, KILN_PAIR_RQ_FLOOR_ASM)
    if (floor) {
        KILN_MAC_RUN_VARIANTS(KILN_PAIRS_CALL_FLOOR, groups, KILN_MAC_TEST_ASM);
    } else {
        KILN_MAC_RUN_VARIANTS(KILN_PAIRS_CALL, groups, KILN_MAC_TEST_ASM);
    }
#undef KILN_PAIRS_CALL_FLOOR
#undef KILN_PAIRS_CALL
#undef KILN_PAIRS_CALL_RQ
    return wp;
}
#undef KILN_PAIRS_ASM

/* Every channel pair of the block-sparse layout (kiln_dsp_conv_sparse_s8) in
 * assembly, for layers without a clamp or exact records: as pairs_asm, the
 * MAC loop over the pair's nonzero K groups only (nz_idx from %[ip], up to
 * the pair's end taken from nz_start), two groups per iteration. */
KILN_SPECIALIZE const uint32_t *sparse_pairs_asm(const uint32_t *pt, const uint32_t *w,
                                                 const uint16_t *idx0, const uint32_t *nz_start,
                                                 const kiln_dsp_rq_t *rec, int8_t *oa, int32_t boff,
                                                 uint32_t npairs)
{
    register const uint32_t *wp __asm__("lr") = w;
    const uint16_t *ip = idx0 + nz_start[0], *kend = ip;
    const uint32_t *nzs = nz_start + 1;
    const kiln_dsp_rq_t *rend = rec + 2u * npairs;

    __asm__ volatile(
        "ldr    r12, %[rec]\n\t"
        "1:\n\t"
        "ldr    r0, [r12]\n\t"              /* bias of channel c */
        "ldr    r1, [r12, #16]\n\t"         /* bias of channel c + 1 */
        "mov    r2, r0\n\t"
        "mov    r3, r1\n\t"
        "ldr    r12, %[ip]\n\t"
        "ldr    r4, %[nzs]\n\t"
        "ldr    r5, [r4], #4\n\t"           /* the pair's end in nz_idx */
        "str    r4, %[nzs]\n\t"
        "ldr    r4, %[idx0]\n\t"
        "add    r5, r4, r5, lsl #1\n\t"
        "str    r5, %[kend]\n\t"
        "cmp    r12, r5\n\t"
        "beq    3f\n\t"
        "sub    r4, r5, r12\n\t"            /* an odd number of groups enters halfway */
        "tst    r4, #2\n\t"
        "bne    4f\n\t"
        "2:\n\t"
        KILN_SPARSE_GROUP_ASM
        "4:\n\t"
        KILN_SPARSE_GROUP_ASM
        "ldr    r4, %[kend]\n\t"
        "cmp    r12, r4\n\t"
        "bne    2b\n\t"
        "3:\n\t"
        "str    r12, %[ip]\n\t"
        "ldr    r12, %[rec]\n\t"
        "ldmia  r12!, {r4-r11}\n\t"
        "str    r12, %[rec]\n\t"
        KILN_PAIR_RQ_ASM
        "ldr    r6, %[rend]\n\t"
        "cmp    r12, r6\n\t"
        KILN_PAIR_STORE_ASM
        : "+r"(wp), [rec] "+m"(rec), [oa] "+m"(oa), [ip] "+m"(ip), [nzs] "+m"(nzs), [kend] "+m"(kend)
        : [pt] "m"(pt), [idx0] "m"(idx0), [rend] "m"(rend), [boff] "m"(boff)
        : KILN_MAC_CLOBBERS);
    return wp;
}
#undef KILN_PAIR_STORE_ASM
#undef KILN_PAIR_RQ_ASM
#undef KILN_PAIR_RQ_FLOOR_ASM
#undef KILN_SPARSE_GROUP_ASM
#endif

static inline int8_t out_q(const kiln_dsp_conv_params_t *p, const kiln_dsp_rq_t *r, int32_t acc,
                           int clamp, int exact)
{
    int32_t q = kiln_dsp_rq_floor(acc, r, exact, p->floor);
    if (clamp) {
        q = kiln_dsp_clamp(q, p->act_min, p->act_max);
    }
    return (int8_t)q;
}

/* Output channels c0 .. c1 - 1 (c0 even) of every pixel, their weight
 * stream (kiln/dsp.h) at w0, with the activation clamp and the exact records
 * known at compile time. */
KILN_SPECIALIZE void body(const kiln_dsp_conv_params_t *p, const int8_t *in, int8_t *out,
                          const uint32_t *w0, uint32_t c0, uint32_t c1, int clamp, int exact)
{
    const uint32_t npix = (uint32_t)p->g.out_h * p->g.out_w;
    const uint32_t oc = p->g.out_c, groups = p->k_len / 4u;
    const int mode = im2col_mode(p);
    uint32_t *pt = (uint32_t *)(void *)p->scratch;
    uint32_t pix, c;

    if (p->gather) {
        gather_tail(p);
    }
    for (pix = 0; pix < npix; pix += 2) {
        const int two = pix + 1 < npix;
        int8_t *oa = out + pix * oc;
        int8_t *ob = two ? oa + oc : oa;   /* an odd last pixel is computed twice, stored once */
        const uint32_t *w = w0;

        im2col_pair(p, in, pix, two, pt, mode);
        c = c0;
#if KILN_DSP_ASM
        if (!clamp && !exact && groups >= 1u && c0 + 1u < c1) {
            const uint32_t npairs = (c1 - c0) / 2u;
            w = pairs_asm(pt, w, groups, oa + c0, (int32_t)(ob - oa), npairs, p->floor);
            c += 2u * npairs;
        }
#endif
        for (; c < c1; c += 2) {   /* odd out_c: the stream holds a zero channel c + 1 */
            const kiln_dsp_rq_t *r;
            int32_t acc[4];
            acc[0] = acc[2] = (int32_t)w[0];
            acc[1] = acc[3] = (int32_t)w[1];
            w = mac_2x2(pt, w + 4, groups, acc);
            r = (const kiln_dsp_rq_t *)(const void *)w;
            w += 8;
            ob[c] = out_q(p, &r[0], acc[2], clamp, exact);
            oa[c] = out_q(p, &r[0], acc[0], clamp, exact);
            if (c + 1 < c1) {
                ob[c + 1] = out_q(p, &r[1], acc[3], clamp, exact);
                oa[c + 1] = out_q(p, &r[1], acc[1], clamp, exact);
            }
        }
    }
}

/* The block-sparse layout (kiln_dsp_conv_sparse_s8): every channel pair
 * walks only its nonzero K groups (nz_start, nz_idx), in C around the
 * assembly MAC loop, with the activation clamp and exact records known at
 * compile time. */
KILN_SPECIALIZE void body_sparse(const kiln_dsp_conv_params_t *p, const int8_t *in, int8_t *out,
                                 int clamp, int exact)
{
    const uint32_t npix = (uint32_t)p->g.out_h * p->g.out_w, oc = p->g.out_c;
    const int mode = im2col_mode(p);
    uint32_t *pt = (uint32_t *)(void *)p->scratch;
    uint32_t pix, c, pair;

    if (p->gather) {
        gather_tail(p);
    }
    for (pix = 0; pix < npix; pix += 2) {
        const int two = pix + 1 < npix;
        int8_t *oa = out + pix * oc;
        int8_t *ob = two ? oa + oc : oa;   /* an odd last pixel is computed twice, stored once */
        const uint32_t *w = (const uint32_t *)(const void *)p->w;
        const kiln_dsp_rq_t *r = p->rq;

        im2col_pair(p, in, pix, two, pt, mode);
        c = 0;
        pair = 0;
#if KILN_DSP_ASM
        if (!clamp && !exact && oc >= 2u) {
            const uint32_t npairs = oc / 2u;
            w = sparse_pairs_asm(pt, w, p->nz_idx, p->nz_start, r, oa, (int32_t)(ob - oa), npairs);
            c = 2u * npairs;
            r += 2u * npairs;
            pair = npairs;
        }
#endif
        for (; c < oc; c += 2, r += 2, pair++) {
            const uint32_t j0 = p->nz_start[pair], j1 = p->nz_start[pair + 1u];
            int32_t acc[4];
            acc[0] = acc[2] = r[0].bias;
            acc[1] = acc[3] = c + 1 < oc ? r[1].bias : 0;
            w = mac_sparse(pt, w, p->nz_idx + j0, j1 - j0, acc);
            ob[c] = out_q(p, &r[0], acc[2], clamp, exact);
            oa[c] = out_q(p, &r[0], acc[0], clamp, exact);
            if (c + 1 < oc) {
                ob[c + 1] = out_q(p, &r[1], acc[3], clamp, exact);
                oa[c + 1] = out_q(p, &r[1], acc[1], clamp, exact);
            }
        }
    }
}

static void sparse_exact(const kiln_dsp_conv_params_t *p, const int8_t *in, int8_t *out)
{
    body_sparse(p, in, out, p->clamp, 1);
}

void kiln_dsp_conv_sparse_s8(const kiln_dsp_conv_params_t *p, const int8_t *in, int8_t *out)
{
    if (p->exact) {
        sparse_exact(p, in, out);
    } else if (p->clamp) {
        body_sparse(p, in, out, 1, 0);
    } else {
        body_sparse(p, in, out, 0, 0);
    }
}

/* Layers with exact records: a separate copy, so that the others do not
 * test for them per output. */
static void body_exact(const kiln_dsp_conv_params_t *p, const int8_t *in, int8_t *out,
                       const uint32_t *w, uint32_t c0, uint32_t c1)
{
    body(p, in, out, w, c0, c1, p->clamp, 1);
}

static void run(const kiln_dsp_conv_params_t *p, const int8_t *in, int8_t *out, const uint32_t *w,
                uint32_t c0, uint32_t c1)
{
    if (p->exact) {
        body_exact(p, in, out, w, c0, c1);
    } else {
        body(p, in, out, w, c0, c1, p->clamp, 0);
    }
}

void kiln_dsp_conv_s8(const kiln_dsp_conv_params_t *p, const int8_t *in, int8_t *out)
{
    run(p, in, out, (const uint32_t *)(const void *)p->w, 0u, p->g.out_c);
}

/* The size layout: int8 weights in flash, widened chunk by chunk of output
 * channel pairs into arena scratch in the weight stream's form (with the
 * pairs' biases and records), each chunk then run as above over every
 * pixel. The receptive fields are gathered once per chunk: 1 / (2 * chunk
 * pairs) of the widening's cost per MAC. */
void kiln_dsp_conv_w8_s8(const kiln_dsp_conv_params_t *p, const int8_t *in, int8_t *out)
{
    static const kiln_dsp_rq_t filler = {0, 0, 1, 1};   /* an odd last pair's zero channel */
    const uint32_t pairs = (p->g.out_c + 1u) / 2u, words = (uint32_t)p->k_len / 2u;  /* per pair */
    const uint32_t *w8 = (const uint32_t *)(const void *)p->w8;
    uint32_t *wbuf = (uint32_t *)(void *)p->wbuf;
    uint32_t pp, j;

    for (pp = 0; pp < pairs; pp += p->chunk_pairs) {
        const uint32_t n = pairs - pp < p->chunk_pairs ? pairs - pp : p->chunk_pairs;
        const uint32_t c1 = 2u * (pp + n) < p->g.out_c ? 2u * (pp + n) : p->g.out_c;
        uint32_t *wb = wbuf;
        for (j = 0; j < n; j++) {
            const uint32_t c = 2u * (pp + j);
            const kiln_dsp_rq_t *r1 = c + 1u < p->g.out_c ? &p->rq[c + 1u] : &filler;
            wb[0] = wb[2] = (uint32_t)p->rq[c].bias;
            wb[1] = wb[3] = (uint32_t)r1->bias;
            kiln_dsp_widen_weights(wb + 4, w8 + (pp + j) * words, words);
            wb += 4u + 2u * words;
            memcpy(wb, &p->rq[c], sizeof(kiln_dsp_rq_t));
            memcpy(wb + 4, r1, sizeof(kiln_dsp_rq_t));
            wb += 8;
        }
        run(p, in, out, wbuf, 2u * pp, c1);
    }
}
