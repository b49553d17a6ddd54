/*
 * Kiln portable kernels: float32 SOFTMAX over the last axis.
 */
#include "kiln/kernels.h"

/* out = exp(beta * (x - max)) / sum; subtracting the row max keeps every
 * exponent <= 0 so nothing overflows. */
void kiln_softmax_f32(const kiln_softmax_f32_params_t *p, const float *in, float *out)
{
    uint32_t r, i;

    for (r = 0; r < p->rows; r++) {
        const float *x = in + (size_t)r * p->depth;
        float *y = out + (size_t)r * p->depth;
        float max = -3.40282347e38f;
        float sum = 0.0f;
        for (i = 0; i < p->depth; i++) {
            if (x[i] > max) {
                max = x[i];
            }
        }
        for (i = 0; i < p->depth; i++) {
            y[i] = kiln_expf((x[i] - max) * p->beta);
            sum += y[i];
        }
        for (i = 0; i < p->depth; i++) {
            y[i] = y[i] / sum;
        }
    }
}
