/*
 * Kiln portable kernels: RESIZE_NEAREST_NEIGHBOR and RESIZE_BILINEAR (NHWC).
 * The source coordinates come precomputed from the generator (see
 * kiln/ops/spatial.h), so these only gather.
 */
#include <string.h>

#include "kiln/kernels.h"

void kiln_resize_nearest(const kiln_resize_nearest_params_t *p, const void *in, void *out)
{
    const uint8_t *src = (const uint8_t *)in;
    uint8_t *dst = (uint8_t *)out;
    const size_t pixel = (size_t)p->c * p->elem_bytes;
    uint32_t b, y, x;

    for (b = 0; b < p->batches; b++) {
        const uint8_t *image = src + (size_t)b * p->in_h * p->in_w * pixel;
        for (y = 0; y < p->out_h; y++) {
            const uint8_t *row = image + (size_t)p->ys[y] * p->in_w * pixel;
            for (x = 0; x < p->out_w; x++) {
                memcpy(dst, row + (size_t)p->xs[x] * pixel, pixel);
                dst += pixel;
            }
        }
    }
}

void kiln_resize_bilinear_s8(const kiln_resize_bilinear_params_t *p, const int8_t *in, int8_t *out)
{
    const size_t c = p->c;
    uint32_t b, y, x;
    size_t ch;

    for (b = 0; b < p->batches; b++) {
        const int8_t *image = in + (size_t)b * p->in_h * p->in_w * c;
        for (y = 0; y < p->out_h; y++) {
            const int8_t *r0 = image + (size_t)p->y_lo[y] * p->in_w * c;
            const int8_t *r1 = image + (size_t)p->y_hi[y] * p->in_w * c;
            const int64_t dy = p->y_pos[y];
            for (x = 0; x < p->out_w; x++) {
                const size_t c0 = (size_t)p->x_lo[x] * c, c1 = (size_t)p->x_hi[x] * c;
                const int64_t dx = p->x_pos[x];
                for (ch = 0; ch < c; ch++) {
                    /* Weights in 1/1024: (1024 - d) for the lower, d for the upper
                     * neighbour (d may fall outside [0, 1024] at the edges, as in
                     * the reference, where both neighbours are then the same). */
                    const int64_t sum = r0[c0 + ch] * (1024 - dy) * (1024 - dx) +
                                        r1[c0 + ch] * dy * (1024 - dx) +
                                        r0[c1 + ch] * (1024 - dy) * dx +
                                        r1[c1 + ch] * dy * dx;
                    /* round half away from zero, dividing with C's truncation */
                    *out++ = (int8_t)((sum + (sum > 0 ? (1 << 19) : -(1 << 19))) / (1 << 20));
                }
            }
        }
    }
}

void kiln_resize_bilinear_f32(const kiln_resize_bilinear_params_t *p, const float *in, float *out)
{
    const size_t c = p->c;
    uint32_t b, y, x;
    size_t ch;

    for (b = 0; b < p->batches; b++) {
        const float *image = in + (size_t)b * p->in_h * p->in_w * c;
        for (y = 0; y < p->out_h; y++) {
            const float *r0 = image + (size_t)p->y_lo[y] * p->in_w * c;
            const float *r1 = image + (size_t)p->y_hi[y] * p->in_w * c;
            const float dy = p->y_fpos[y];
            for (x = 0; x < p->out_w; x++) {
                const size_t c0 = (size_t)p->x_lo[x] * c, c1 = (size_t)p->x_hi[x] * c;
                const float dx = p->x_fpos[x];
                for (ch = 0; ch < c; ch++) {
                    *out++ = r0[c0 + ch] * (1 - dy) * (1 - dx) + r1[c0 + ch] * dy * (1 - dx) +
                             r0[c1 + ch] * (1 - dy) * dx + r1[c1 + ch] * dy * dx;
                }
            }
        }
    }
}
