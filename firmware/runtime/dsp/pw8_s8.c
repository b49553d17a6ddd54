/*
 * Kiln DSP kernel: CONV_2D 1x1, stride 1, over 8 input channels (kiln/dsp.h).
 *
 * Why a kernel of its own: with K = 8 the general kernel's costs per pixel
 * (im2col) and per channel pair (biases, four requantizations, pointer
 * bookkeeping: about 38 instructions around 2 K groups) come to about 3
 * instructions per MAC, and MobileNets' first pointwise layer (8 to 16
 * channels at 48x48 in VWW's) is such a layer. Here a pixel's 8 activations
 * are widened once into four registers ([x0, x2] [x1, x3] [x4, x6] [x5, x7],
 * the SXTB16 order of the weights) and stay there while every output channel
 * loads its four weight words (one LDM), runs four SMLAD, loads its record
 * (one LDM) and requantizes: 13 instructions per channel (8 MACs), two
 * channels per loop step, and about 17 per pixel.
 */
#include "dsp_rq.h"

#if KILN_DSP_ASM
/* One channel: r4-r7 the weights, then the record (bias, mult, round,
 * shift); r0-r3 the activations; r8 the accumulator, r9 the result. FIX is
 * the rounding term only negative accumulators need, or nothing under a
 * ReLU (`floor`: kiln_dsp_requant_floor). */
#define KILN_PW8_CHANNEL_ASM(FIX) \
        "ldmia  r12!, {r4-r7}\n\t" \
        "smuad  r8, r0, r4\n\t" \
        "smlad  r8, r1, r5, r8\n\t" \
        "smlad  r8, r2, r6, r8\n\t" \
        "smlad  r8, r3, r7, r8\n\t" \
        "ldmia  r11!, {r4-r7}\n\t" \
        "add    r8, r8, r4\n\t" \
        "smmlar r9, r8, r5, r6\n\t" \
        FIX \
        "asr    r9, r9, r7\n\t" \
        "ssat   r9, #8, r9\n\t" \
        "strb   r9, [r10], #1\n\t"
#define KILN_PW8_ROUND_FIX "add    r9, r9, r8, asr #31\n\t"

/* Every pixel, start to finish (out_c >= 2; an odd count enters the
 * two-channel loop at its second half). The per-pixel state lives on the
 * stack ("m" operands): every register is taken in the channel loop. */
#define KILN_PW8_ASM(ENTRY, FIX) \
        "1:\n\t" \
        "ldr    r12, %[x]\n\t" \
        "ldr    r0, [r12]\n\t" \
        "ldr    r2, [r12, #4]\n\t" \
        "add    r12, r12, #8\n\t" \
        "str    r12, %[x]\n\t" \
        "sxtb16 r1, r0, ror #8\n\t" \
        "sxtb16 r0, r0\n\t" \
        "sxtb16 r3, r2, ror #8\n\t" \
        "sxtb16 r2, r2\n\t" \
        "ldr    r12, %[w]\n\t" \
        "ldr    r11, %[rq]\n\t" \
        "ldr    lr, %[oc]\n\t" \
        "add    lr, r10, lr\n\t" \
        ENTRY \
        "2:\n\t" \
        KILN_PW8_CHANNEL_ASM(FIX) \
        "3:\n\t" \
        KILN_PW8_CHANNEL_ASM(FIX) \
        "cmp    r10, lr\n\t" \
        "bne    2b\n\t" \
        "ldr    r4, %[n]\n\t" \
        "subs   r4, r4, #1\n\t" \
        "str    r4, %[n]\n\t" \
        "bne    1b\n\t"

static void pixels_asm(const kiln_dsp_pw8_params_t *p, const int8_t *in, int8_t *out)
{
    register int8_t *op __asm__("r10") = out;
    const int8_t *x = in;
    const uint32_t *w = (const uint32_t *)(const void *)p->w;
    const kiln_dsp_rq_t *rq = p->rq;
    const uint32_t oc = p->out_c;
    uint32_t n = p->pixels;

#define KILN_PW8_CALL(ENTRY, FIX) \
    __asm__ volatile(KILN_PW8_ASM(ENTRY, FIX) \
        : "+r"(op), [x] "+m"(x), [n] "+m"(n) \
        : [w] "m"(w), [rq] "m"(rq), [oc] "m"(oc) \
        : "r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "r11", "r12", "lr", "cc", \
          "memory")
    if (p->floor) {
        if (oc & 1u) {
            KILN_PW8_CALL("b 3f\n\t", "");
        } else {
            KILN_PW8_CALL("", "");
        }
    } else if (oc & 1u) {
        KILN_PW8_CALL("b 3f\n\t", KILN_PW8_ROUND_FIX);
    } else {
        KILN_PW8_CALL("", KILN_PW8_ROUND_FIX);
    }
#undef KILN_PW8_CALL
}
#undef KILN_PW8_ASM
#undef KILN_PW8_CHANNEL_ASM
#undef KILN_PW8_ROUND_FIX
#endif

/* The same arithmetic in C (the host check build, unoptimized builds, and a
 * single output channel). */
static void pixel_c(const int8_t *x, const uint32_t *w, const kiln_dsp_rq_t *rq, int8_t *o,
                    uint32_t out_c, int floor)
{
    const uint32_t v0 = kiln_load32(x), v1 = kiln_load32(x + 4);
    const uint32_t a0 = kiln_sxtb16(v0), a1 = kiln_sxtb16_ror8(v0);
    const uint32_t a2 = kiln_sxtb16(v1), a3 = kiln_sxtb16_ror8(v1);
    uint32_t c;

    for (c = 0; c < out_c; c++, w += 4, rq++) {
        int32_t acc = kiln_smlad(a3, w[3], kiln_smlad(a2, w[2], kiln_smlad(a1, w[1], kiln_smuad(a0, w[0]))));
        o[c] = (int8_t)kiln_dsp_rq_floor(acc + rq->bias, rq, 0, floor);
    }
}

void kiln_dsp_pw8_s8(const kiln_dsp_pw8_params_t *p, const int8_t *in, int8_t *out)
{
    const uint32_t *w = (const uint32_t *)(const void *)p->w;
    const uint32_t oc = p->out_c;
    uint32_t i;

#if KILN_DSP_ASM
    if (oc >= 2u && p->pixels) {
        pixels_asm(p, in, out);
        return;
    }
#endif
    for (i = 0; i < p->pixels; i++, in += 8, out += oc) {
        pixel_c(in, w, p->rq, out, oc, p->floor);
    }
}
