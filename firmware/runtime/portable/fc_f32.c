/*
 * Kiln portable kernels: float32 FULLY_CONNECTED.
 */
#include "kiln/kernels.h"

/* in [batches][in_n], w [out_n][in_n], bias [out_n] or NULL. */
void kiln_fc_f32(const kiln_fc_f32_params_t *p, const float *in,
                 const float *w, const float *bias, float *out)
{
    uint32_t b, o, i;

    for (b = 0; b < p->batches; b++) {
        const float *x = in + (size_t)b * p->in_n;
        for (o = 0; o < p->out_n; o++) {
            const float *wr = w + (size_t)o * p->in_n;
            float acc = 0.0f;
            float v;
            for (i = 0; i < p->in_n; i++) {
                acc += x[i] * wr[i];
            }
            v = acc + (bias != 0 ? bias[o] : 0.0f);
            v = v < p->act_min ? p->act_min : (v > p->act_max ? p->act_max : v);
            out[(size_t)b * p->out_n + o] = v;
        }
    }
}
