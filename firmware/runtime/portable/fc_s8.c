/*
 * Kiln portable kernels: int8 FULLY_CONNECTED (reference).
 */
#include "kiln/kernels.h"
#include "kiln/quant.h"

/* in [batches][in_n], w [out_n][in_n], bias [out_n] or NULL,
 * out [batches][out_n]. Each output is sum((q_in - zp_in) * q_w) + bias,
 * requantized with the tensor's (or the channel's) multiplier. */
void kiln_fc_s8(const kiln_fc_s8_params_t *p, const int8_t *in,
                const int8_t *w, const int32_t *bias, int8_t *out)
{
    uint32_t b, o, i;

    for (b = 0; b < p->batches; b++) {
        const int8_t *x = in + (size_t)b * p->in_n;
        int8_t *y = out + (size_t)b * p->out_n;
        for (o = 0; o < p->out_n; o++) {
            const int8_t *wr = w + (size_t)o * p->in_n;
            const uint32_t q = p->per_channel ? o : 0;
            int32_t acc = 0;
            for (i = 0; i < p->in_n; i++) {
                acc += ((int32_t)x[i] + p->in_offset) * wr[i];
            }
            if (bias != 0) {
                acc += bias[o];
            }
            acc = kiln_requantize(acc, p->mult[q], p->shift[q]) + p->out_offset;
            y[o] = (int8_t)kiln_clamp_s32(acc, p->act_min, p->act_max);
        }
    }
}
