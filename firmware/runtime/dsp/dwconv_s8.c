/*
 * Kiln DSP kernel: DEPTHWISE_CONV_2D, any depth multiplier and channel
 * count (kiln/dsp.h).
 *
 * Four channels per loaded word: SXTB16 and SXTB16 ROR #8 widen it to
 * [c0, c2] and [c1, c3], and SMLABB / SMLATT multiply each lane by its own
 * channel's weight (pre-widened in the same order: per group of 4 channels
 * and per tap the pairs [w_c0, w_c2], [w_c1, w_c3], one LDRD). SMLAD cannot
 * help here: its two products share one accumulator, and pairing two taps of
 * one channel costs as many PKHBT/PKHTB as it saves.
 *
 * Padding taps read a row of zero points (see kiln/dsp.h). Tap addresses
 * are computed once per output pixel and shared by its channel groups.
 * A channel count that is not a multiple of 4 ends with a partial group,
 * read byte by byte; a depth multiplier m > 1 runs m passes (one per
 * output channel of each input channel) and stores bytes m apart.
 * Assumes: zrow is in_c bytes of arena scratch, `taps` room for each tap's
 * source pointer and offset (any kernel size: a 9x9 or 1x80 layer too).
 */
#include "dsp_rq.h"

/* The four channels' outputs of one group, the clamp known at compile time:
 * packed first, then clamped four lanes at a time (SSUB8 + SEL twice)
 * between lo4 and hi4, the bounds in every byte. */
static inline void store4(const kiln_dsp_rq_t *r, int8_t *o, int32_t a0, int32_t a1, int32_t a2,
                          int32_t a3, int clamp, uint32_t lo4, uint32_t hi4, int exact)
{
    uint32_t v = kiln_pack_s8x4(kiln_dsp_rq(a0, &r[0], exact), kiln_dsp_rq(a1, &r[1], exact),
                                kiln_dsp_rq(a2, &r[2], exact), kiln_dsp_rq(a3, &r[3], exact));

    if (clamp) {
        v = kiln_min_s8x4(kiln_max_s8x4(v, lo4), hi4);
    }
    kiln_store32(o, v);
}

/* Lanes 0..n-1 of a group whose outputs are `step` bytes apart (depth
 * multiplier `step`, or a partial last group). */
static void store_lanes(const kiln_dsp_dwconv_params_t *p, const kiln_dsp_rq_t *r, int8_t *o,
                        uint32_t step, uint32_t n, const int32_t *acc, int exact)
{
    uint32_t l;

    for (l = 0; l < n; l++) {
        int32_t q = kiln_dsp_rq(acc[l], &r[l], exact);
        if (p->clamp) {
            q = kiln_dsp_clamp(q, p->act_min, p->act_max);
        }
        o[l * step] = (int8_t)q;
    }
}

/* One group of four input channels at one output pixel: per tap, one word
 * of activations (or the tail word of a partial group), 2 SXTB16, one LDRD
 * of weights and 4 single-lane multiply-accumulates. */
#define KILN_DW_TAPS(LOAD)                                  \
    do {                                                    \
        const uint32_t v = (LOAD);                          \
        const uint32_t e = kiln_sxtb16(v), o = kiln_sxtb16_ror8(v); \
        uint32_t we, wo;                                    \
        KILN_LDRD_INC(w, we, wo);                           \
        a0 = kiln_smlabb(e, we, a0);                        \
        a2 = kiln_smlatt(e, we, a2);                        \
        a1 = kiln_smlabb(o, wo, a1);                        \
        a3 = kiln_smlatt(o, wo, a3);                        \
    } while (s != end)

/* Tap t of a group, its source pointer read from src[t]: a 3x3 group's
 * taps written out, without the tap loop's pointer walk and branch (about
 * two instructions of eleven per tap). */
#define KILN_DW_TAP(t)                                      \
    do {                                                    \
        const uint32_t v = kiln_load32(src[t] + g);         \
        const uint32_t e = kiln_sxtb16(v), o = kiln_sxtb16_ror8(v); \
        uint32_t we, wo;                                    \
        KILN_LDRD_INC(w, we, wo);                           \
        a0 = kiln_smlabb(e, we, a0);                        \
        a2 = kiln_smlatt(e, we, a2);                        \
        a1 = kiln_smlabb(o, wo, a1);                        \
        a3 = kiln_smlatt(o, wo, a3);                        \
    } while (0)

/* All outputs of one pixel; src[t] is where tap t reads channel 0 (a row of
 * zero points for a padding tap). With depth multiplier m the weights and
 * records hold m passes over the input channels, pass j producing output
 * channels c * m + j. */
