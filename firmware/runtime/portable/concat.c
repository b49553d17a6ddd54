/*
 * Kiln portable kernels: CONCATENATION (int8 or float32).
 */
#include <string.h>

#include "kiln/kernels.h"
#include "kiln/quant.h"

/* n bytes, a word at a time when both ends are word aligned (the rows of a
 * concatenation of channels are short: a call of memcpy per row costs more
 * than the copy). The 4-byte memcpy compiles to one load and one store. */
static void copy_run(uint8_t *dst, const uint8_t *src, size_t n)
{
    if ((((uintptr_t)dst | (uintptr_t)src) & 3u) == 0) {
        for (; n >= 4u; n -= 4u, dst += 4, src += 4) {
            memcpy(dst, src, 4);
        }
    }
    while (n--) {
        *dst++ = *src++;
    }
}

/* For each of the `outer` rows, appends inner[i] elements of every input i
 * in order. int8 inputs whose mult is non-zero are requantized to the
 * output's parameters; all others are copied byte for byte. */
void kiln_concat(const kiln_concat_params_t *p, const void *const *in, void *out)
{
    uint8_t *dst = (uint8_t *)out;
    const size_t eb = p->elem_bytes;
    uint32_t r, i, k;

    for (r = 0; r < p->outer; r++) {
        for (i = 0; i < p->n_inputs; i++) {
            const size_t n = p->inner[i];
            const uint8_t *src = (const uint8_t *)in[i] + (size_t)r * n * eb;
            if (eb == 1 && p->mult != 0 && p->mult[i] != 0) {
                const int8_t *s = (const int8_t *)src;
                int8_t *d = (int8_t *)dst;
                for (k = 0; k < n; k++) {
                    const int32_t v = kiln_requantize((int32_t)s[k] + p->in_offset[i],
                                                      p->mult[i], p->shift[i]) +
                                      p->out_offset;
                    d[k] = (int8_t)kiln_clamp_s32(v, -128, 127);
                }
            } else {
                copy_run(dst, src, n * eb);
            }
            dst += n * eb;
        }
    }
}
