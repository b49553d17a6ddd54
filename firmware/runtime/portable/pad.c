/*
 * Kiln portable kernels: PAD with a constant (int8, int16 or float32).
 *
 * Row by row: an output row (the innermost dimension) either lies wholly in
 * the padding, or is the input row with pad elements before and after it.
 * The input part is one memcpy and the pad parts are fills, so the copy runs
 * at the C library's word speed instead of one call per element.
 */
#include <string.h>

#include "kiln/kernels.h"

/* n elements of the pad value at dst. */
static void fill(const kiln_pad_params_t *p, uint8_t *dst, size_t n)
{
    size_t i;

    if (p->elem_bytes == 1) {
        memset(dst, (uint8_t)(int8_t)p->pad_value, n);
    } else if (p->elem_bytes == 2) {
        const int16_t v = (int16_t)p->pad_value;
        for (i = 0; i < n; i++) {
            memcpy(dst + 2 * i, &v, 2);
        }
    } else {
        /* float32: pad_value carries the bit pattern */
        for (i = 0; i < n; i++) {
            memcpy(dst + 4 * i, &p->pad_value, 4);
        }
    }
}

/* in (in_shape) -> out (out_shape); element (i0..i3) of the input lands at
 * (i0 + before[0], ..., i3 + before[3]); every other element is pad_value. */
void kiln_pad(const kiln_pad_params_t *p, const void *in, void *out)
{
    const uint8_t *src = (const uint8_t *)in;
    uint8_t *dst = (uint8_t *)out;
    const size_t eb = p->elem_bytes, n_in = p->in_shape[3], n_out = p->out_shape[3];
    const size_t head = p->before[3], tail = n_out - head - n_in;
    uint32_t o0, o1, o2;

    for (o0 = 0; o0 < p->out_shape[0]; o0++) {
        const int32_t i0 = (int32_t)o0 - (int32_t)p->before[0];
        for (o1 = 0; o1 < p->out_shape[1]; o1++) {
            const int32_t i1 = (int32_t)o1 - (int32_t)p->before[1];
            for (o2 = 0; o2 < p->out_shape[2]; o2++) {
                const int32_t i2 = (int32_t)o2 - (int32_t)p->before[2];
                if (i0 >= 0 && i0 < (int32_t)p->in_shape[0] && i1 >= 0 &&
                    i1 < (int32_t)p->in_shape[1] && i2 >= 0 && i2 < (int32_t)p->in_shape[2]) {
                    const size_t row = ((size_t)i0 * p->in_shape[1] + (size_t)i1) * p->in_shape[2] +
                                       (size_t)i2;
                    fill(p, dst, head);
                    memcpy(dst + head * eb, src + row * n_in * eb, n_in * eb);
                    fill(p, dst + (head + n_in) * eb, tail);
                } else {
                    fill(p, dst, n_out);
                }
                dst += n_out * eb;
            }
        }
    }
}
