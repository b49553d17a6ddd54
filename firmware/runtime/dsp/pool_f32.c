/*
 * Kiln DSP-set kernels: float32 MAX_POOL_2D and AVERAGE_POOL_2D (kiln/dsp.h).
 * The portable kernels recompute each tap's address per channel; here each
 * output pixel's clipped window is walked once per group of four channels,
 * the four running maxima or sums in registers. Per channel the comparisons
 * and additions are the portable kernels' (same start value, same tap
 * order), so the results are theirs. A group's outputs are written after
 * its window is read, as the portable kernels write each channel's, so an
 * output the planner lays over the input is written as safely.
 */
#include "kiln/dsp.h"
#include "kiln_dsp.h"

static inline float pick(float acc, float v, int average)
{
    return average ? acc + v : (v > acc ? v : acc);
}

static inline float finish(const kiln_pool_f32_params_t *p, float v, int32_t count, int average)
{
    if (average && count > 0) {
        v = v / (float)count;
    }
    return v < p->act_min ? p->act_min : (v > p->act_max ? p->act_max : v);
}

KILN_SPECIALIZE void pool(const kiln_pool_f32_params_t *p, const float *in, float *out, int average)
{
    const uint32_t c = p->g.in_c, full = c & ~3u;
    const float start = average ? 0.0f : -3.40282347e38f;
    uint32_t oy, ox, ch;
    int32_t ky, kx;

    for (oy = 0; oy < p->g.out_h; oy++) {
        const int32_t y0 = (int32_t)(oy * p->g.stride_h) - p->g.pad_top;
        const int32_t ky0 = y0 < 0 ? -y0 : 0;
        int32_t ky1 = (int32_t)p->g.in_h - y0;
        ky1 = ky1 > (int32_t)p->g.k_h ? (int32_t)p->g.k_h : ky1;
        for (ox = 0; ox < p->g.out_w; ox++, out += c) {
            const int32_t x0 = (int32_t)(ox * p->g.stride_w) - p->g.pad_left;
            const int32_t kx0 = x0 < 0 ? -x0 : 0;
            int32_t kx1 = (int32_t)p->g.in_w - x0;
            kx1 = kx1 > (int32_t)p->g.k_w ? (int32_t)p->g.k_w : kx1;
            const int32_t count = (ky1 > ky0 && kx1 > kx0) ? (ky1 - ky0) * (kx1 - kx0) : 0;
            for (ch = 0; ch < c; ch = ch < full ? ch + 4u : ch + 1u) {
                const int four = ch < full;
                float a0 = start, a1 = start, a2 = start, a3 = start;
                for (ky = ky0; ky < ky1; ky++) {
                    const float *s = in + ((uint32_t)(y0 + ky) * p->g.in_w + (uint32_t)(x0 + kx0)) * c + ch;
                    for (kx = kx0; kx < kx1; kx++, s += c) {
                        a0 = pick(a0, s[0], average);
                        if (four) {
                            a1 = pick(a1, s[1], average);
                            a2 = pick(a2, s[2], average);
                            a3 = pick(a3, s[3], average);
                        }
                    }
                }
                out[ch] = finish(p, a0, count, average);
                if (four) {
                    out[ch + 1u] = finish(p, a1, count, average);
                    out[ch + 2u] = finish(p, a2, count, average);
                    out[ch + 3u] = finish(p, a3, count, average);
                }
            }
        }
    }
}

void kiln_dsp_maxpool_f32(const kiln_pool_f32_params_t *p, const float *in, float *out)
{
    pool(p, in, out, 0);
}

void kiln_dsp_avgpool_f32(const kiln_pool_f32_params_t *p, const float *in, float *out)
{
    pool(p, in, out, 1);
}
