/*
 * Kiln portable kernels: float32 MAX_POOL_2D and AVERAGE_POOL_2D.
 *
 * Windows are clipped to the input; the average divides by the number of
 * valid taps.
 */
#include "kiln/kernels.h"

/* Pools one output pixel; `average` selects mean over max. */
static void pool_pixel(const kiln_pool_f32_params_t *p, const float *in, float *out,
                       uint32_t oy, uint32_t ox, int average)
{
    const int32_t y0 = (int32_t)(oy * p->g.stride_h) - p->g.pad_top;
    const int32_t x0 = (int32_t)(ox * p->g.stride_w) - p->g.pad_left;
    const int32_t ky0 = y0 < 0 ? -y0 : 0;
    const int32_t kx0 = x0 < 0 ? -x0 : 0;
    int32_t ky1 = (int32_t)p->g.in_h - y0;
    int32_t kx1 = (int32_t)p->g.in_w - x0;
    uint32_t ch;
    int32_t ky, kx;

    if (ky1 > (int32_t)p->g.k_h) {
        ky1 = p->g.k_h;
    }
    if (kx1 > (int32_t)p->g.k_w) {
        kx1 = p->g.k_w;
    }
    for (ch = 0; ch < p->g.in_c; ch++) {
        float acc = average ? 0.0f : -3.40282347e38f;
        int32_t count = 0;
        for (ky = ky0; ky < ky1; ky++) {
            for (kx = kx0; kx < kx1; kx++) {
                const float v = in[((size_t)(y0 + ky) * p->g.in_w + (size_t)(x0 + kx)) * p->g.in_c + ch];
                if (average) {
                    acc += v;
                } else if (v > acc) {
                    acc = v;
                }
                count++;
            }
        }
        if (average && count > 0) {
            acc = acc / (float)count;
        }
        acc = acc < p->act_min ? p->act_min : (acc > p->act_max ? p->act_max : acc);
        out[((size_t)oy * p->g.out_w + ox) * p->g.in_c + ch] = acc;
    }
}

/* in [in_h][in_w][c] -> out [out_h][out_w][c], max over each window. */
void kiln_maxpool_f32(const kiln_pool_f32_params_t *p, const float *in, float *out)
{
    uint32_t oy, ox;

    for (oy = 0; oy < p->g.out_h; oy++) {
        for (ox = 0; ox < p->g.out_w; ox++) {
            pool_pixel(p, in, out, oy, ox, 0);
        }
    }
}

/* in [in_h][in_w][c] -> out [out_h][out_w][c], mean over each window. */
void kiln_avgpool_f32(const kiln_pool_f32_params_t *p, const float *in, float *out)
{
    uint32_t oy, ox;

    for (oy = 0; oy < p->g.out_h; oy++) {
        for (ox = 0; ox < p->g.out_w; ox++) {
            pool_pixel(p, in, out, oy, ox, 1);
        }
    }
}
