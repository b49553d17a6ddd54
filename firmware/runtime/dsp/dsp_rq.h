/*
 * Kiln DSP kernels: the shared requantization step (the proof that
 * it is bit-identical to kiln_requantize() is in kiln/dsp.h).
 */
#ifndef KILN_DSP_RQ_H
#define KILN_DSP_RQ_H

#include <stdint.h>

#include "kiln/dsp.h"
#include "kiln_dsp.h"

/* acc2 = 2^(s+1) * accumulator including the bias -> int8 in [-128, 127]
 * (four instructions: SMMLAR, ADD ASR #31, ASR, SSAT). */
static inline int32_t kiln_dsp_requant(int32_t acc2, int32_t mult, int32_t round, int32_t shift)
{
    const int32_t t = kiln_smmlar(acc2, mult, round) + (acc2 >> 31);

    return kiln_ssat8(t >> shift);
}

/* The exact requantization of a record whose shift field is negative
 * (rq_exact.c; the encoding is in kiln/dsp.h). Out of line: such channels
 * are rare, and the fast path's code stays small. */
int32_t kiln_dsp_requant_exact(int32_t acc2, const kiln_dsp_rq_t *r);

/* kiln_dsp_requant without the rounding term of negative accumulators, for a
 * layer whose activation clamp starts at or above the output zero point
 * (ReLU, ReLU6): such an accumulator requantizes to the zero point or below
 * with the term or without it, and the clamp lifts both to its lower bound
 * (kiln/dsp.h). */
static inline int32_t kiln_dsp_requant_floor(int32_t acc2, int32_t mult, int32_t round, int32_t shift)
{
    return kiln_ssat8(kiln_smmlar(acc2, mult, round) >> shift);
}

/* One output channel's requantization. `exact` is a compile-time constant:
 * a layer without exact records (the common case) pays nothing for them. */
static inline int32_t kiln_dsp_rq(int32_t acc2, const kiln_dsp_rq_t *r, int exact)
{
    if (exact && r->shift < 0) {
        return kiln_dsp_requant_exact(acc2, r);
    }
    return kiln_dsp_requant(acc2, r->mult, r->round, r->shift);
}

/* The same with kiln_dsp_requant_floor's step on the fast path when `floor`. */
static inline int32_t kiln_dsp_rq_floor(int32_t acc2, const kiln_dsp_rq_t *r, int exact, int floor)
{
    if (floor && !(exact && r->shift < 0)) {
        return kiln_dsp_requant_floor(acc2, r->mult, r->round, r->shift);
    }
    return kiln_dsp_rq(acc2, r, exact);
}

/* The size layout's int8 weight words [k0 k1 k2 k3] widened and doubled into
 * the two words the speed layout holds at the same place: [2k0, 2k2],
 * [2k1, 2k3]. (x << 1 moves the low lane's sign bit into bit 16, which the
 * doubled high lane has clear.) */
static inline void kiln_dsp_widen_weights(uint32_t *dst, const uint32_t *src, uint32_t words)
{
    while (words--) {
        const uint32_t v = *src++;
        dst[0] = (kiln_sxtb16(v) << 1) & 0xFFFEFFFFu;
        dst[1] = (kiln_sxtb16_ror8(v) << 1) & 0xFFFEFFFFu;
        dst += 2;
    }
}

/* The activation clamp, for the layers whose range is narrower than int8. */
static inline int32_t kiln_dsp_clamp(int32_t q, int32_t lo, int32_t hi)
{
    q = q < lo ? lo : q;
    return q > hi ? hi : q;
}

#endif /* KILN_DSP_RQ_H */
