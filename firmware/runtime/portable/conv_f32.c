/*
 * Kiln portable kernels: float32 CONV_2D and DEPTHWISE_CONV_2D.
 *
 * Same layouts and padding as the int8 versions; taps outside the input
 * are skipped (padding with 0). Sums run in the same order as TFLite's
 * reference (window row, column, input channel) so results agree to the
 * last bits; bias is added after the sum, then the activation clamp.
 */
#include "kiln/kernels.h"

/* Clamps v to the fused activation range. */
static float act(float v, float lo, float hi)
{
    return v < lo ? lo : (v > hi ? hi : v);
}

/* CONV_2D: in [in_h][in_w][in_c], w [out_c][k_h][k_w][in_c]. */
void kiln_conv2d_f32(const kiln_conv_f32_params_t *p, const float *in,
                     const float *w, const float *bias, float *out)
{
    uint32_t oy, ox, oc, ky, kx, ic;

    for (oy = 0; oy < p->g.out_h; oy++) {
        const int32_t y0 = (int32_t)(oy * p->g.stride_h) - p->g.pad_top;
        for (ox = 0; ox < p->g.out_w; ox++) {
            const int32_t x0 = (int32_t)(ox * p->g.stride_w) - p->g.pad_left;
            float *o = out + ((size_t)oy * p->g.out_w + ox) * p->g.out_c;
            for (oc = 0; oc < p->g.out_c; oc++) {
                const float *wc = w + (size_t)oc * p->g.k_h * p->g.k_w * p->g.in_c;
                float acc = 0.0f;
                for (ky = 0; ky < p->g.k_h; ky++) {
                    const int32_t y = y0 + (int32_t)(ky * p->g.dil_h);
                    if (y < 0 || y >= (int32_t)p->g.in_h) {
                        continue;
                    }
                    for (kx = 0; kx < p->g.k_w; kx++) {
                        const int32_t x = x0 + (int32_t)(kx * p->g.dil_w);
                        const float *src;
                        const float *wt;
                        if (x < 0 || x >= (int32_t)p->g.in_w) {
                            continue;
                        }
                        src = in + ((size_t)y * p->g.in_w + (uint32_t)x) * p->g.in_c;
                        wt = wc + ((size_t)ky * p->g.k_w + kx) * p->g.in_c;
                        for (ic = 0; ic < p->g.in_c; ic++) {
                            acc += src[ic] * wt[ic];
                        }
                    }
                }
                o[oc] = act(acc + (bias != 0 ? bias[oc] : 0.0f), p->act_min, p->act_max);
            }
        }
    }
}

/* DEPTHWISE_CONV_2D: w [k_h][k_w][out_c], output channel oc reads input
 * channel oc / depth_mult. */
void kiln_dwconv2d_f32(const kiln_conv_f32_params_t *p, const float *in,
                       const float *w, const float *bias, float *out)
{
    uint32_t oy, ox, oc, ky, kx;

    for (oy = 0; oy < p->g.out_h; oy++) {
        const int32_t y0 = (int32_t)(oy * p->g.stride_h) - p->g.pad_top;
        for (ox = 0; ox < p->g.out_w; ox++) {
            const int32_t x0 = (int32_t)(ox * p->g.stride_w) - p->g.pad_left;
            float *o = out + ((size_t)oy * p->g.out_w + ox) * p->g.out_c;
            for (oc = 0; oc < p->g.out_c; oc++) {
                const uint32_t ic = oc / p->depth_mult;
                float acc = 0.0f;
                for (ky = 0; ky < p->g.k_h; ky++) {
                    const int32_t y = y0 + (int32_t)(ky * p->g.dil_h);
                    if (y < 0 || y >= (int32_t)p->g.in_h) {
                        continue;
                    }
                    for (kx = 0; kx < p->g.k_w; kx++) {
                        const int32_t x = x0 + (int32_t)(kx * p->g.dil_w);
                        if (x < 0 || x >= (int32_t)p->g.in_w) {
                            continue;
                        }
                        acc += in[((size_t)y * p->g.in_w + (uint32_t)x) * p->g.in_c + ic] *
                               w[((size_t)ky * p->g.k_w + kx) * p->g.out_c + oc];
                    }
                }
                o[oc] = act(acc + (bias != 0 ? bias[oc] : 0.0f), p->act_min, p->act_max);
            }
        }
    }
}
