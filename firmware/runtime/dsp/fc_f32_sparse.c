/*
 * Kiln DSP-set kernel: float32 FULLY_CONNECTED with 2:4 sparse weights
 * (kiln/dsp.h), as tfmot's 2:4 pruning leaves them: in every group of four
 * inputs each unit has at most two nonzero weights. Only those two are
 * stored, with the byte offsets of their inputs packed in one word, so a
 * group costs one offset word, two activation loads, two weight loads and
 * two VMLA instead of four of each. The unit's sum visits its nonzero
 * products in the reference's order and skips only products with a zero
 * weight, which add exactly 0 to a finite sum: the dense kernel's results.
 */
#include "kiln/dsp.h"
#include "kiln_dsp.h"

void kiln_dsp_fc_f32_sparse(const kiln_dsp_fc_f32_sparse_params_t *p, const float *in, float *out)
{
    const uint32_t groups = (p->in_n + 3u) / 4u;
    const float lo = p->act_min, hi = p->act_max;   /* locals: `out` could alias the struct */
    uint32_t b, u, g;

    for (b = 0; b < p->batches; b++, in += p->in_n, out += p->out_n) {
        const unsigned char *base = (const unsigned char *)in;
        const float *w = p->w;
        const uint32_t *off = p->off;
        for (u = 0; u < p->out_n; u++) {
            float acc = 0.0f;
            for (g = 0; g < groups; g++, w += 2) {
                const uint32_t o = *off++;
                const float x0 = *(const float *)(const void *)(base + (o & 0xFFFFu));
                const float x1 = *(const float *)(const void *)(base + (o >> 16));
                acc = kiln_vmla(acc, x0, w[0]);
                acc = kiln_vmla(acc, x1, w[1]);
            }
            out[u] = kiln_clamp_f(acc + p->bias[u], lo, hi);
        }
    }
}
