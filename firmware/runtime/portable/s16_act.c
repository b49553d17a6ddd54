/*
 * Kiln portable kernels: int16 RELU, RELU6, LEAKY_RELU, ABS and RSQRT (the
 * int8 arithmetic of activation_s8.c and elementwise_unary_s8.c on int16
 * values; tflite-micro runs the same templates on both types). Recipes: kiln/ops/int16.h.
 */
#include "kiln/kernels.h"
#include "kiln/quant.h"

void kiln_relu_s16(const kiln_act_relu_s8_params_t *p, const int16_t *in, int16_t *out)
{
    uint32_t i;

    for (i = 0; i < p->n; i++) {
        const int32_t v = p->out_zp + kiln_requantize((int32_t)in[i] - p->in_zp, p->mult, p->shift);
        out[i] = (int16_t)kiln_clamp_s32(v, p->act_min, p->act_max);
    }
}

void kiln_clamp_s16(const kiln_act_clamp_s8_params_t *p, const int16_t *in, int16_t *out)
{
    uint32_t i;

    for (i = 0; i < p->n; i++) {
        out[i] = (int16_t)kiln_clamp_s32(in[i], p->lo, p->hi);
    }
}

void kiln_leaky_relu_s16(const kiln_act_leaky_s8_params_t *p, const int16_t *in, int16_t *out)
{
    uint32_t i;

    for (i = 0; i < p->n; i++) {
        const int32_t x = (int32_t)in[i] - p->in_zp;
        const int32_t v = x >= 0 ? kiln_requantize(x, p->id_mult, p->id_shift)
                                 : kiln_requantize(x, p->alpha_mult, p->alpha_shift);
        out[i] = (int16_t)kiln_clamp_s32(p->out_zp + v, -32768, 32767);
    }
}

#define KILN_UNARY_T int16_t
#define KILN_UNARY_MIN (-32768)
#define KILN_UNARY_MAX 32767
#define KILN_UNARY_NAME(base) base##_s16
#include "unary_int.inc"
