/*
 * Kiln DSP kernels: the exact requantization for the output channels
 * the four-instruction step cannot take (kiln/dsp.h, "Exact records").
 */
#include "dsp_rq.h"
#include "kiln/quant.h"

int32_t kiln_dsp_requant_exact(int32_t acc2, const kiln_dsp_rq_t *r)
{
    const uint32_t f = (uint32_t)r->shift;
    const int32_t shift = (int8_t)(f & 0xFFu);
    const int32_t zero_point = (int8_t)((f >> 8) & 0xFFu);
    /* acc2 is twice the bias-free accumulator (even, and bounded at build
     * time); the reference adds the bias in int32, and the build checks
     * that this sum cannot wrap either. */
    const int32_t acc = (int32_t)((uint32_t)(acc2 / 2) + (uint32_t)r->round);

    return kiln_clamp_s32(kiln_requantize(acc, r->mult, shift) + zero_point, -128, 127);
}
