/*
 * Kiln portable kernels: float32 MEAN over the spatial axes.
 */
#include "kiln/kernels.h"

/* in [h][w][c] -> out [c]: per channel, the sum in row-major order divided
 * by h * w (the order TFLite's reference sums in). */
void kiln_mean_f32(const kiln_mean_f32_params_t *p, const float *in, float *out)
{
    const size_t n = (size_t)p->h * p->w;
    uint32_t ch;
    size_t i;

    for (ch = 0; ch < p->c; ch++) {
        float sum = 0.0f;
        for (i = 0; i < n; i++) {
            sum += in[i * p->c + ch];
        }
        out[ch] = sum / (float)n;
    }
}
