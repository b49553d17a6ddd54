/*
 * Kiln DSP kernel: QUANTIZE float32 -> int8 (kiln/dsp.h).
 *
 * The same single-precision division as the portable kernel (tflite-micro's
 * rounding depends on it), then VCVTA: one instruction rounding to nearest
 * with ties away from zero, saturating to int32, NaN to 0, which is what the
 * portable kernel's kiln_quantize_round_f does in about
 * twenty. QADD and SSAT add the zero point and clamp without overflow.
 * VCVTA is in the FPv5 FPU of ARMv8-M Mainline cores; elsewhere the C
 * rounding runs.
 */
#include "dsp_rq.h"
#include "kiln/quant.h"

#if defined(__ARM_ARCH_8M_MAIN__) && defined(__ARM_FP) && KILN_DSP_NATIVE
#define KILN_HAVE_VCVTA 1
#else
#define KILN_HAVE_VCVTA 0
#endif

static inline int32_t round_away(float v)
{
#if KILN_HAVE_VCVTA
    float r;
    int32_t q;
    __asm__("vcvta.s32.f32 %0, %1" : "=t"(r) : "t"(v));
    __asm__("vmov %0, %1" : "=r"(q) : "t"(r));
    return q;
#else
    return kiln_quantize_round_f(v);
#endif
}

void kiln_dsp_quantize_f32_s8(const kiln_quant_params_t *p, const float *in, int8_t *out)
{
    const float scale = p->scale;
    const int32_t zp = p->zero_point;
    uint32_t i;

    for (i = 0; i < p->n; i++) {
        const int32_t q = round_away(in[i] / scale);
#if KILN_HAVE_VCVTA
        out[i] = (int8_t)kiln_ssat8(__qadd(q, zp));
#else
        out[i] = (int8_t)kiln_clamp_s32(q + zp, -128, 127);
#endif
    }
}
