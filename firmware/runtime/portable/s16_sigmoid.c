/*
 * Kiln portable kernels: int16 LOGISTIC and TANH (input zero point 0,
 * output scale 1/32768 and zero point 0), TFLite's table arithmetic:
 * the input is brought to units of 1/(3 * 4096), and sigmoid is
 * interpolated linearly in a table of 256 samples; tanh(x) = 2 sigmoid(2x) - 1
 * reads the same table at twice the resolution. Recipes: kiln/ops/int16.h.
 */
#include "kiln/kernels.h"
#include "kiln/quant.h"

/* v = (q * multiplier + round) >> left_shift, the input in 1/(3 * 4096) units. */
static int32_t scaled_input(const kiln_act_sigmoid_s16_params_t *p, int16_t q)
{
    int32_t mult = p->input_multiplier;
    int32_t shift = p->input_left_shift;
    int32_t round;

    if (mult == 0) { /* power-of-two input scale */
        mult = 3 << shift;
        shift = 0;
    }
    round = shift > 0 ? (1 << (shift - 1)) : 0;
    return ((int32_t)q * mult + round) >> shift;
}

void kiln_logistic_s16(const kiln_act_sigmoid_s16_params_t *p, const int16_t *in, int16_t *out)
{
    uint32_t i;

    for (i = 0; i < p->n; i++) {
        out[i] = kiln_sigmoid_q15(scaled_input(p, in[i]));
    }
}

void kiln_tanh_s16(const kiln_act_sigmoid_s16_params_t *p, const int16_t *in, int16_t *out)
{
    uint32_t i;

    for (i = 0; i < p->n; i++) {
        out[i] = kiln_tanh_q15(scaled_input(p, in[i]));
    }
}
