/*
 * Kiln portable kernels: int8 MAX_POOL_2D and AVERAGE_POOL_2D (reference).
 *
 * Input and output share quantization parameters, so both work directly on
 * the stored int8 values. Windows are clipped to the input: padded taps are
 * ignored (they neither win the max nor count in the average).
 */
#include "kiln/kernels.h"
#include "kiln/quant.h"

/* Clips the window starting at `origin` (may be negative) with `k` taps to
 * [0, size): first and one-past-last tap index inside the input. */
static void clip_window(int32_t origin, uint32_t k, uint32_t size,
                        uint32_t *first, uint32_t *end)
{
    int32_t f = origin < 0 ? -origin : 0;
    int32_t e = (int32_t)size - origin;

    if (e > (int32_t)k) {
        e = (int32_t)k;
    }
    if (e < f) {
        e = f;
    }
    *first = (uint32_t)f;
    *end = (uint32_t)e;
}

/* in [in_h][in_w][c] -> out [out_h][out_w][c], max over each window. */
void kiln_maxpool_s8(const kiln_pool_params_t *p, const int8_t *in, int8_t *out)
{
    uint32_t oy, ox, ch, ky, kx;

    for (oy = 0; oy < p->g.out_h; oy++) {
        const int32_t y0 = (int32_t)(oy * p->g.stride_h) - p->g.pad_top;
        uint32_t ky0, ky1;
        clip_window(y0, p->g.k_h, p->g.in_h, &ky0, &ky1);
        for (ox = 0; ox < p->g.out_w; ox++) {
            const int32_t x0 = (int32_t)(ox * p->g.stride_w) - p->g.pad_left;
            uint32_t kx0, kx1;
            clip_window(x0, p->g.k_w, p->g.in_w, &kx0, &kx1);
            for (ch = 0; ch < p->g.in_c; ch++) {
                int32_t m = -128;
                for (ky = ky0; ky < ky1; ky++) {
                    for (kx = kx0; kx < kx1; kx++) {
                        const size_t idx = ((size_t)(uint32_t)(y0 + (int32_t)ky) * p->g.in_w +
                                            (uint32_t)(x0 + (int32_t)kx)) * p->g.in_c + ch;
                        if (in[idx] > m) {
                            m = in[idx];
                        }
                    }
                }
                out[((size_t)oy * p->g.out_w + ox) * p->g.in_c + ch] =
                    (int8_t)kiln_clamp_s32(m, p->act_min, p->act_max);
            }
        }
    }
}

/* in [in_h][in_w][c] -> out [out_h][out_w][c]: sum over the valid taps
 * divided by their count, rounded to nearest with ties away from zero
 * (C division truncates, so half the count is added toward the sign). */
void kiln_avgpool_s8(const kiln_pool_params_t *p, const int8_t *in, int8_t *out)
{
    uint32_t oy, ox, ch, ky, kx;

    for (oy = 0; oy < p->g.out_h; oy++) {
        const int32_t y0 = (int32_t)(oy * p->g.stride_h) - p->g.pad_top;
        uint32_t ky0, ky1;
        clip_window(y0, p->g.k_h, p->g.in_h, &ky0, &ky1);
        for (ox = 0; ox < p->g.out_w; ox++) {
            const int32_t x0 = (int32_t)(ox * p->g.stride_w) - p->g.pad_left;
            uint32_t kx0, kx1;
            int32_t count;
            clip_window(x0, p->g.k_w, p->g.in_w, &kx0, &kx1);
            count = (int32_t)((ky1 - ky0) * (kx1 - kx0));
            for (ch = 0; ch < p->g.in_c; ch++) {
                int32_t acc = 0;
                for (ky = ky0; ky < ky1; ky++) {
                    for (kx = kx0; kx < kx1; kx++) {
                        acc += in[((size_t)(uint32_t)(y0 + (int32_t)ky) * p->g.in_w +
                                   (uint32_t)(x0 + (int32_t)kx)) * p->g.in_c + ch];
                    }
                }
                if (count > 0) {
                    acc = acc > 0 ? (acc + count / 2) / count
                                  : (acc - count / 2) / count;
                }
                out[((size_t)oy * p->g.out_w + ox) * p->g.in_c + ch] =
                    (int8_t)kiln_clamp_s32(acc, p->act_min, p->act_max);
            }
        }
    }
}
