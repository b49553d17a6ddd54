/*
 * Kiln portable kernels: int8 unary operators (kiln/ops/elementwise.h).
 */
#include "kiln/kernels.h"
#include "kiln/quant.h"

/* ABS: |q - zp_in| is at most 255, so it is rescaled (or not, for equal
 * scales) like tflite-micro's quantized ABS and offset to the output. */
void kiln_abs_s8(const kiln_ew_unary_s8_params_t *p, const int8_t *in, int8_t *out)
{
    uint32_t i;

    for (i = 0; i < p->n; i++) {
        int32_t v = (int32_t)in[i] - p->in_zp;
        v = v < 0 ? -v : v;
        if (p->rescale) {
            v = kiln_requantize(v, p->mult, p->shift);
        }
        out[i] = (int8_t)kiln_clamp_s32(v + p->out_zp, -128, 127);
    }
}
