/*
 * Kiln DSP-set kernels: float32 CONV_2D and DEPTHWISE_CONV_2D on the FPU
 * (kiln/dsp.h: layouts, and why the results are the reference's bits).
 *
 * The portable float kernels test every tap for padding and reload the
 * output channel's loop bounds per product (about 35 instructions per MAC
 * for a one-channel stem). Here the padding is decided once per pixel (the
 * gather writes zeros, which the sum skips by adding 0 exactly as the
 * reference skips the tap) and the inner loop is loads and VMLA only.
 */
#include <stddef.h>

#include "kiln/dsp.h"
#include "kiln_dsp.h"

/* n floats from src to dst (n of 0 zeroes them when src is NULL): a plain
 * loop, where newlib-nano's memcpy and memset go byte by byte. */
static inline void copy_floats(float *dst, const float *src, uint32_t n)
{
    uint32_t i;

    for (i = 0; i < n; i++) {
        dst[i] = src != NULL ? src[i] : 0.0f;
    }
}

/* Pixel `pix`'s receptive field in TFLite's order (window row, column,
 * input channel) into dst; padding taps 0. */
static void gather(const kiln_dsp_conv_f32_params_t *p, const float *in, uint32_t pix, float *dst)
{
    const uint32_t c = p->g.in_c;
    const int32_t y0 = (int32_t)((pix / p->g.out_w) * p->g.stride_h) - p->g.pad_top;
    const int32_t x0 = (int32_t)((pix % p->g.out_w) * p->g.stride_w) - p->g.pad_left;
    uint32_t ky, kx;

    for (ky = 0; ky < p->g.k_h; ky++) {
        const int32_t y = y0 + (int32_t)(ky * p->g.dil_h);
        const int row_in = y >= 0 && y < (int32_t)p->g.in_h;
        for (kx = 0; kx < p->g.k_w; kx++, dst += c) {
            const int32_t x = x0 + (int32_t)(kx * p->g.dil_w);
            const int inside = row_in && x >= 0 && x < (int32_t)p->g.in_w;
            copy_floats(dst, inside ? in + ((uint32_t)y * p->g.in_w + (uint32_t)x) * c : NULL, c);
        }
    }
}

/* n (1..4) outputs of one channel group: bias, then the clamp. */
static inline void store(float lo, float hi, float *o, const float *bias, uint32_t n,
                         float a0, float a1, float a2, float a3)
{
    o[0] = kiln_clamp_f(a0 + bias[0], lo, hi);
    if (n > 1u) {
        o[1] = kiln_clamp_f(a1 + bias[1], lo, hi);
    }
    if (n > 2u) {
        o[2] = kiln_clamp_f(a2 + bias[2], lo, hi);
    }
    if (n > 3u) {
        o[3] = kiln_clamp_f(a3 + bias[3], lo, hi);
    }
}

void kiln_dsp_conv_f32(const kiln_dsp_conv_f32_params_t *p, const float *in, float *out)
{
    const uint32_t npix = (uint32_t)p->g.out_h * p->g.out_w, oc = p->g.out_c, k_len = p->k_len;
    /* Locals: the stores to `out` could alias the struct for all GCC knows. */
    const float lo = p->act_min, hi = p->act_max;
    /* A 1x1 layer with stride 1 and no padding reads its pixels in place. */
    const int direct = k_len == p->g.in_c && p->g.stride_h == 1u && p->g.stride_w == 1u &&
                       p->g.pad_top == 0 && p->g.pad_left == 0 && p->g.in_w == p->g.out_w;
    uint32_t pix, c, k;

    for (pix = 0; pix < npix; pix += 2u) {
        const int two = pix + 1u < npix;
        const float *xa, *xb;
        float *oa = out + pix * oc;
        const float *w = p->w;

        if (direct) {
            xa = in + pix * k_len;
            xb = two ? xa + k_len : xa;
        } else {
            gather(p, in, pix, p->scratch);
            xa = p->scratch;
            xb = xa;
            if (two) {
                gather(p, in, pix + 1u, p->scratch + k_len);
                xb = p->scratch + k_len;
            }
        }
        for (c = 0; c < oc; c += 4u) {
            const uint32_t n = oc - c < 4u ? oc - c : 4u;
            float a0 = 0.0f, a1 = 0.0f, a2 = 0.0f, a3 = 0.0f;
            float b0 = 0.0f, b1 = 0.0f, b2 = 0.0f, b3 = 0.0f;

            for (k = 0; k < k_len; k++, w += 4) {
                const float u = xa[k], v = xb[k];
                a0 = kiln_vmla(a0, u, w[0]);
                b0 = kiln_vmla(b0, v, w[0]);
                a1 = kiln_vmla(a1, u, w[1]);
                b1 = kiln_vmla(b1, v, w[1]);
                a2 = kiln_vmla(a2, u, w[2]);
                b2 = kiln_vmla(b2, v, w[2]);
                a3 = kiln_vmla(a3, u, w[3]);
                b3 = kiln_vmla(b3, v, w[3]);
            }
            store(lo, hi, oa + c, p->bias + c, n, a0, a1, a2, a3);
            if (two) {
                store(lo, hi, oa + oc + c, p->bias + c, n, b0, b1, b2, b3);
            }
        }
    }
}

