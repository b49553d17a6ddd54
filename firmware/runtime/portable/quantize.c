/*
 * Kiln portable kernels: QUANTIZE and DEQUANTIZE at the graph's edges.
 */
#include "kiln/kernels.h"
#include "kiln/quant.h"

/* float -> int8: q = clamp(round(x / scale) + zero_point). tflite-micro
 * divides in single precision; near the .5 boundaries a double division or
 * a multiplication by 1/scale rounds differently (tests/test_kernels.py
 * feeds such inputs to the oracle). NaN maps to the zero point. */
void kiln_quantize_f32_s8(const kiln_quant_params_t *p, const float *in, int8_t *out)
{
    uint32_t i;

    for (i = 0; i < p->n; i++) {
        const int32_t q = kiln_quantize_round_f(in[i] / p->scale) + p->zero_point;
        out[i] = (int8_t)kiln_clamp_s32(q, -128, 127);
    }
}

/* int8 -> int8 with other parameters (QUANTIZE between two int8 tensors). */
void kiln_requantize_s8_s8(const kiln_quant_params_t *p, const int8_t *in, int8_t *out)
{
    uint32_t i;

    for (i = 0; i < p->n; i++) {
        const int32_t q = kiln_requantize((int32_t)in[i] + p->in_offset, p->mult, p->shift) +
                          p->out_offset;
        out[i] = (int8_t)kiln_clamp_s32(q, -128, 127);
    }
}

/* int8 -> float: x = scale * (q - zero_point). One float rounding of an
 * exact product, equal to TFLite's double product cast to float. */
void kiln_dequantize_s8_f32(const kiln_quant_params_t *p, const int8_t *in, float *out)
{
    uint32_t i;

    for (i = 0; i < p->n; i++) {
        out[i] = p->scale * (float)((int32_t)in[i] - p->zero_point);
    }
}
