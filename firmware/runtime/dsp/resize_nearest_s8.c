/*
 * Kiln DSP kernel: int8 RESIZE_NEAREST_NEIGHBOR (kiln/dsp.h): UpSampling2D
 * in U-Nets, autoencoders and detection heads.
 *
 * Why: the portable kernel calls memcpy once per output pixel (about 4
 * instructions a byte for 8 channels). Here an output row whose source row
 * is the previous output row's (every second row at a factor of 2) is a copy
 * of that row, a word at a time; any other row takes each pixel's channels
 * as words (unaligned LDR/STR), or bytes when the channels are not a
 * multiple of 4.
 */
#include "kiln/dsp.h"
#include "kiln_dsp.h"

void kiln_dsp_resize_nearest_s8(const kiln_resize_nearest_params_t *p, const int8_t *in, int8_t *out)
{
    const uint32_t c = p->c, row_out = p->out_w * c;
    uint32_t b, y, x;

    for (b = 0; b < p->batches; b++) {
        const int8_t *image = in + (size_t)b * p->in_h * p->in_w * c;
        for (y = 0; y < p->out_h; y++, out += row_out) {
            const int8_t *row = image + (size_t)p->ys[y] * p->in_w * c;
            int8_t *dst = out;
            if (y > 0 && p->ys[y] == p->ys[y - 1u]) {
                kiln_dsp_copy(row_out, out - row_out, out);   /* four words a step */
                continue;
            }
            if (c == 4u) {
                for (x = 0; x < p->out_w; x++, dst += 4) {
                    kiln_store32(dst, kiln_load32(row + 4u * p->xs[x]));
                }
            } else if (c % 4u == 0) {
                for (x = 0; x < p->out_w; x++) {
                    const int8_t *s = row + (size_t)p->xs[x] * c, *end = s + c;
                    for (; s != end; s += 4, dst += 4) {
                        kiln_store32(dst, kiln_load32(s));
                    }
                }
            } else {
                for (x = 0; x < p->out_w; x++) {
                    const int8_t *s = row + (size_t)p->xs[x] * c;
                    uint32_t k;
                    for (k = 0; k < c; k++) {
                        *dst++ = s[k];
                    }
                }
            }
        }
    }
}
