/*
 * Kiln DSP kernels: element-wise operators of one 8-bit value, as
 * table lookups (kiln/dsp.h).
 *
 * LOGISTIC and TANH run a fixed-point series per element in the portable
 * kernels (about 300 instructions), HARD_SWISH a 16-bit one (about 190);
 * LEAKY_RELU, RELU, QUANTIZE between 8-bit types and DEQUANTIZE to float a
 * requantization or a float multiply. Each output
 * depends on one byte only, so the build evaluates the portable arithmetic on
 * all 256 values (site_scons/kiln/fixedpoint.py) and the kernel looks them
 * up: per four elements one word load, four UBFX + LDRB, three ORR and one
 * word store.
 */
#include "dsp_rq.h"

void kiln_dsp_lut_s8(const kiln_dsp_lut_params_t *p, const void *in, void *out)
{
    const uint8_t *x = (const uint8_t *)in, *t = (const uint8_t *)p->table;
    uint8_t *y = (uint8_t *)out;
    uint32_t n = p->n;

    /* In place (x == y) is fine: each word is read before it is written. */
    for (; n >= 4u; n -= 4u, x += 4, y += 4) {
        kiln_store32(y, kiln_lut4(t, kiln_load32(x)));
    }
    while (n--) {
        *y++ = t[*x++];
    }
}

void kiln_dsp_lut_s8_f32(const kiln_dsp_lut_f32_params_t *p, const void *in, float *out)
{
    const uint8_t *x = (const uint8_t *)in;
    const float *t = p->table;
    uint32_t n = p->n;

    for (; n >= 4u; n -= 4u, x += 4, out += 4) {
        const uint32_t v = kiln_load32(x);
        out[0] = t[v & 0xFFu];
        out[1] = t[(v >> 8) & 0xFFu];
        out[2] = t[(v >> 16) & 0xFFu];
        out[3] = t[v >> 24];
    }
    while (n--) {
        *out++ = t[*x++];
    }
}
