/*
 * Kiln Cortex-M33 kernel: DEPTHWISE_CONV_2D, depth multiplier 1 (kiln/cm33.h).
 *
 * Four channels per loaded word: SXTB16 and SXTB16 ROR #8 widen it to
 * [c0, c2] and [c1, c3], and SMLABB / SMLATT multiply each lane by its own
 * channel's weight (pre-widened in the same order: per group of 4 channels
 * and per tap the pairs [w_c0, w_c2], [w_c1, w_c3], one LDRD). SMLAD cannot
 * help here: its two products share one accumulator, and pairing two taps of
 * one channel costs as many PKHBT/PKHTB as it saves.
 *
 * Padding taps read a row of zero points (see kiln/cm33.h). Tap addresses
 * are computed once per output pixel and shared by its channel groups.
 * Assumes: c a multiple of 4 and at most KILN_CM33_DW_MAX_C, k_h * k_w <=
 * KILN_CM33_DW_MAX_TAPS (the generator checks both).
 */
#include "cm33_rq.h"

#define KILN_CM33_DW_MAX_TAPS 64
#define KILN_CM33_DW_MAX_C 1024

/* The four channels' outputs of one group, the clamp known at compile time. */
static inline void store4(const kiln_cm33_dwconv_params_t *p, const kiln_cm33_rq_t *r, int8_t *o,
                          int32_t a0, int32_t a1, int32_t a2, int32_t a3, int clamp)
{
    int32_t q0 = kiln_cm33_requant(a0, r[0].mult, r[0].round, r[0].shift);
    int32_t q1 = kiln_cm33_requant(a1, r[1].mult, r[1].round, r[1].shift);
    int32_t q2 = kiln_cm33_requant(a2, r[2].mult, r[2].round, r[2].shift);
    int32_t q3 = kiln_cm33_requant(a3, r[3].mult, r[3].round, r[3].shift);

    if (clamp) {
        q0 = kiln_cm33_clamp(q0, p->act_min, p->act_max);
        q1 = kiln_cm33_clamp(q1, p->act_min, p->act_max);
        q2 = kiln_cm33_clamp(q2, p->act_min, p->act_max);
        q3 = kiln_cm33_clamp(q3, p->act_min, p->act_max);
    }
    kiln_store32(o, ((uint32_t)q0 & 0xFFu) | (((uint32_t)q1 & 0xFFu) << 8) |
                    (((uint32_t)q2 & 0xFFu) << 16) | ((uint32_t)q3 << 24));
}

/* All channel groups of one output pixel; src[t] is where tap t reads
 * channel 0 (a row of zero points for a padding tap). Per tap and group:
 * the tap's pointer, one word of activations, 2 SXTB16, one LDRD of
 * weights and 4 single-lane multiply-accumulates. */
static inline void pixel(const kiln_cm33_dwconv_params_t *p, const int8_t *const *src,
                         uint32_t ntaps, int8_t *out, int clamp)
{
    const uint32_t *w = (const uint32_t *)(const void *)p->w;
    const kiln_cm33_rq_t *r = p->rq;
    const int8_t *const *end = src + ntaps;
    uint32_t g;

    for (g = 0; g < p->g.in_c; g += 4, r += 4) {
        const int8_t *const *s = src;
        int32_t a0 = r[0].bias, a1 = r[1].bias, a2 = r[2].bias, a3 = r[3].bias;
        do {
            const uint32_t v = kiln_load32(*s++ + g);
            const uint32_t e = kiln_sxtb16(v), o = kiln_sxtb16_ror8(v);
            uint32_t we, wo;
            KILN_LDRD_INC(w, we, wo);
            a0 = kiln_smlabb(e, we, a0);
            a2 = kiln_smlatt(e, we, a2);
            a1 = kiln_smlabb(o, wo, a1);
            a3 = kiln_smlatt(o, wo, a3);
        } while (s != end);
        store4(p, r, out + g, a0, a1, a2, a3, clamp);
    }
}

static inline void body(const kiln_cm33_dwconv_params_t *p, const int8_t *in, int8_t *out,
                        int clamp)
{
    const uint32_t c = p->g.in_c, ntaps = (uint32_t)p->g.k_h * p->g.k_w;
    const int32_t span_h = (int32_t)((p->g.k_h - 1u) * p->g.dil_h);
    const int32_t span_w = (int32_t)((p->g.k_w - 1u) * p->g.dil_w);
    const int8_t *src[KILN_CM33_DW_MAX_TAPS];
    int32_t off[KILN_CM33_DW_MAX_TAPS];
    int8_t zrow[KILN_CM33_DW_MAX_C];
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
            pixel(p, src, ntaps, out, clamp);
            out += c;
        }
    }
}

void kiln_cm33_dwconv_s8(const kiln_cm33_dwconv_params_t *p, const int8_t *in, int8_t *out)
{
    if (p->clamp) {
        body(p, in, out, 1);
    } else {
        body(p, in, out, 0);
    }
}
