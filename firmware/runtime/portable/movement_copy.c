/*
 * Kiln portable kernels: strided copy (TRANSPOSE, SLICE, STRIDED_SLICE,
 * SPLIT, SPLIT_V, UNPACK, REVERSE_V2, BROADCAST_TO, DEPTH_TO_SPACE,
 * SPACE_TO_DEPTH) and GATHER, for any element size.
 */
#include <stddef.h>
#include <string.h>

#include "kiln/kernels.h"

/* Walks the output in row-major order with a 6-digit odometer, keeping the
 * input element index up to date incrementally (no multiplication per
 * element). */
void kiln_strided_copy(const kiln_strided_copy_params_t *p, const void *in, void *out)
{
    const uint8_t *src = (const uint8_t *)in;
    uint8_t *dst = (uint8_t *)out;
    const size_t eb = p->elem_bytes;
    const uint32_t last_n = p->out_shape[KILN_COPY_MAX_RANK - 1];
    const int32_t last_s = p->in_stride[KILN_COPY_MAX_RANK - 1];
    uint32_t idx[KILN_COPY_MAX_RANK - 1] = {0, 0, 0, 0, 0};
    int32_t base = p->start;
    size_t rows = 1;
    size_t r;
    int d;

    for (d = 0; d < KILN_COPY_MAX_RANK - 1; d++) {
        rows *= p->out_shape[d];
    }
    if (last_n == 0) {
        return;
    }
    for (r = 0; r < rows; r++) {
        if (last_s == 1) {
            /* a contiguous run of the input */
            memcpy(dst, src + (size_t)base * eb, (size_t)last_n * eb);
            dst += (size_t)last_n * eb;
        } else if (eb == 1) {
            /* typed loops for the common element sizes: no call per element */
            const int8_t *s8 = (const int8_t *)src + base;
            int8_t *d8 = (int8_t *)dst;
            uint32_t k;
            for (k = 0; k < last_n; k++) {
                d8[k] = s8[(ptrdiff_t)k * last_s];
            }
            dst += last_n;
        } else {
            int32_t e = base;
            uint32_t k;
            for (k = 0; k < last_n; k++) {
                memcpy(dst, src + (size_t)e * eb, eb);
                dst += eb;
                e += last_s;
            }
        }
        /* next row: increment the odometer from the innermost outer digit */
        for (d = KILN_COPY_MAX_RANK - 2; d >= 0; d--) {
            idx[d]++;
            base += p->in_stride[d];
            if (idx[d] < p->out_shape[d]) {
                break;
            }
            base -= (int32_t)p->out_shape[d] * p->in_stride[d];
            idx[d] = 0;
        }
    }
}

/* Rows of `inner` elements chosen by the indices, for each outer block. */
void kiln_gather(const kiln_gather_params_t *p, const void *params,
                 const int32_t *idx, void *out)
{
    const uint8_t *src = (const uint8_t *)params;
    uint8_t *dst = (uint8_t *)out;
    const size_t row = (size_t)p->inner * p->elem_bytes;
    uint32_t o, i;

    for (o = 0; o < p->outer; o++) {
        const uint8_t *block = src + (size_t)o * p->axis_n * row;
        for (i = 0; i < p->n_idx; i++) {
            const int32_t k = idx[i];
            if (k >= 0 && (uint32_t)k < p->axis_n) {
                memcpy(dst, block + (size_t)k * row, row);
            } else {
                size_t b;
                for (b = 0; b < row; b++) { /* no memset: kernels link only memcpy */
                    dst[b] = 0;
                }
            }
            dst += row;
        }
    }
}