void kiln_dsp_dwconv_f32(const kiln_dsp_conv_f32_params_t *p, const float *in, float *out)
{
    const uint32_t c = p->g.in_c, full = c & ~3u, w_row = (uint32_t)p->g.k_w * c;
    const uint32_t row_step = (uint32_t)p->g.in_w * c * p->g.dil_h, tap_step = c * p->g.dil_w;
    const float lo = p->act_min, hi = p->act_max;
    uint32_t oy, ox, ky, kx, g, i;

    for (oy = 0; oy < p->g.out_h; oy++) {
        const int32_t y0 = (int32_t)(oy * p->g.stride_h) - p->g.pad_top;
        for (ox = 0; ox < p->g.out_w; ox++, out += c) {
            const int32_t x0 = (int32_t)(ox * p->g.stride_w) - p->g.pad_left;
            /* The window clipped to the input: the reference skips the rest. */
            uint32_t ky0 = 0, ky1 = p->g.k_h, kx0 = 0, kx1 = p->g.k_w;
            while (ky0 < ky1 && y0 + (int32_t)(ky0 * p->g.dil_h) < 0) {
                ky0++;
            }
            while (ky1 > ky0 && y0 + (int32_t)((ky1 - 1u) * p->g.dil_h) >= (int32_t)p->g.in_h) {
                ky1--;
            }
            while (kx0 < kx1 && x0 + (int32_t)(kx0 * p->g.dil_w) < 0) {
                kx0++;
            }
            while (kx1 > kx0 && x0 + (int32_t)((kx1 - 1u) * p->g.dil_w) >= (int32_t)p->g.in_w) {
                kx1--;
            }
            /* Tap (ky, kx) of channel g: rows apart by in_w * c * dil_h, taps by c * dil_w. */
            const float *first = in + ((uint32_t)(y0 + (int32_t)(ky0 * p->g.dil_h)) * p->g.in_w +
                                       (uint32_t)(x0 + (int32_t)(kx0 * p->g.dil_w))) * c;
            const float *wfirst = p->w + (ky0 * p->g.k_w + kx0) * c;
            for (g = 0; g < full; g += 4u) {
                float a0 = 0.0f, a1 = 0.0f, a2 = 0.0f, a3 = 0.0f;
                const float *srow = first + g, *wrow = wfirst + g;
                for (ky = ky0; ky < ky1; ky++, srow += row_step, wrow += w_row) {
                    const float *s = srow, *w = wrow;
                    for (kx = kx0; kx < kx1; kx++, s += tap_step, w += c) {
                        a0 = kiln_vmla(a0, s[0], w[0]);
                        a1 = kiln_vmla(a1, s[1], w[1]);
                        a2 = kiln_vmla(a2, s[2], w[2]);
                        a3 = kiln_vmla(a3, s[3], w[3]);
                    }
                }
                out[g] = kiln_clamp_f(a0 + p->bias[g], lo, hi);
                out[g + 1u] = kiln_clamp_f(a1 + p->bias[g + 1u], lo, hi);
                out[g + 2u] = kiln_clamp_f(a2 + p->bias[g + 2u], lo, hi);
                out[g + 3u] = kiln_clamp_f(a3 + p->bias[g + 3u], lo, hi);
            }
            for (i = full; i < c; i++) {   /* the last 1 to 3 channels */
                float a = 0.0f;
                const float *srow = first + i, *wrow = wfirst + i;
                for (ky = ky0; ky < ky1; ky++, srow += row_step, wrow += w_row) {
                    const float *s = srow, *w = wrow;
                    for (kx = kx0; kx < kx1; kx++, s += tap_step, w += c) {
                        a = kiln_vmla(a, s[0], w[0]);
                    }
                }
                out[i] = kiln_clamp_f(a + p->bias[i], lo, hi);
            }
        }
    }
}
