/*
 * Kiln portable kernels: copy through per-dimension offset tables
 * (MIRROR_PAD) and CAST.
 */
#include <string.h>

#include "kiln/kernels.h"

void kiln_table_copy(const kiln_table_copy_params_t *p, const void *in, void *out)
{
    const uint8_t *src = (const uint8_t *)in;
    uint8_t *dst = (uint8_t *)out;
    const size_t eb = p->elem_bytes;
    const int32_t *tab[KILN_COPY_MAX_RANK];
    uint32_t idx[KILN_COPY_MAX_RANK] = {0, 0, 0, 0, 0, 0};
    size_t total = 1;
    size_t n;
    int d;

    /* table d starts after the entries of dimensions 0 .. d-1 */
    tab[0] = p->offsets;
    for (d = 1; d < KILN_COPY_MAX_RANK; d++) {
        tab[d] = tab[d - 1] + p->out_shape[d - 1];
    }
    for (d = 0; d < KILN_COPY_MAX_RANK; d++) {
        total *= p->out_shape[d];
    }
    for (n = 0; n < total; n++) {
        int32_t e = 0;
        for (d = 0; d < KILN_COPY_MAX_RANK; d++) {
            e += tab[d][idx[d]];
        }
        memcpy(dst, src + (size_t)e * eb, eb);
        dst += eb;
        for (d = KILN_COPY_MAX_RANK - 1; d >= 0; d--) {
            if (++idx[d] < p->out_shape[d]) {
                break;
            }
            idx[d] = 0;
        }
    }
}

/* float -> int32 truncates toward zero like C's conversion; values outside
 * the int32 range (undefined behaviour in the reference's static_cast)
 * saturate, and NaN gives 0, so the kernel itself stays defined. */
void kiln_cast_f32_s32(uint32_t n, const float *in, int32_t *out)
{
    uint32_t i;

    for (i = 0; i < n; i++) {
        const float v = in[i];
        if (v >= 2147483648.0f) {
            out[i] = 2147483647;
        } else if (v < -2147483648.0f) {
            out[i] = (int32_t)(-2147483647 - 1);
        } else if (v != v) {
            out[i] = 0;
        } else {
            out[i] = (int32_t)v;
        }
    }
}

/* int32 -> float rounds to nearest even above 2^24, as the C conversion. */
void kiln_cast_s32_f32(uint32_t n, const int32_t *in, float *out)
{
    uint32_t i;

    for (i = 0; i < n; i++) {
        out[i] = (float)in[i];
    }
}
