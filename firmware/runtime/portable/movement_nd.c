/*
 * Kiln portable kernels: GATHER_ND and SPACE_TO_BATCH_ND, for any element
 * size.
 */
#include <stddef.h>
#include <string.h>

#include "kiln/kernels.h"

static void zero_bytes(uint8_t *dst, size_t n)
{
    size_t b;

    for (b = 0; b < n; b++) { /* no memset: kernels link only memcpy */
        dst[b] = 0;
    }
}

void kiln_gather_nd(const kiln_gather_nd_params_t *p, const void *params,
                    const int32_t *idx, void *out)
{
    const uint8_t *src = (const uint8_t *)params;
    uint8_t *dst = (uint8_t *)out;
    const size_t row = (size_t)p->slice * p->elem_bytes;
    uint32_t r, j;

    for (r = 0; r < p->n_slices; r++) {
        int64_t from = 0;
        for (j = 0; j < p->nd; j++) {
            from += (int64_t)idx[(size_t)r * p->nd + j] * p->stride[j];
        }
        if (from >= 0 && from + (int64_t)p->slice <= (int64_t)p->total) {
            memcpy(dst, src + (size_t)from * p->elem_bytes, row);
        } else {
            zero_bytes(dst, row);
        }
        dst += row;
    }
}

void kiln_space_to_batch(const kiln_space_to_batch_params_t *p, const void *in, void *out)
{
    const uint8_t *src = (const uint8_t *)in;
    uint8_t *dst = (uint8_t *)out;
    const size_t px = (size_t)p->c * p->elem_bytes;
    const uint32_t blocks = p->block_h * p->block_w;
    uint32_t s, b, y, x;

    for (s = 0; s < blocks; s++) {
        const uint32_t i = s / p->block_w, j = s % p->block_w;
        for (b = 0; b < p->in_b; b++) {
            for (y = 0; y < p->out_h; y++) {
                /* unsigned wrap-around makes rows above the input fail the test too */
                const uint32_t iy = y * p->block_h + i - p->pad_top;
                for (x = 0; x < p->out_w; x++) {
                    const uint32_t ix = x * p->block_w + j - p->pad_left;
                    if (y * p->block_h + i >= p->pad_top && iy < p->in_h &&
                        x * p->block_w + j >= p->pad_left && ix < p->in_w) {
                        memcpy(dst, src + (((size_t)b * p->in_h + iy) * p->in_w + ix) * px, px);
                    } else {
                        size_t k;
                        for (k = 0; k < px; k++) {
                            dst[k] = p->pad_byte;
                        }
                    }
                    dst += px;
                }
            }
        }
    }
}
