/*
 * Kiln portable kernels: int8 UNIDIRECTIONAL_SEQUENCE_LSTM with int16 gates
 * and cell state (the arithmetic of tflite-micro's integer LSTM; the recipe
 * is in kiln/ops/recurrent.h).
 */
#include <stddef.h>

#include "kiln/kernels.h"
#include "kiln/quant.h"

static int16_t sat16(int32_t v)
{
    return (int16_t)kiln_clamp_s32(v, -32768, 32767);
}

/* Q3.12 -> Q0.15 sigmoid: the input times 3 is in the table's units (its
 * 1/24 step is 3/4 of a Q3.12 input's 1/32, with 9 fractional bits). */
static void sigmoid16(int16_t *v, uint32_t n)
{
    uint32_t i;

    for (i = 0; i < n; i++) {
        v[i] = kiln_sigmoid_q15((int32_t)v[i] * 3);
    }
}

/* tanh on int16, output Q0.15: the input is scaled by (x * mult + round) >>
 * shift to the table's 8 fractional bits. */
static void tanh16(const int16_t *in, int16_t *out, uint32_t n, int32_t mult, int32_t shift)
{
    const int32_t round = shift > 0 ? (int32_t)1 << (shift - 1) : 0;
    uint32_t i;

    for (i = 0; i < n; i++) {
        out[i] = kiln_tanh_q15(((int32_t)in[i] * mult + round) >> shift);
    }
}

/* One gate's pre-activation: the input and the recurrent fully connected
 * layers, each requantized to int16 Q3.12, added with saturation. */
static void gate16(const kiln_lstm_s8_params_t *p, int k, const int8_t *x, const int8_t *h,
                   int16_t *g)
{
    const uint32_t ni = p->n_input, nc = p->n_cell;
    uint32_t o, i;

    for (o = 0; o < nc; o++) {
        const int8_t *wi = p->w_in[k] + (size_t)o * ni;
        const int8_t *wr = p->w_rec[k] + (size_t)o * nc;
        int32_t acc = 0, racc = 0;
        int32_t a, r;

        for (i = 0; i < ni; i++) {
            acc += ((int32_t)x[i] + p->in_offset) * (int32_t)wi[i];
        }
        if (p->bias[k] != NULL) {
            acc += p->bias[k][o];
        }
        a = sat16(kiln_requantize(acc, p->in_mult[k], p->in_shift[k]));
        for (i = 0; i < nc; i++) {
            racc += ((int32_t)h[i] + p->hidden_offset) * (int32_t)wr[i];
        }
        r = sat16(kiln_requantize(racc, p->rec_mult[k], p->rec_shift[k]));
        g[o] = sat16(a + r);
    }
}

void kiln_lstm_s8(const kiln_lstm_s8_params_t *p, const int8_t *in, int8_t *hidden,
                  int16_t *cell, int16_t *scratch, int8_t *out)
{
    const uint32_t nb = p->batches, nt = p->steps, ni = p->n_input, nc = p->n_cell;
    int16_t *forget = scratch, *input = scratch + nc, *cgate = scratch + 2u * nc;
    int16_t *tmp = scratch + 3u * nc;
    uint32_t b, t, o;

    /* Zero state: a real 0 in the hidden state is its zero point. */
    for (o = 0; o < nb * nc; o++) {
        hidden[o] = (int8_t)p->hidden_zp;
        cell[o] = 0;
    }
    for (b = 0; b < nb; b++) {
        int8_t *h = hidden + (size_t)b * nc;
        int16_t *c = cell + (size_t)b * nc;
        for (t = 0; t < nt; t++) {
            const size_t row = p->time_major ? (size_t)t * nb + b : (size_t)b * nt + t;
            const int8_t *x = in + row * ni;

            gate16(p, KILN_LSTM_FORGET, x, h, forget);
            sigmoid16(forget, nc);
            gate16(p, KILN_LSTM_INPUT, x, h, input);
            sigmoid16(input, nc);
            gate16(p, KILN_LSTM_CELL, x, h, cgate);
            tanh16(cgate, cgate, nc, 3, 0);  /* Q3.12 input: 3 << (15 - 12 - 3) */
            for (o = 0; o < nc; o++) {
                int32_t v = sat16(kiln_requantize((int32_t)forget[o] * c[o], p->fc_mult, p->fc_shift));
                const int32_t ic = sat16(kiln_requantize((int32_t)input[o] * cgate[o],
                                                         p->ic_mult, p->ic_shift));
                v = sat16(v + ic);
                if (p->cell_clip > 0) {
                    v = kiln_clamp_s32(v, -p->cell_clip, p->cell_clip);
                }
                c[o] = (int16_t)v;
            }
            gate16(p, KILN_LSTM_OUTPUT, x, h, tmp);  /* h is still the previous step's */
            sigmoid16(tmp, nc);
            tanh16(c, forget, nc, p->tanh_mult, p->tanh_shift);
            for (o = 0; o < nc; o++) {
                const int32_t v = kiln_requantize((int32_t)forget[o] * tmp[o], p->hid_mult, p->hid_shift)
                                  + p->hidden_zp;
                h[o] = (int8_t)kiln_clamp_s32(v, -128, 127);
            }
            for (o = 0; o < nc; o++) {
                out[row * nc + o] = h[o];
            }
        }
    }
}
