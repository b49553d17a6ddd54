/*
 * Kiln portable kernels: float32 UNIDIRECTIONAL_SEQUENCE_LSTM (the steps of
 * tflite-micro's float LSTM; the recipe is in kiln/ops/recurrent.h).
 */
#include <stddef.h>

#include "kiln/kernels.h"

/* act(input fully connected + recurrent fully connected), each summed from 0
 * in index order as the reference's fully connected layer. */
static void gate_f32(const kiln_lstm_f32_params_t *p, int k, const float *x, const float *h,
                     float *g, int tanh_act)
{
    const uint32_t ni = p->n_input, nc = p->n_cell;
    kiln_act_f32_params_t ap;
    uint32_t o, i;

    for (o = 0; o < nc; o++) {
        const float *wi = p->w_in[k] + (size_t)o * ni;
        const float *wr = p->w_rec[k] + (size_t)o * nc;
        float a = 0.0f, r = 0.0f;

        for (i = 0; i < ni; i++) {
            a += x[i] * wi[i];
        }
        a = a + (p->bias[k] != NULL ? p->bias[k][o] : 0.0f);
        for (i = 0; i < nc; i++) {
            r += h[i] * wr[i];
        }
        g[o] = a + (r + 0.0f);
    }
    ap.n = nc;
    ap.alpha = 0.0f;
    ap.lo = 0.0f;
    ap.hi = 0.0f;
    if (tanh_act) {
        kiln_tanh_f32(&ap, g, g);
    } else {
        kiln_logistic_f32(&ap, g, g);
    }
}

void kiln_lstm_f32(const kiln_lstm_f32_params_t *p, const float *in, float *hidden,
                   float *cell, float *scratch, float *out)
{
    const uint32_t nb = p->batches, nt = p->steps, ni = p->n_input, nc = p->n_cell;
    float *forget = scratch, *input = scratch + nc, *cgate = scratch + 2u * nc;
    float *tmp = scratch + 3u * nc;
    kiln_act_f32_params_t ap;
    uint32_t b, t, o;

    ap.n = nc;
    ap.alpha = 0.0f;
    ap.lo = 0.0f;
    ap.hi = 0.0f;
    for (o = 0; o < nb * nc; o++) {
        hidden[o] = 0.0f;
        cell[o] = 0.0f;
    }
    for (b = 0; b < nb; b++) {
        float *h = hidden + (size_t)b * nc;
        float *c = cell + (size_t)b * nc;
        for (t = 0; t < nt; t++) {
            const size_t row = p->time_major ? (size_t)t * nb + b : (size_t)b * nt + t;
            const float *x = in + row * ni;

            gate_f32(p, KILN_LSTM_FORGET, x, h, forget, 0);
            gate_f32(p, KILN_LSTM_INPUT, x, h, input, 0);
            gate_f32(p, KILN_LSTM_CELL, x, h, cgate, 1);
            for (o = 0; o < nc; o++) {
                float v = forget[o] * c[o];
                v = v + input[o] * cgate[o];
                if (p->cell_clip > 0.0f) {
                    v = v > p->cell_clip ? p->cell_clip : (v < -p->cell_clip ? -p->cell_clip : v);
                }
                c[o] = v;
            }
            gate_f32(p, KILN_LSTM_OUTPUT, x, h, tmp, 0);
            kiln_tanh_f32(&ap, c, forget);
            for (o = 0; o < nc; o++) {
                h[o] = forget[o] * tmp[o];
                out[row * nc + o] = h[o];
            }
        }
    }
}
