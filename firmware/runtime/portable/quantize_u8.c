/*
 * Kiln portable kernels: QUANTIZE for uint8 graph edges.
 *
 * Models converted with uint8 inputs or outputs (common in ST's model zoo)
 * run int8 inside and convert at the edges: uint8 -> int8 after the input,
 * int8 -> uint8 before the output. Both
 * conversions are a requantization with the same arithmetic as int8 -> int8;
 * only the C type read or written and the clamp differ.
 */
#include "kiln/kernels.h"
#include "kiln/quant.h"

/* uint8 -> int8: q' = clamp(kiln_requantize(q + in_offset, mult, shift) + out_offset).
 * With equal scales the multiplier is exactly 1 and this is the usual
 * zero-point shift by 128, so no separate fast path is needed. */
void kiln_requantize_u8_s8(const kiln_quant_params_t *p, const uint8_t *in, int8_t *out)
{
    uint32_t i;

    for (i = 0; i < p->n; i++) {
        const int32_t q = kiln_requantize((int32_t)in[i] + p->in_offset, p->mult, p->shift) +
                          p->out_offset;
        out[i] = (int8_t)kiln_clamp_s32(q, -128, 127);
    }
}

/* int8 -> uint8: the same requantization, clamped to [0, 255]. */
void kiln_requantize_s8_u8(const kiln_quant_params_t *p, const int8_t *in, uint8_t *out)
{
    uint32_t i;

    for (i = 0; i < p->n; i++) {
        const int32_t q = kiln_requantize((int32_t)in[i] + p->in_offset, p->mult, p->shift) +
                          p->out_offset;
        out[i] = (uint8_t)kiln_clamp_s32(q, 0, 255);
    }
}
