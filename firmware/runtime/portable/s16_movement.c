/*
 * Kiln portable kernels: int16 MEAN / SUM over any axes (the int8
 * arithmetic of movement_reduce.c on int16 values; PAD and the other
 * movement operators run on kiln_pad, kiln_strided_copy and kiln_concat with
 * elem_bytes = 2). Recipes: kiln/ops/int16.h.
 */
#include "kiln/kernels.h"
#include "kiln/quant.h"

/* Advances a right-aligned odometer over `shape` (innermost digit last) and
 * the matching element offset by `stride`. */
static void next_index(uint32_t *digit, const uint32_t *shape, const int32_t *stride, int32_t *off)
{
    int d;

    for (d = KILN_COPY_MAX_RANK - 1; d >= 0; d--) {
        digit[d]++;
        *off += stride[d];
        if (digit[d] < shape[d]) {
            return;
        }
        *off -= (int32_t)shape[d] * stride[d];
        digit[d] = 0;
    }
}

/* MEAN and SUM over any axes (kiln_reduce_params_t of kiln/ops/movement.h,
 * kind 0 or 1): the int32 sum of the raw values of each output's inputs,
 * in increasing input address order, then
 * kiln_requantize(sum + in_offset * count, mult, shift) + out_offset. */
void kiln_reduce_s16(const kiln_reduce_params_t *p, const int16_t *in, int16_t *out)
{
    uint32_t o_digit[KILN_COPY_MAX_RANK] = {0, 0, 0, 0, 0, 0};
    uint32_t r_digit[KILN_COPY_MAX_RANK] = {0, 0, 0, 0, 0, 0};
    size_t n_out = 1;
    int32_t o_off = 0;
    size_t o, r;
    int d;

    for (d = 0; d < KILN_COPY_MAX_RANK; d++) {
        n_out *= p->out_shape[d];
    }
    for (o = 0; o < n_out; o++) {
        const int16_t *base = in + o_off;
        int32_t r_off = 0;
        int32_t acc = 0;
        for (r = 0; r < p->count; r++) {
            acc += base[r_off];
            next_index(r_digit, p->red_shape, p->red_stride, &r_off);
        }
        next_index(o_digit, p->out_shape, p->out_stride, &o_off);
        acc = kiln_requantize(acc + p->in_offset * (int32_t)p->count, p->mult, p->shift) +
              p->out_offset;
        out[o] = (int16_t)kiln_clamp_s32(acc, -32768, 32767);
    }
}
