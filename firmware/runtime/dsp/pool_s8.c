/*
 * Kiln DSP kernels: int8 MAX_POOL_2D and AVERAGE_POOL_2D with the
 * portable parameters (kiln_pool_params_t), and the copy that stands for a
 * max pool fused into the convolution before it.
 *
 * Four channels per word: the max is SSUB8 + SEL (two instructions for four
 * lanes), the average sums with SXTAB16 into 16-bit lanes (exact for
 * windows of at most 256 pixels: 256 * 128 = 2^15, checked at build time)
 * and divides each channel like the reference: rounding half away from
 * zero with a C division (SDIV). Channels past the last multiple of 4 take
 * the scalar path.
 */
#include "dsp_rq.h"

/* [first, end) of the window rows (or columns) inside the input. */
static inline void clip(int32_t origin, uint32_t k, uint32_t size, uint32_t *first, uint32_t *end)
{
    int32_t f = origin < 0 ? -origin : 0;
    int32_t e = (int32_t)size - origin;

    e = e > (int32_t)k ? (int32_t)k : e;
    e = e < f ? f : e;
    *first = (uint32_t)f;
    *end = (uint32_t)e;
}

void kiln_dsp_maxpool_s8(const kiln_pool_params_t *p, const int8_t *in, int8_t *out)
{
    const uint32_t c = p->g.in_c, c4 = c & ~3u, row = (uint32_t)p->g.in_w * c;
    const int clamp = p->act_min > -128 || p->act_max < 127;
    const uint32_t lo4 = (uint32_t)(uint8_t)p->act_min * 0x01010101u;
    const uint32_t hi4 = (uint32_t)(uint8_t)p->act_max * 0x01010101u;
    uint32_t oy, ox, ch, ky, kx, ky0, ky1, kx0, kx1;

    for (oy = 0; oy < p->g.out_h; oy++) {
        const int32_t y0 = (int32_t)(oy * p->g.stride_h) - p->g.pad_top;
        clip(y0, p->g.k_h, p->g.in_h, &ky0, &ky1);
        for (ox = 0; ox < p->g.out_w; ox++) {
            const int32_t x0 = (int32_t)(ox * p->g.stride_w) - p->g.pad_left;
            const int8_t *base;
            uint32_t nh, nw;
            clip(x0, p->g.k_w, p->g.in_w, &kx0, &kx1);
            base = in + (int32_t)((int32_t)row * (y0 + (int32_t)ky0)) + (x0 + (int32_t)kx0) * (int32_t)c;
            nh = ky1 - ky0;
            nw = kx1 - kx0;
            for (ch = 0; ch < c4; ch += 4) {
                const int8_t *r = base + ch;
                uint32_t m = 0x80808080u;   /* -128 in every lane */
                for (ky = 0; ky < nh; ky++, r += row) {
                    const int8_t *s = r;
                    for (kx = 0; kx < nw; kx++, s += c) {
                        m = kiln_max_s8x4(m, kiln_load32(s));
                    }
                }
                if (clamp) {
                    m = kiln_min_s8x4(kiln_max_s8x4(m, lo4), hi4);
                }
                kiln_store32(out + ch, m);
            }
            for (; ch < c; ch++) {
                const int8_t *r = base + ch;
                int32_t m = -128;
                for (ky = 0; ky < nh; ky++, r += row) {
                    for (kx = 0; kx < nw; kx++) {
                        m = r[kx * c] > m ? r[kx * c] : m;
                    }
                }
                out[ch] = (int8_t)kiln_dsp_clamp(m, p->act_min, p->act_max);
            }
            out += c;
        }
    }
}

/* The reference's rounded average of one channel. */
static inline int32_t average(int32_t acc, int32_t count)
{
    return acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
}

/* Four channels' averages from their SXTAB16 lane sums: even = [c0, c2],
 * odd = [c1, c3] (count > 0). */
static inline void store_avg4(const kiln_pool_params_t *p, int8_t *out, uint32_t even, uint32_t odd,
                              int32_t count)
{
    out[0] = (int8_t)kiln_dsp_clamp(average(kiln_lo16(even), count), p->act_min, p->act_max);
    out[1] = (int8_t)kiln_dsp_clamp(average(kiln_lo16(odd), count), p->act_min, p->act_max);
    out[2] = (int8_t)kiln_dsp_clamp(average(kiln_hi16(even), count), p->act_min, p->act_max);
    out[3] = (int8_t)kiln_dsp_clamp(average(kiln_hi16(odd), count), p->act_min, p->act_max);
}

