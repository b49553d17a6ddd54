/*
 * Kiln DSP kernel: DEPTHWISE_CONV_2D whose kernel rows are 5 taps (the 5x5 of
 * MobileNetV3 and EfficientNet-Lite, a 1x5...), stride 1, planar (kiln/dsp.h).
 *
 * Why planar: in NHWC a word holds four channels of one tap, so each MAC is a
 * single-lane multiply with its widening and bookkeeping (dwconv_s8.c, about
 * 4.2 instructions per MAC at 5x5). In a channel's int16 plane two taps of a
 * kernel row are one word, and SMLAD takes both. Outputs x, x + 1 (x even)
 * read the same words W_m = [col x + 2m, col x + 2m + 1] of each plane row:
 *     out x     = SMLAD(W0, [k0, k1]) + SMLAD(W1, [k2, k3]) + SMLAD(W2, [k4, 0])
 *     out x + 1 = SMLAD(W0, [0, k0])  + SMLAD(W1, [k1, k2]) + SMLAD(W2, [k3, k4])
 * and the next pair's W0, W1 are this pair's W1, W2: one load, six SMLAD and
 * the accumulators' load and store for 10 MACs. A band of output rows is
 * summed one kernel row at a time, so that the row's six weight words stay in
 * registers. The weights are doubled and the records are the other depthwise
 * kernels' (kiln/dsp.h); the plane's padding is the input zero point, which
 * the records' bias expects.
 *
 * Measured (scons bench): 24x24 outputs 2.7 instructions per MAC, 12x12 3.0,
 * 6x6 3.7, against 4.2 for the NHWC kernel; below 6x6 outputs, or at stride
 * 2, the NHWC kernel is as fast or faster, and the build keeps it there.
 */
#include "dsp_rq.h"

/* One 5-tap kernel row over nrows output rows of accumulators (out_w + 1
 * apart: an odd row's last pair writes one more), the plane rows pw apart. */
static void taps5(const int16_t *src, const uint32_t *w, int32_t *acc, uint32_t out_w, uint32_t nrows,
                  uint32_t pw)
{
    const uint32_t e0 = w[0], e1 = w[1], e2 = w[2], o0 = w[3], o1 = w[4], o2 = w[5];
    uint32_t x;

    for (; nrows; nrows--, src += pw, acc += out_w + 1u) {
        const int16_t *q = src;
        int32_t *a = acc;
        uint32_t v0 = kiln_load32(q), v1 = kiln_load32(q + 2);
        for (x = 0; x < out_w; x += 2u, q += 2, a += 2) {
            const uint32_t v2 = kiln_load32(q + 4);
            a[0] = kiln_smlad(v2, e2, kiln_smlad(v1, e1, kiln_smlad(v0, e0, a[0])));
            a[1] = kiln_smlad(v2, o2, kiln_smlad(v1, o1, kiln_smlad(v0, o0, a[1])));
            v0 = v1;
            v1 = v2;
        }
    }
}

/* nrows rows of accumulators requantized into the output (outputs `step`
 * bytes apart). Everything the loop reads of p and the record is copied to
 * locals first: the int8 stores may alias them, as far as the compiler knows. */
KILN_SPECIALIZE void store_rows(const kiln_dsp_dw5_params_t *p, const int32_t *acc, const kiln_dsp_rq_t *r,
                                int8_t *o, uint32_t nrows, int exact)
{
    const kiln_dsp_rq_t rec = *r;
    const uint32_t out_w = p->g.out_w, step = p->g.out_c;
    const int clamp = p->clamp;
    const int32_t lo = p->act_min, hi = p->act_max;
    uint32_t x;

    for (; nrows; nrows--, acc += out_w + 1u, o += out_w * step) {
        int8_t *d = o;
        for (x = 0; x < out_w; x++, d += step) {
            int32_t q = kiln_dsp_rq(acc[x], &rec, exact);
            if (clamp) {
                q = kiln_dsp_clamp(q, lo, hi);
            }
            *d = (int8_t)q;
        }
    }
}

/* Channel c's input into the plane's interior (the padding stays as filled). */
static void copy_channel(const kiln_dsp_dw5_params_t *p, const int8_t *in, uint32_t c)
{
    const kiln_geometry_t *g = &p->g;
    const uint32_t pw = p->pw, in_c = g->in_c, in_w = g->in_w, top = (uint32_t)g->pad_top;
    const uint32_t rows = g->in_h + top < p->ph ? g->in_h : p->ph - top;
    const uint32_t cols = in_w + (uint32_t)g->pad_left < pw ? in_w : pw - (uint32_t)g->pad_left;
    int16_t *dst = p->plane + top * pw + (uint32_t)g->pad_left;
    const int8_t *src = in + c;
    uint32_t y, x;

    for (y = 0; y < rows; y++, dst += pw, src += in_w * in_c) {
        const int8_t *s = src;
        for (x = 0; x < cols; x++, s += in_c) {
            dst[x] = *s;
        }
    }
}

/* The whole layer: per channel its plane, then bands of `band` output rows,
 * a kernel row at a time into the band's accumulators. */
KILN_SPECIALIZE void body(const kiln_dsp_dw5_params_t *p, const int8_t *in, int8_t *out, int exact)
{
    const kiln_geometry_t *g = &p->g;
    const uint32_t cells = (uint32_t)p->pw * p->ph, out_w = g->out_w, acc_row = out_w + 1u;
    const uint32_t *w = p->w;
    uint32_t c, y, i, r;

    for (i = 0; i < cells; i++) {
        p->plane[i] = p->pad_value;
    }
    for (c = 0; c < g->in_c; c++) {
        const kiln_dsp_rq_t *rec = &p->rq[c];
        copy_channel(p, in, c);
        for (y = 0; y < g->out_h; y += p->band) {
            const uint32_t nb = g->out_h - y < p->band ? g->out_h - y : p->band;
            const int16_t *rows = p->plane + y * p->pw;
            const int32_t bias = rec->bias;
            for (i = 0; i < nb * acc_row; i++) {
                p->acc[i] = bias;
            }
            for (r = 0; r < g->k_h; r++, rows += p->pw) {
                taps5(rows, w + 6u * r, p->acc, out_w, nb, p->pw);
            }
            store_rows(p, p->acc, rec, out + y * out_w * g->out_c + c, nb, exact);
        }
        w += 6u * g->k_h;
    }
}

void kiln_dsp_dw5_s8(const kiln_dsp_dw5_params_t *p, const int8_t *in, int8_t *out)
{
    if (p->exact) {
        body(p, in, out, 1);
    } else {
        body(p, in, out, 0);
    }
}
