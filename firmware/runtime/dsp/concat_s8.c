/*
 * Kiln DSP kernel: int8 CONCATENATION along an inner axis (kiln/dsp.h),
 * typically of channels.
 *
 * Why: the portable kernel requantizes an input whose scale differs from
 * the output's element by element (about 15 instructions a byte), and a
 * channel concatenation's rows are a few bytes long. Here such an input is
 * a 256-entry table (its requantized values, evaluated at build time like
 * the other table kernels), looked up four bytes per word; a plain input is
 * copied a word at a time. LDR and STR take unaligned addresses on this
 * core, so no row needs aligning.
 */
#include "dsp_rq.h"

static inline void copy_run(int8_t *d, const int8_t *s, uint32_t n)
{
    for (; n >= 8u; n -= 8u, s += 8, d += 8) {
        const uint32_t a = kiln_load32(s), b = kiln_load32(s + 4);
        kiln_store32(d, a);
        kiln_store32(d + 4, b);
    }
    if (n >= 4u) {
        kiln_store32(d, kiln_load32(s));
        n -= 4u, s += 4, d += 4;
    }
    while (n--) {
        *d++ = *s++;
    }
}

static inline void lut_run(int8_t *d, const int8_t *s, uint32_t n, const uint8_t *t)
{
    for (; n >= 4u; n -= 4u, s += 4, d += 4) {
        kiln_store32(d, kiln_lut4(t, kiln_load32(s)));
    }
    while (n--) {
        *d++ = (int8_t)t[(uint8_t)*s++];
    }
}

void kiln_dsp_concat_s8(const kiln_dsp_concat_params_t *p, const int8_t *const *in, int8_t *out)
{
    uint32_t total = 0, i, r;

    for (i = 0; i < p->n_inputs; i++) {
        total += p->inner[i];
    }
    /* Input by input, so that a row costs its copy and two pointer steps. */
    for (i = 0; i < p->n_inputs; i++) {
        const uint32_t n = p->inner[i];
        const uint8_t *t = (const uint8_t *)p->tables[i];
        const int8_t *src = in[i];
        int8_t *dst = out;

        if (t) {
            for (r = 0; r < p->outer; r++, src += n, dst += total) {
                lut_run(dst, src, n, t);
            }
        } else {
            for (r = 0; r < p->outer; r++, src += n, dst += total) {
                copy_run(dst, src, n);
            }
        }
        out += n;
    }
}
