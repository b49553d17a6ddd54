/*
 * Kiln portable kernels: 16x8 CONV_2D, DEPTHWISE_CONV_2D and
 * FULLY_CONNECTED (int16 activations, zero point 0; int8 symmetric
 * weights; int64 bias or none; FULLY_CONNECTED also int32).
 * Recipes: kiln/ops/int16.h.
 *
 * The products are summed in int64. With an int64 bias (or none) the sum
 * is requantized by kiln_requantize64 (TFLite's int64 path); with an int32
 * bias tflite-micro accumulates in int32, so the sum is taken modulo 2^32
 * (the same value whenever the reference does not overflow, which the
 * generator checks) and requantized by kiln_requantize.
 */
#include "kiln/kernels.h"
#include "kiln/quant.h"

static int16_t s16_output(int64_t acc, const void *bias, uint8_t bias64, uint32_t oc,
                          int32_t mult, int32_t shift, int32_t lo, int32_t hi)
{
    int32_t r;

    if (bias64) {
        if (bias != 0) {
            acc += ((const int64_t *)bias)[oc];
        }
        r = kiln_requantize64(acc, mult, shift);
    } else {
        uint32_t acc32 = (uint32_t)acc;
        if (bias != 0) {
            acc32 += (uint32_t)((const int32_t *)bias)[oc];
        }
        r = kiln_requantize((int32_t)acc32, mult, shift);
    }
    return (int16_t)kiln_clamp_s32(r, lo, hi);
}

/* CONV_2D: in [in_h][in_w][in_c], w [out_c][k_h][k_w][in_c]. */
void kiln_conv2d_s16(const kiln_conv_s16_params_t *p, const int16_t *in,
                     const int8_t *w, const void *bias, int16_t *out)
{
    uint32_t oy, ox, oc, ky, kx, ic;

    for (oy = 0; oy < p->g.out_h; oy++) {
        const int32_t y0 = (int32_t)(oy * p->g.stride_h) - p->g.pad_top;
        for (ox = 0; ox < p->g.out_w; ox++) {
            const int32_t x0 = (int32_t)(ox * p->g.stride_w) - p->g.pad_left;
            int16_t *o = out + ((size_t)oy * p->g.out_w + ox) * p->g.out_c;
            for (oc = 0; oc < p->g.out_c; oc++) {
                const int8_t *wc = w + (size_t)oc * p->g.k_h * p->g.k_w * p->g.in_c;
                int64_t acc = 0;
                for (ky = 0; ky < p->g.k_h; ky++) {
                    const int32_t y = y0 + (int32_t)(ky * p->g.dil_h);
                    if (y < 0 || y >= (int32_t)p->g.in_h) {
                        continue;
                    }
                    for (kx = 0; kx < p->g.k_w; kx++) {
                        const int32_t x = x0 + (int32_t)(kx * p->g.dil_w);
                        const int16_t *src;
                        const int8_t *wt;
                        if (x < 0 || x >= (int32_t)p->g.in_w) {
                            continue;
                        }
                        src = in + ((size_t)y * p->g.in_w + (uint32_t)x) * p->g.in_c;
                        wt = wc + ((size_t)ky * p->g.k_w + kx) * p->g.in_c;
                        for (ic = 0; ic < p->g.in_c; ic++) {
                            acc += (int32_t)src[ic] * (int32_t)wt[ic];
                        }
                    }
                }
                o[oc] = s16_output(acc, bias, p->bias64, oc, p->mult[oc], p->shift[oc],
                                   p->act_min, p->act_max);
            }
        }
    }
}

/* DEPTHWISE_CONV_2D: w [k_h][k_w][out_c]; output channel oc reads input
 * channel oc / depth_mult. */
void kiln_dwconv2d_s16(const kiln_conv_s16_params_t *p, const int16_t *in,
                       const int8_t *w, const void *bias, int16_t *out)
{
    uint32_t oy, ox, oc, ky, kx;

    for (oy = 0; oy < p->g.out_h; oy++) {
        const int32_t y0 = (int32_t)(oy * p->g.stride_h) - p->g.pad_top;
        for (ox = 0; ox < p->g.out_w; ox++) {
            const int32_t x0 = (int32_t)(ox * p->g.stride_w) - p->g.pad_left;
            int16_t *o = out + ((size_t)oy * p->g.out_w + ox) * p->g.out_c;
            for (oc = 0; oc < p->g.out_c; oc++) {
                const uint32_t ic = oc / p->depth_mult;
                int64_t acc = 0;
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
                        acc += (int32_t)in[((size_t)y * p->g.in_w + (uint32_t)x) * p->g.in_c + ic] *
                               (int32_t)w[((size_t)ky * p->g.k_w + kx) * p->g.out_c + oc];
                    }
                }
                o[oc] = s16_output(acc, bias, p->bias64, oc, p->mult[oc], p->shift[oc],
                                   p->act_min, p->act_max);
            }
        }
    }
}

/* FULLY_CONNECTED: in [batches][in_n], w [out_n][in_n]. */
void kiln_fc_s16(const kiln_fc_s16_params_t *p, const int16_t *in,
                 const int8_t *w, const void *bias, int16_t *out)
{
    uint32_t b, oc, i;

    for (b = 0; b < p->batches; b++) {
        const int16_t *x = in + (size_t)b * p->in_n;
        for (oc = 0; oc < p->out_n; oc++) {
            const int8_t *wr = w + (size_t)oc * p->in_n;
            const uint32_t c = p->per_channel ? oc : 0;
            int64_t acc = 0;
            for (i = 0; i < p->in_n; i++) {
                acc += (int32_t)x[i] * (int32_t)wr[i];
            }
            out[(size_t)b * p->out_n + oc] = s16_output(acc, bias, p->bias64, oc, p->mult[c],
                                                        p->shift[c], p->act_min, p->act_max);
        }
    }
}
