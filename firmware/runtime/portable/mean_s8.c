/*
 * Kiln portable kernels: int8 MEAN over the spatial axes (reference).
 */
#include "kiln/kernels.h"
#include "kiln/quant.h"

/* in [h][w][c] -> out [c]. Sums the raw values of each channel, then either
 * divides by the count (same input/output parameters: the zero point
 * passes through the mean unchanged) or removes the zero point and
 * requantizes with a multiplier that already contains 1/count. */
void kiln_mean_s8(const kiln_mean_s8_params_t *p, const int8_t *in, int8_t *out)
{
    const size_t n = (size_t)p->h * p->w;
    uint32_t ch;
    size_t i;

    for (ch = 0; ch < p->c; ch++) {
        int32_t sum = 0;
        int32_t v;
        for (i = 0; i < n; i++) {
            sum += in[i * p->c + ch];
        }
        if (p->same_qparams) {
            v = sum / (int32_t)p->count;
        } else {
            v = kiln_requantize(sum + p->in_offset * (int32_t)p->count, p->mult, p->shift) +
                p->out_offset;
        }
        out[ch] = (int8_t)kiln_clamp_s32(v, -128, 127);
    }
}
