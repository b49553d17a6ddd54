/*
 * Kiln DSP-set kernel: float32 FULLY_CONNECTED on the FPU (kiln/dsp.h).
 * Eight output units per pass over the input row (two groups of four, each
 * group's weights adjacent: [group][in_n][4]): per input element one
 * activation load, eight weight loads and eight VMLA; a last odd group runs
 * alone. The sums are in the reference's order and the bias is added last.
 */
#include "kiln/dsp.h"
#include "kiln_dsp.h"

/* Units u .. u + n - 1 (n <= 4) from their accumulators. */
static inline void store(const kiln_dsp_fc_f32_params_t *p, float *out, uint32_t u, uint32_t n,
                         const float *acc, float lo, float hi)
{
    uint32_t i;

    for (i = 0; i < n; i++) {
        out[u + i] = kiln_clamp_f(acc[i] + p->bias[u + i], lo, hi);
    }
}

void kiln_dsp_fc_f32(const kiln_dsp_fc_f32_params_t *p, const float *in, float *out)
{
    const uint32_t in_n = p->in_n, out_n = p->out_n;
    const float lo = p->act_min, hi = p->act_max;   /* locals: `out` could alias the struct */
    uint32_t b, u, k;

    for (b = 0; b < p->batches; b++, in += in_n, out += out_n) {
        const float *w = p->w;
        for (u = 0; u + 4u < out_n; u += 8u, w += 8u * in_n) {
            const float *v = w + 4u * in_n;   /* the second group's weights */
            float acc[8], a0 = 0.0f, a1 = 0.0f, a2 = 0.0f, a3 = 0.0f;
            float b0 = 0.0f, b1 = 0.0f, b2 = 0.0f, b3 = 0.0f;
            const float *wk = w;
            for (k = 0; k < in_n; k++, wk += 4, v += 4) {
                const float x = in[k];
                a0 = kiln_vmla(a0, x, wk[0]);
                a1 = kiln_vmla(a1, x, wk[1]);
                a2 = kiln_vmla(a2, x, wk[2]);
                a3 = kiln_vmla(a3, x, wk[3]);
                b0 = kiln_vmla(b0, x, v[0]);
                b1 = kiln_vmla(b1, x, v[1]);
                b2 = kiln_vmla(b2, x, v[2]);
                b3 = kiln_vmla(b3, x, v[3]);
            }
            acc[0] = a0, acc[1] = a1, acc[2] = a2, acc[3] = a3;
            acc[4] = b0, acc[5] = b1, acc[6] = b2, acc[7] = b3;
            store(p, out, u, 4u, acc, lo, hi);
            store(p, out, u + 4u, out_n - (u + 4u) < 4u ? out_n - (u + 4u) : 4u, acc + 4, lo, hi);
        }
        if (u < out_n) {   /* one group of 1 to 4 units left */
            float acc[4], a0 = 0.0f, a1 = 0.0f, a2 = 0.0f, a3 = 0.0f;
            for (k = 0; k < in_n; k++, w += 4) {
                const float x = in[k];
                a0 = kiln_vmla(a0, x, w[0]);
                a1 = kiln_vmla(a1, x, w[1]);
                a2 = kiln_vmla(a2, x, w[2]);
                a3 = kiln_vmla(a3, x, w[3]);
            }
            acc[0] = a0, acc[1] = a1, acc[2] = a2, acc[3] = a3;
            store(p, out, u, out_n - u, acc, lo, hi);
        }
    }
}