KILN_SPECIALIZE void pixel(const kiln_dsp_dwconv_params_t *p, const int8_t *const *src,
                           uint32_t ntaps, int8_t *out, int clamp, int general, int nine)
{
    const int exact = general;
    const uint32_t *w = (const uint32_t *)(const void *)p->w;
    const kiln_dsp_rq_t *r = p->rq;
    const int8_t *const *end = src + ntaps;
    /* The common copy knows m = 1 at compile time; the general one reads it. */
    const uint32_t c = p->g.in_c, full = c & ~3u, m = general ? p->mult : 1u;
    const uint32_t lo4 = kiln_splat_s8x4(p->act_min), hi4 = kiln_splat_s8x4(p->act_max);
    uint32_t g, j;

    for (j = 0; j < m; j++) {
        for (g = 0; g < full; g += 4, r += 4) {
            const int8_t *const *s = src;
            int32_t a0 = r[0].bias, a1 = r[1].bias, a2 = r[2].bias, a3 = r[3].bias;
            if (nine) {
                KILN_DW_TAP(0); KILN_DW_TAP(1); KILN_DW_TAP(2);
                KILN_DW_TAP(3); KILN_DW_TAP(4); KILN_DW_TAP(5);
                KILN_DW_TAP(6); KILN_DW_TAP(7); KILN_DW_TAP(8);
                (void)s;
            } else {
                KILN_DW_TAPS(kiln_load32(*s++ + g));
            }
            if (m == 1u) {
                store4(r, out + g, a0, a1, a2, a3, clamp, lo4, hi4, exact);
            } else {
                const int32_t acc[4] = {a0, a1, a2, a3};
                store_lanes(p, r, out + g * m + j, m, 4u, acc, exact);
            }
        }
        if (full < c) {
            const int8_t *const *s = src;
            int32_t a0 = r[0].bias, a1 = r[1].bias, a2 = r[2].bias, a3 = r[3].bias;
            KILN_DW_TAPS(kiln_load_tail32(*s++ + full, c - full));
            {
                const int32_t acc[4] = {a0, a1, a2, a3};
                store_lanes(p, r, out + full * m + j, m, c - full, acc, exact);
            }
            r += 4;
        }
    }
}

KILN_SPECIALIZE void body(const kiln_dsp_dwconv_params_t *p, const int8_t *in, int8_t *out,
                          int clamp, int general, int nine)
{
    const uint32_t c = p->g.in_c, ntaps = (uint32_t)p->g.k_h * p->g.k_w;
    const int32_t span_h = (int32_t)((p->g.k_h - 1u) * p->g.dil_h);
    const int32_t span_w = (int32_t)((p->g.k_w - 1u) * p->g.dil_w);
    /* The pointers aligned for their width (8 bytes on the 64-bit host check
     * build; the build plans the 4 bytes this may skip). */
    const int8_t **const src = (const int8_t **)(((uintptr_t)p->taps + sizeof(void *) - 1u)
                                                 & ~(uintptr_t)(sizeof(void *) - 1u));
    int32_t *const off = (int32_t *)(void *)(src + ntaps);
    int8_t *const zrow = p->zrow;
    uint32_t oy, ox, ky, kx, t, i;

    for (i = 0; i < c; i++) {
        zrow[i] = p->pad_value;
    }
    for (t = 0, ky = 0; ky < p->g.k_h; ky++) {
        for (kx = 0; kx < p->g.k_w; kx++, t++) {
            off[t] = (int32_t)(((ky * p->g.dil_h) * p->g.in_w + kx * p->g.dil_w) * c);
        }
    }
    for (oy = 0; oy < p->g.out_h; oy++) {
        const int32_t y0 = (int32_t)(oy * p->g.stride_h) - p->g.pad_top;
        const int rows_in = y0 >= 0 && y0 + span_h < (int32_t)p->g.in_h;
        for (ox = 0; ox < p->g.out_w; ox++) {
            const int32_t x0 = (int32_t)(ox * p->g.stride_w) - p->g.pad_left;
            if (rows_in && x0 >= 0 && x0 + span_w < (int32_t)p->g.in_w) {
                const int8_t *base = in + ((uint32_t)y0 * p->g.in_w + (uint32_t)x0) * c;
                for (t = 0; t < ntaps; t++) {
                    src[t] = base + off[t];
                }
            } else {
                for (t = 0, ky = 0; ky < p->g.k_h; ky++) {
                    const int32_t y = y0 + (int32_t)(ky * p->g.dil_h);
                    for (kx = 0; kx < p->g.k_w; kx++, t++) {
                        const int32_t x = x0 + (int32_t)(kx * p->g.dil_w);
                        src[t] = (y < 0 || y >= (int32_t)p->g.in_h || x < 0 || x >= (int32_t)p->g.in_w)
                            ? zrow : in + ((uint32_t)y * p->g.in_w + (uint32_t)x) * c;
                    }
                }
            }
            pixel(p, src, ntaps, out, clamp, general, nine);
            out += p->g.out_c;
        }
    }
}

/* Layers with exact records or a depth multiplier above 1: a separate,
 * general copy, so that the common case tests for neither per output. */
static void body_general(const kiln_dsp_dwconv_params_t *p, const int8_t *in, int8_t *out)
{
    body(p, in, out, p->clamp, 1, 0);
}

/* 3x3 layers, the common case: the taps written out (KILN_DW_TAP). */
static void body_3x3(const kiln_dsp_dwconv_params_t *p, const int8_t *in, int8_t *out)
{
    if (p->clamp) {
        body(p, in, out, 1, 0, 1);
    } else {
        body(p, in, out, 0, 0, 1);
    }
}

void kiln_dsp_dwconv_s8(const kiln_dsp_dwconv_params_t *p, const int8_t *in, int8_t *out)
{
    if (p->exact || p->mult != 1u) {
        body_general(p, in, out);
    } else if (p->g.k_h * p->g.k_w == 9u) {
        body_3x3(p, in, out);
    } else {
        body(p, in, out, p->clamp, 0, 0);
    }
}

/* The size layout: the whole (small) weight array widened into arena scratch
 * first, then the kernel above over it. */
void kiln_dsp_dwconv_w8_s8(const kiln_dsp_dwconv_params_t *p, const int8_t *in, int8_t *out)
{
    const uint32_t words = (uint32_t)p->mult * ((p->g.in_c + 3u) / 4u) * p->g.k_h * p->g.k_w;
    kiln_dsp_dwconv_params_t q = *p;

    kiln_dsp_widen_weights((uint32_t *)(void *)p->wbuf, (const uint32_t *)(const void *)p->w8, words);
    q.w = p->wbuf;
    kiln_dsp_dwconv_s8(&q, in, out);
}
