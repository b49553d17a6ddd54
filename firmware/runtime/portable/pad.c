/*
 * Kiln portable kernels: PAD with a constant (int8, int16 or float32).
 */
#include <string.h>

#include "kiln/kernels.h"

/* Copies one element of elem_bytes bytes holding the pad value. */
static void put_pad(const kiln_pad_params_t *p, uint8_t *dst)
{
    if (p->elem_bytes == 1) {
        *dst = (uint8_t)(int8_t)p->pad_value;
    } else if (p->elem_bytes == 2) {
        const int16_t v = (int16_t)p->pad_value;
        memcpy(dst, &v, 2);
    } else {
        /* float32: pad_value carries the bit pattern */
        memcpy(dst, &p->pad_value, 4);
    }
}

/* in (in_shape) -> out (out_shape); element (i0..i3) of the input lands at
 * (i0 + before[0], ..., i3 + before[3]); every other element is pad_value. */
void kiln_pad(const kiln_pad_params_t *p, const void *in, void *out)
{
    const uint8_t *src = (const uint8_t *)in;
    uint8_t *dst = (uint8_t *)out;
    const size_t eb = p->elem_bytes;
    uint32_t o0, o1, o2, o3;

    for (o0 = 0; o0 < p->out_shape[0]; o0++) {
        const int32_t i0 = (int32_t)o0 - (int32_t)p->before[0];
        for (o1 = 0; o1 < p->out_shape[1]; o1++) {
            const int32_t i1 = (int32_t)o1 - (int32_t)p->before[1];
            for (o2 = 0; o2 < p->out_shape[2]; o2++) {
                const int32_t i2 = (int32_t)o2 - (int32_t)p->before[2];
                const int row_in = i0 >= 0 && i0 < (int32_t)p->in_shape[0] &&
                                   i1 >= 0 && i1 < (int32_t)p->in_shape[1] &&
                                   i2 >= 0 && i2 < (int32_t)p->in_shape[2];
                for (o3 = 0; o3 < p->out_shape[3]; o3++) {
                    const int32_t i3 = (int32_t)o3 - (int32_t)p->before[3];
                    if (row_in && i3 >= 0 && i3 < (int32_t)p->in_shape[3]) {
                        const size_t idx =
                            (((size_t)i0 * p->in_shape[1] + (size_t)i1) * p->in_shape[2] +
                             (size_t)i2) * p->in_shape[3] + (size_t)i3;
                        memcpy(dst, src + idx * eb, eb);
                    } else {
                        put_pad(p, dst);
                    }
                    dst += eb;
                }
            }
        }
    }
}
