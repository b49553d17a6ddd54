/*
 * Kiln portable kernels: int8 CONV_2D and DEPTHWISE_CONV_2D (reference).
 *
 * Both accumulate (q_in - zp_in) * q_w in int32 over the taps that fall
 * inside the input (taps in the padding contribute zero, which is what
 * padding with the input zero point means), add the int32 bias, requantize
 * per output channel and clamp to the fused activation range.
 */
#include "kiln/kernels.h"
#include "kiln/quant.h"

/* Requantizes one accumulator of output channel oc and clamps it. */
static int8_t conv_output(const kiln_conv_s8_params_t *p, int32_t acc, uint32_t oc)
{
    acc = kiln_requantize(acc, p->mult[oc], p->shift[oc]) + p->out_offset;
    return (int8_t)kiln_clamp_s32(acc, p->act_min, p->act_max);
}

/* CONV_2D: in [in_h][in_w][in_c], w [out_c][k_h][k_w][in_c],
 * out [out_h][out_w][out_c]. */
void kiln_conv2d_s8(const kiln_conv_s8_params_t *p, const int8_t *in,
                    const int8_t *w, const int32_t *bias, int8_t *out)
{
    uint32_t oy, ox, oc, ky, kx, ic;

    for (oy = 0; oy < p->g.out_h; oy++) {
        const int32_t y0 = (int32_t)(oy * p->g.stride_h) - p->g.pad_top;
        for (ox = 0; ox < p->g.out_w; ox++) {
            const int32_t x0 = (int32_t)(ox * p->g.stride_w) - p->g.pad_left;
            int8_t *o = out + ((size_t)oy * p->g.out_w + ox) * p->g.out_c;
            for (oc = 0; oc < p->g.out_c; oc++) {
                const int8_t *wc = w + (size_t)oc * p->g.k_h * p->g.k_w * p->g.in_c;
                int32_t acc = 0;
                for (ky = 0; ky < p->g.k_h; ky++) {
                    const int32_t y = y0 + (int32_t)(ky * p->g.dil_h);
                    if (y < 0 || y >= (int32_t)p->g.in_h) {
                        continue;
                    }
                    for (kx = 0; kx < p->g.k_w; kx++) {
                        const int32_t x = x0 + (int32_t)(kx * p->g.dil_w);
                        const int8_t *src;
                        const int8_t *wt;
                        if (x < 0 || x >= (int32_t)p->g.in_w) {
                            continue;
                        }
                        src = in + ((size_t)y * p->g.in_w + (uint32_t)x) * p->g.in_c;
                        wt = wc + ((size_t)ky * p->g.k_w + kx) * p->g.in_c;
                        for (ic = 0; ic < p->g.in_c; ic++) {
                            acc += ((int32_t)src[ic] + p->in_offset) * wt[ic];
                        }
                    }
                }
                if (bias != 0) {
                    acc += bias[oc];
                }
                o[oc] = conv_output(p, acc, oc);
            }
        }
    }
}

/* DEPTHWISE_CONV_2D: in [in_h][in_w][in_c], w [k_h][k_w][out_c],
 * out [out_h][out_w][out_c]; output channel oc reads input channel
 * oc / depth_mult (TFLite orders outputs as ic * depth_mult + m). */
void kiln_dwconv2d_s8(const kiln_conv_s8_params_t *p, const int8_t *in,
                      const int8_t *w, const int32_t *bias, int8_t *out)
{
    uint32_t oy, ox, oc, ky, kx;

    for (oy = 0; oy < p->g.out_h; oy++) {
        const int32_t y0 = (int32_t)(oy * p->g.stride_h) - p->g.pad_top;
        for (ox = 0; ox < p->g.out_w; ox++) {
            const int32_t x0 = (int32_t)(ox * p->g.stride_w) - p->g.pad_left;
            int8_t *o = out + ((size_t)oy * p->g.out_w + ox) * p->g.out_c;
            for (oc = 0; oc < p->g.out_c; oc++) {
                const uint32_t ic = oc / p->depth_mult;
                int32_t acc = 0;
                for (ky = 0; ky < p->g.k_h; ky++) {
                    const int32_t y = y0 + (int32_t)(ky * p->g.dil_h);
                    if (y < 0 || y >= (int32_t)p->g.in_h) {
                        continue;
                    }
                    for (kx = 0; kx < p->g.k_w; kx++) {
                        const int32_t x = x0 + (int32_t)(kx * p->g.dil_w);
                        int32_t v;
                        if (x < 0 || x >= (int32_t)p->g.in_w) {
                            continue;
                        }
                        v = in[((size_t)y * p->g.in_w + (uint32_t)x) * p->g.in_c + ic];
                        acc += (v + p->in_offset) *
                               w[((size_t)ky * p->g.k_w + kx) * p->g.out_c + oc];
                    }
                }
                if (bias != 0) {
                    acc += bias[oc];
                }
                o[oc] = conv_output(p, acc, oc);
            }
        }
    }
}