void kiln_dsp_avgpool_s8(const kiln_pool_params_t *p, const int8_t *in, int8_t *out)
{
    const uint32_t c = p->g.in_c, c4 = c & ~3u, row = (uint32_t)p->g.in_w * c;
    uint32_t oy, ox, ch, ky, kx, ky0, ky1, kx0, kx1;

    for (oy = 0; oy < p->g.out_h; oy++) {
        const int32_t y0 = (int32_t)(oy * p->g.stride_h) - p->g.pad_top;
        clip(y0, p->g.k_h, p->g.in_h, &ky0, &ky1);
        for (ox = 0; ox < p->g.out_w; ox++) {
            const int32_t x0 = (int32_t)(ox * p->g.stride_w) - p->g.pad_left;
            const int8_t *base;
            uint32_t nh, nw;
            int32_t count;
            clip(x0, p->g.k_w, p->g.in_w, &kx0, &kx1);
            base = in + (int32_t)((int32_t)row * (y0 + (int32_t)ky0)) + (x0 + (int32_t)kx0) * (int32_t)c;
            nh = ky1 - ky0;
            nw = kx1 - kx0;
            count = (int32_t)(nh * nw);
            ch = 0;
            if (nw == p->g.in_w && count > 0) {
                /* whole input rows (a global pool): one run of count pixels, eight
                 * channels per pass, two pixels per step */
                const uint32_t n2 = (uint32_t)count / 2u;
                for (; ch + 8u <= c4; ch += 8u) {
                    const int8_t *s = base + ch;
                    uint32_t se = 0, so = 0, te = 0, to = 0, i;
                    for (i = 0; i < n2; i++, s += 2u * c) {
                        const uint32_t a = kiln_load32(s), b = kiln_load32(s + 4);
                        const uint32_t a2 = kiln_load32(s + c), b2 = kiln_load32(s + c + 4);
                        se = kiln_sxtab16(kiln_sxtab16(se, a), a2);
                        so = kiln_sxtab16_ror8(kiln_sxtab16_ror8(so, a), a2);
                        te = kiln_sxtab16(kiln_sxtab16(te, b), b2);
                        to = kiln_sxtab16_ror8(kiln_sxtab16_ror8(to, b), b2);
                    }
                    if ((uint32_t)count % 2u) {
                        const uint32_t a = kiln_load32(s), b = kiln_load32(s + 4);
                        se = kiln_sxtab16(se, a);
                        so = kiln_sxtab16_ror8(so, a);
                        te = kiln_sxtab16(te, b);
                        to = kiln_sxtab16_ror8(to, b);
                    }
                    store_avg4(p, out + ch, se, so, count);
                    store_avg4(p, out + ch + 4, te, to, count);
                }
            }
            for (; ch < c4; ch += 4) {
                const int8_t *r = base + ch;
                uint32_t se = 0, so = 0;
                for (ky = 0; ky < nh; ky++, r += row) {
                    const int8_t *s = r;
                    for (kx = 0; kx < nw; kx++, s += c) {
                        const uint32_t v = kiln_load32(s);
                        se = kiln_sxtab16(se, v);
                        so = kiln_sxtab16_ror8(so, v);
                    }
                }
                if (count > 0) {
                    store_avg4(p, out + ch, se, so, count);
                } else {   /* an empty window: the reference's sum of nothing */
                    const uint32_t z = (uint32_t)(uint8_t)kiln_dsp_clamp(0, p->act_min, p->act_max);
                    kiln_store32(out + ch, z * 0x01010101u);
                }
            }
            for (; ch < c; ch++) {
                const int8_t *r = base + ch;
                int32_t acc = 0;
                for (ky = 0; ky < nh; ky++, r += row) {
                    for (kx = 0; kx < nw; kx++) {
                        acc += r[kx * c];
                    }
                }
                out[ch] = (int8_t)kiln_dsp_clamp(count > 0 ? average(acc, count) : 0,
                                                  p->act_min, p->act_max);
            }
            out += c;
        }
    }
}

void kiln_dsp_copy(uint32_t n, const int8_t *in, int8_t *out)
{
    for (; n >= 16; n -= 16, in += 16, out += 16) {
        const uint32_t a = kiln_load32(in), b = kiln_load32(in + 4);
        const uint32_t c = kiln_load32(in + 8), d = kiln_load32(in + 12);
        kiln_store32(out, a);
        kiln_store32(out + 4, b);
        kiln_store32(out + 8, c);
        kiln_store32(out + 12, d);
    }
    for (; n; n--) {
        *out++ = *in++;
    }
}
