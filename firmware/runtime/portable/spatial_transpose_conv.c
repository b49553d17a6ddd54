/*
 * Kiln portable kernels: TRANSPOSE_CONV, int8 and float32, batch 1.
 *
 * The reference scatters every input value over the outputs it touches;
 * here each output gathers the same taps instead (no scratch buffer). For a
 * given output the taps come in the reference's order (input row, column,
 * channel), so even the float sums are the same.
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

void kiln_transpose_conv_s8(const kiln_transpose_conv_s8_params_t *p, const int8_t *in,
                            const int8_t *w, const int32_t *bias, int8_t *out)
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
                int32_t acc = 0;
                for (iy = y0; iy <= y1; iy++) {
                    const int32_t ky = ty - iy * g->stride_h;
                    for (ix = x0; ix <= x1; ix++) {
                        const int32_t kx = tx - ix * g->stride_w;
                        const int8_t *x = in + ((size_t)iy * g->in_w + ix) * g->in_c;
                        const int8_t *k = w + (((size_t)oc * g->k_h + ky) * g->k_w + kx) * g->in_c;
                        for (ic = 0; ic < g->in_c; ic++) {
                            acc += ((int32_t)x[ic] + p->in_offset) * k[ic];
                        }
                    }
                }
                if (bias != NULL) {
                    acc += bias[oc];
                }
                acc = kiln_requantize(acc, p->mult[oc], p->shift[oc]) + p->out_offset;
                *out++ = (int8_t)kiln_clamp_s32(acc, p->act_min, p->act_max);
            }
        }
    }
}

void kiln_transpose_conv_f32(const kiln_transpose_conv_f32_params_t *p, const float *in,
                             const float *w, const float *bias, float *out)
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
                float acc = 0.0f;
                for (iy = y0; iy <= y1; iy++) {
                    const int32_t ky = ty - iy * g->stride_h;
                    for (ix = x0; ix <= x1; ix++) {
                        const int32_t kx = tx - ix * g->stride_w;
                        const float *x = in + ((size_t)iy * g->in_w + ix) * g->in_c;
                        const float *k = w + (((size_t)oc * g->k_h + ky) * g->k_w + kx) * g->in_c;
                        for (ic = 0; ic < g->in_c; ic++) {
                            acc += x[ic] * k[ic];
                        }
                    }
                }
                if (bias != NULL) {
                    acc += bias[oc];
                }
                *out++ = acc < p->act_min ? p->act_min : (acc > p->act_max ? p->act_max : acc);
            }
        }
    }
}
