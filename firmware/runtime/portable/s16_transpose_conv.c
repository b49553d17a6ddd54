/*
 * Kiln portable kernel: 16x8 TRANSPOSE_CONV (int16 input and output, zero
 * point 0; int8 symmetric weights [out_c][k_h][k_w][in_c]; int64 bias or
 * none), batch 1. Recipe: kiln/ops/int16.h.
 *
 * The reference scatters every input value into an int64 buffer; here each
 * output gathers the same taps (the sum is exact in int64, so the order
 * does not matter), adds the bias and requantizes with kiln_requantize64.
 */
#include "kiln/kernels.h"
#include "kiln/quant.h"

/* The input rows (or columns) i with 0 <= t - i * stride < k, for
 * t = out + pad, clipped to [0, n): [*first, *last]. */
static void tap_range(int32_t t, int32_t k, int32_t stride, int32_t n, int32_t *first, int32_t *last)
{
    const int32_t lo = t - k + 1;

    *first = lo <= 0 ? 0 : (lo + stride - 1) / stride;
    *last = t < 0 ? -1 : t / stride;
    if (*last > n - 1) {
        *last = n - 1;
    }
}

void kiln_transpose_conv_s16(const kiln_transpose_conv_s16_params_t *p, const int16_t *in,
                             const int8_t *w, const int64_t *bias, int16_t *out)
{
    const kiln_geometry_t *g = &p->g;
    int32_t oy, ox, oc, iy, ix, ic, y0, y1, x0, x1;

    for (oy = 0; oy < g->out_h; oy++) {
        const int32_t ty = oy + g->pad_top;
        tap_range(ty, g->k_h, g->stride_h, g->in_h, &y0, &y1);
        for (ox = 0; ox < g->out_w; ox++) {
            const int32_t tx = ox + g->pad_left;
            tap_range(tx, g->k_w, g->stride_w, g->in_w, &x0, &x1);
            for (oc = 0; oc < g->out_c; oc++) {
                int64_t acc = 0;
                for (iy = y0; iy <= y1; iy++) {
                    const int32_t ky = ty - iy * g->stride_h;
                    for (ix = x0; ix <= x1; ix++) {
                        const int32_t kx = tx - ix * g->stride_w;
                        const int16_t *x = in + ((size_t)iy * g->in_w + ix) * g->in_c;
                        const int8_t *k = w + (((size_t)oc * g->k_h + ky) * g->k_w + kx) * g->in_c;
                        for (ic = 0; ic < g->in_c; ic++) {
                            acc += (int32_t)x[ic] * (int32_t)k[ic];
                        }
                    }
                }
                if (bias != NULL) {
                    acc += bias[oc];
                }
                *out++ = (int16_t)kiln_clamp_s32(kiln_requantize64(acc, p->mult[oc], p->shift[oc]),
                                                 p->act_min, p->act_max);
            }
        }
    }
}
