/*
 * Kiln portable kernels: hybrid CONV_2D and DEPTHWISE_CONV_2D (float
 * activations, int8 weights; the input is quantized once per image into the
 * planned scratch buffer). Arithmetic in kiln/kernels.h, "hybrid".
 */
#include "kiln/kernels.h"

static float clamp_f(float v, float lo, float hi)
{
    return v < lo ? lo : (v > hi ? hi : v);
}

/* Float result of one output channel. TFLite's two paths round in
 * different orders: per-channel (acc * w_scale[c]) * in_scale, per-tensor
 * acc * (in_scale * w_scale), the product of the scales taken first. */
static float finish(const kiln_hybrid_conv_params_t *p, int32_t acc, float in_scale,
                    const float *bias, uint32_t oc, int depthwise)
{
    const float base = bias != NULL ? bias[oc] : 0.0f;
    float v;

    if (p->per_channel && depthwise) {
        v = (float)acc * (p->w_scale[oc] * in_scale);
    } else if (p->per_channel) {
        v = ((float)acc * p->w_scale[oc]) * in_scale;
    } else {
        v = (float)acc * (in_scale * p->w_scale[0]);
    }
    return clamp_f(base + v, p->act_min, p->act_max);
}

void kiln_hybrid_conv2d(const kiln_hybrid_conv_params_t *p, const float *in,
                        const int8_t *w, const float *bias, int8_t *scratch,
                        float *out)
{
    const uint32_t n_in = (uint32_t)p->g.in_h * p->g.in_w * p->g.in_c;
    float in_scale;
    int32_t in_offset;
    int32_t oy, ox, ky, kx;
    uint32_t oc, ic;

    kiln_hybrid_quantize_f32(in, n_in, p->asymmetric, scratch, &in_scale, &in_offset);
    for (oy = 0; oy < p->g.out_h; oy++) {
        for (ox = 0; ox < p->g.out_w; ox++) {
            const int32_t y0 = oy * p->g.stride_h - p->g.pad_top;
            const int32_t x0 = ox * p->g.stride_w - p->g.pad_left;

            for (oc = 0; oc < p->g.out_c; oc++) {
                const int8_t *wk = w + (uint32_t)oc * p->g.k_h * p->g.k_w * p->g.in_c;
                int32_t acc = 0;

                for (ky = 0; ky < p->g.k_h; ky++) {
                    const int32_t iy = y0 + ky * p->g.dil_h;

                    if (iy < 0 || iy >= p->g.in_h) {
                        continue;   /* padding: real zero, contributes nothing */
                    }
                    for (kx = 0; kx < p->g.k_w; kx++) {
                        const int32_t ix = x0 + kx * p->g.dil_w;
                        const int8_t *q, *wt;

                        if (ix < 0 || ix >= p->g.in_w) {
                            continue;
                        }
                        q = scratch + ((uint32_t)iy * p->g.in_w + (uint32_t)ix) * p->g.in_c;
                        wt = wk + ((uint32_t)ky * p->g.k_w + (uint32_t)kx) * p->g.in_c;
                        for (ic = 0; ic < p->g.in_c; ic++) {
                            acc += (int32_t)wt[ic] * ((int32_t)q[ic] - in_offset);
                        }
                    }
                }
                *out++ = finish(p, acc, in_scale, bias, oc, 0);
            }
        }
    }
}

void kiln_hybrid_dwconv2d(const kiln_hybrid_conv_params_t *p, const float *in,
                          const int8_t *w, const float *bias, int8_t *scratch,
                          float *out)
{
    const uint32_t n_in = (uint32_t)p->g.in_h * p->g.in_w * p->g.in_c;
    float in_scale;
    int32_t in_offset;
    int32_t oy, ox, ky, kx;
    uint32_t oc;

    kiln_hybrid_quantize_f32(in, n_in, p->asymmetric, scratch, &in_scale, &in_offset);
    for (oy = 0; oy < p->g.out_h; oy++) {
        for (ox = 0; ox < p->g.out_w; ox++) {
            const int32_t y0 = oy * p->g.stride_h - p->g.pad_top;
            const int32_t x0 = ox * p->g.stride_w - p->g.pad_left;

            for (oc = 0; oc < p->g.out_c; oc++) {
                const uint32_t ic = oc / p->depth_mult;
                int32_t acc = 0;

                for (ky = 0; ky < p->g.k_h; ky++) {
                    const int32_t iy = y0 + ky * p->g.dil_h;

                    if (iy < 0 || iy >= p->g.in_h) {
                        continue;
                    }
                    for (kx = 0; kx < p->g.k_w; kx++) {
                        const int32_t ix = x0 + kx * p->g.dil_w;

                        if (ix < 0 || ix >= p->g.in_w) {
                            continue;
                        }
                        acc += (int32_t)w[((uint32_t)ky * p->g.k_w + (uint32_t)kx) * p->g.out_c + oc] *
                               ((int32_t)scratch[((uint32_t)iy * p->g.in_w + (uint32_t)ix) * p->g.in_c + ic] -
                                in_offset);
                    }
                }
                *out++ = finish(p, acc, in_scale, bias, oc, 1);
            }
        }
    }
}
