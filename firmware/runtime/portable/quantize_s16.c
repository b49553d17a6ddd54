/*
 * Kiln portable kernels: QUANTIZE and DEQUANTIZE for uint8 and int16 (and
 * int8 <-> int16), the directions tflite-micro's reference supports beyond
 * quantize.c and quantize_u8.c. Recipes: kiln/ops/int16.h.
 */
#include "kiln/kernels.h"
#include "kiln/quant.h"

/* round_half_away(x / scale) + zero_point, clamped to [lo, hi]; the
 * division in single precision as tflite-micro does. NaN maps to the zero
 * point; huge values saturate. */
static int32_t quantize_one(const kiln_quant_params_t *p, float x, int32_t lo, int32_t hi)
{
    return kiln_clamp_s32(kiln_quantize_round_f(x / p->scale) + p->zero_point, lo, hi);
}

/* The int -> int requantization of every direction, before the clamp. */
static int32_t requantize_one(const kiln_quant_params_t *p, int32_t q)
{
    return kiln_requantize(q + p->in_offset, p->mult, p->shift) + p->out_offset;
}

void kiln_quantize_f32_s16(const kiln_quant_params_t *p, const float *in, int16_t *out)
{
    uint32_t i;

    for (i = 0; i < p->n; i++) {
        out[i] = (int16_t)quantize_one(p, in[i], -32768, 32767);
    }
}

/* x = scale * (q - zero_point): (q - zp) is exact in float and one float
 * product of it equals TFLite's double product rounded to float. */
void kiln_dequantize_u8_f32(const kiln_quant_params_t *p, const uint8_t *in, float *out)
{
    uint32_t i;

    for (i = 0; i < p->n; i++) {
        out[i] = p->scale * (float)((int32_t)in[i] - p->zero_point);
    }
}

void kiln_dequantize_s16_f32(const kiln_quant_params_t *p, const int16_t *in, float *out)
{
    uint32_t i;

    for (i = 0; i < p->n; i++) {
        out[i] = p->scale * (float)((int32_t)in[i] - p->zero_point);
    }
}

void kiln_requantize_s8_s16(const kiln_quant_params_t *p, const int8_t *in, int16_t *out)
{
    uint32_t i;

    for (i = 0; i < p->n; i++) {
        out[i] = (int16_t)kiln_clamp_s32(requantize_one(p, in[i]), -32768, 32767);
    }
}

void kiln_requantize_s16_s8(const kiln_quant_params_t *p, const int16_t *in, int8_t *out)
{
    uint32_t i;

    for (i = 0; i < p->n; i++) {
        out[i] = (int8_t)kiln_clamp_s32(requantize_one(p, in[i]), -128, 127);
    }
}

void kiln_requantize_s16_s16(const kiln_quant_params_t *p, const int16_t *in, int16_t *out)
{
    uint32_t i;

    for (i = 0; i < p->n; i++) {
        out[i] = (int16_t)kiln_clamp_s32(requantize_one(p, in[i]), -32768, 32767);
    }
}

/* int32 ends: the input's zero point is subtracted modulo 2^32 (the
 * reference's int32 difference), the output's added in 64 bits and clamped. */
static int32_t requantize_s32(const kiln_quant_params_t *p, int32_t q, int64_t lo, int64_t hi)
{
    const int32_t x = (int32_t)((uint32_t)q + (uint32_t)p->in_offset);
    int64_t v = (int64_t)kiln_requantize(x, p->mult, p->shift) + p->out_offset;

    return (int32_t)(v < lo ? lo : (v > hi ? hi : v));
}

void kiln_requantize_s8_s32(const kiln_quant_params_t *p, const int8_t *in, int32_t *out)
{
    uint32_t i;

    for (i = 0; i < p->n; i++) {
        out[i] = requantize_s32(p, in[i], KILN_INT32_MIN, KILN_INT32_MAX);
    }
}

void kiln_requantize_s16_s32(const kiln_quant_params_t *p, const int16_t *in, int32_t *out)
{
    uint32_t i;

    for (i = 0; i < p->n; i++) {
        out[i] = requantize_s32(p, in[i], KILN_INT32_MIN, KILN_INT32_MAX);
    }
}

void kiln_requantize_s32_s8(const kiln_quant_params_t *p, const int32_t *in, int8_t *out)
{
    uint32_t i;

    for (i = 0; i < p->n; i++) {
        out[i] = (int8_t)requantize_s32(p, in[i], -128, 127);
    }
}

void kiln_requantize_s32_s16(const kiln_quant_params_t *p, const int32_t *in, int16_t *out)
{
    uint32_t i;

    for (i = 0; i < p->n; i++) {
        out[i] = (int16_t)requantize_s32(p, in[i], -32768, 32767);
    }
}
