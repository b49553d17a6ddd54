/*
 * Kiln DSP kernel: int8 MEAN over the spatial axes, the global
 * average pooling of converted Keras models (kiln/dsp.h).
 *
 * Four channels per loaded word: SXTAB16 and SXTAB16 ROR #8 add them into
 * two 16-bit lanes each, three instructions per pixel for four channels
 * (the portable kernel: a byte load, an add and the index arithmetic per
 * element). A lane holds at most 255 values of |q| <= 128, so it is flushed
 * into 32-bit sums every 255 pixels. The division or requantization of the
 * sums is the portable kernel's.
 */
#include "dsp_rq.h"
#include "kiln/quant.h"

#define LANE_PIXELS 255u

static int8_t finish(const kiln_mean_s8_params_t *p, int32_t sum)
{
    int32_t v;

    if (p->same_qparams) {
        v = sum / (int32_t)p->count;
    } else {
        v = kiln_requantize(sum + p->in_offset * (int32_t)p->count, p->mult, p->shift) + p->out_offset;
    }
    return (int8_t)kiln_clamp_s32(v, -128, 127);
}

void kiln_dsp_mean_s8(const kiln_mean_s8_params_t *p, const int8_t *in, int8_t *out)
{
    const uint32_t n = (uint32_t)p->h * p->w, c = p->c;
    uint32_t ch = 0, i;

    for (; ch + 4u <= c; ch += 4u) {
        const int8_t *x = in + ch;
        int32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        uint32_t left = n;
        while (left) {
            uint32_t k = left < LANE_PIXELS ? left : LANE_PIXELS;
            uint32_t even = 0, odd = 0;   /* lanes [ch, ch+2] and [ch+1, ch+3] */
            left -= k;
            for (; k; k--, x += c) {
                const uint32_t v = kiln_load32(x);
                even = kiln_sxtab16(even, v);
                odd = kiln_sxtab16_ror8(odd, v);
            }
            s0 += kiln_lo16(even);
            s2 += kiln_hi16(even);
            s1 += kiln_lo16(odd);
            s3 += kiln_hi16(odd);
        }
        out[ch] = finish(p, s0);
        out[ch + 1] = finish(p, s1);
        out[ch + 2] = finish(p, s2);
        out[ch + 3] = finish(p, s3);
    }
    for (; ch < c; ch++) {
        int32_t sum = 0;
        for (i = 0; i < n; i++) {
            sum += in[i * c + ch];
        }
        out[ch] = finish(p, sum);
    }
}
