/*
 * Kiln Cortex-M33 kernel: ADD of two same-shape int8 tensors (kiln/cm33.h).
 *
 * TFLite rescales each input (offset, << 20, requantize to the common
 * scale) before summing. That rescaling depends only on the int8 value, so
 * the build tabulates it (256 int32 per input, already doubled for the
 * fast requantization): per element two table loads, one add and the four
 * instruction requantization, instead of three full requantizations.
 */
#include "cm33_rq.h"

void kiln_cm33_add_s8(const kiln_cm33_add_params_t *p, const int8_t *a, const int8_t *b,
                      int8_t *out)
{
    const int32_t *ta = p->a_tab + 128, *tb = p->b_tab + 128;
    const int32_t mult = p->mult, round = p->round, shift = p->shift;
    const int8_t *end = out + p->n;

    if (p->clamp) {
        while (out != end) {
            const int32_t q = kiln_cm33_requant(ta[*a++] + tb[*b++], mult, round, shift);
            *out++ = (int8_t)kiln_cm33_clamp(q, p->act_min, p->act_max);
        }
    } else {
        while (out != end) {
            *out++ = (int8_t)kiln_cm33_requant(ta[*a++] + tb[*b++], mult, round, shift);
        }
    }
}
