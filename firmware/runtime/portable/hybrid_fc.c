/*
 * Kiln portable kernels: hybrid FULLY_CONNECTED (float input and output,
 * int8 weights quantized at conversion, input quantized per batch at run
 * time). Arithmetic in kiln/kernels.h, "hybrid".
 */
#include "kiln/kernels.h"

static float clamp_f(float v, float lo, float hi)
{
    return v < lo ? lo : (v > hi ? hi : v);
}

void kiln_hybrid_fc(const kiln_hybrid_fc_params_t *p, const float *in,
                    const int8_t *w, const float *bias, int8_t *scratch,
                    float *out)
{
    uint32_t b, o, i;

    for (b = 0; b < p->batches; b++) {
        const float *x = in + b * p->in_n;
        float *y = out + b * p->out_n;
        float in_scale;
        int32_t in_offset;

        kiln_hybrid_quantize_f32(x, p->in_n, p->asymmetric, scratch, &in_scale, &in_offset);
        for (o = 0; o < p->out_n; o++) {
            const int8_t *row = w + o * p->in_n;
            /* The combined scale is one float product, as in TFLite. */
            const float s = in_scale * p->w_scale[p->per_channel ? o : 0];
            const float base = bias != NULL ? bias[o] : 0.0f;
            int32_t acc = 0;

            for (i = 0; i < p->in_n; i++) {
                acc += (int32_t)row[i] * ((int32_t)scratch[i] - in_offset);
            }
            y[o] = clamp_f(base + (float)acc * s, p->act_min, p->act_max);
        }
    }
}
