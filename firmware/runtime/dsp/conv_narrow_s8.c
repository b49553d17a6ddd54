/*
 * Kiln DSP kernel: CONV_2D with one or two output channels (kiln/dsp.h):
 * an autoencoder's or a segmentation network's last layer, which writes a
 * grey image or a mask.
 *
 * Why: kiln_dsp_conv_s8 gathers each pixel's receptive field into im2col
 * scratch and widens it, a cost it shares among the output channels; with
 * one channel nothing shares it, and that layer ran at about 6 instructions
 * per MAC. Here each tap's input channels are read where they lie, a word
 * of four at a time, widened (two SXTB16) and multiplied with the tap's
 * pre-widened weights (two SMLAD per output channel). Inside the input, two
 * neighbouring output pixels share each weight load, and a kernel row of
 * undilated taps is one run of words. A tap in the padding reads a row of
 * the zero point (`zrow`), which contributes what the folded bias expects
 * (kiln/dsp.h); of a pixel whose window leaves the input, each kernel row's
 * taps inside are one run and a padding tap adds the zero point times its
 * weight sum (dilated windows go tap by tap).
 */
#include "dsp_rq.h"

/* One output pixel's doubled accumulators (acc[0 .. out_c - 1] start as the
 * records' biases). */
KILN_SPECIALIZE void pixel(const kiln_dsp_conv_narrow_params_t *p, const int8_t *in, int32_t y0, int32_t x0,
                           int32_t *acc, int two)
{
    const uint32_t in_c = p->g.in_c, groups = in_c / 4u, row = (uint32_t)p->g.in_w * in_c;
    const uint32_t *w = p->w;
    int32_t a0 = acc[0], a1 = two ? acc[1] : 0;
    uint32_t ky, kx, g;

    for (ky = 0; ky < p->g.k_h; ky++) {
        const int32_t iy = y0 + (int32_t)(ky * p->g.dil_h);
        const int row_in = iy >= 0 && iy < (int32_t)p->g.in_h;
        for (kx = 0; kx < p->g.k_w; kx++) {
            const int32_t ix = x0 + (int32_t)(kx * p->g.dil_w);
            const int8_t *s = row_in && ix >= 0 && ix < (int32_t)p->g.in_w
                              ? in + (uint32_t)iy * row + (uint32_t)ix * in_c : p->zrow;
            for (g = 0; g < groups; g++, s += 4) {
                const uint32_t v = kiln_load32(s);
                const uint32_t e = kiln_sxtb16(v), o = kiln_sxtb16_ror8(v);
                a0 = kiln_smlad(o, w[1], kiln_smlad(e, w[0], a0));
                if (two) {
                    a1 = kiln_smlad(o, w[3], kiln_smlad(e, w[2], a1));
                    w += 4;
                } else {
                    w += 2;
                }
            }
        }
    }
    acc[0] = a0;
    acc[1] = a1;
}

/* One output pixel by an undilated window that may leave the input: each
 * kernel row inside the input is one run of its taps inside, and a tap in
 * the padding adds the zero point times its doubled weight sum (tapsum)
 * instead of reading a row of it. */
KILN_SPECIALIZE void pixel_dense(const kiln_dsp_conv_narrow_params_t *p, const int8_t *in, int32_t y0,
                                 int32_t x0, int32_t *acc, int two)
{
    const uint32_t in_c = p->g.in_c, groups = in_c / 4u, kw = p->g.k_w, oc = p->g.out_c;
    const uint32_t step = two ? 4u : 2u;
    const int32_t z = p->pad_value, in_w = (int32_t)p->g.in_w;
    const int32_t lo = x0 < 0 ? -x0 : 0;
    const int32_t hi0 = in_w - x0 < (int32_t)kw ? in_w - x0 : (int32_t)kw;
    const uint32_t klo = (uint32_t)lo, khi = hi0 > lo ? (uint32_t)hi0 : klo;
    int32_t a0 = acc[0], a1 = acc[1];
    uint32_t ky, kx;

    for (ky = 0; ky < p->g.k_h; ky++) {
        const int32_t iy = y0 + (int32_t)(ky * p->g.dil_h);
        const int32_t *ts = p->tapsum + ky * kw * oc;
        const int inside = iy >= 0 && iy < (int32_t)p->g.in_h;
        for (kx = 0; kx < kw; kx++) {
            if (!inside || kx < klo || kx >= khi) {
                a0 += z * ts[kx * oc];
                if (two) {
                    a1 += z * ts[kx * oc + 1u];
                }
            }
        }
        if (inside && khi > klo) {
            const int8_t *s = in + ((uint32_t)iy * p->g.in_w + (uint32_t)(x0 + lo)) * in_c;
            const int8_t *end = s + 4u * (khi - klo) * groups;
            const uint32_t *w = p->w + (ky * kw + klo) * groups * step;
            for (; s != end; s += 4, w += step) {
                const uint32_t v = kiln_load32(s);
                const uint32_t e = kiln_sxtb16(v), o = kiln_sxtb16_ror8(v);
                a0 = kiln_smlad(o, w[1], kiln_smlad(e, w[0], a0));
                if (two) {
                    a1 = kiln_smlad(o, w[3], kiln_smlad(e, w[2], a1));
                }
            }
        }
    }
    acc[0] = a0;
    acc[1] = a1;
}

/* Two output pixels whose windows lie inside the input, their first taps at
 * a and a + dx: each kernel row's runs of `words` words (one run of all its
 * taps when undilated, else one per tap, `step` bytes apart). */
KILN_SPECIALIZE void pair_inside(const kiln_dsp_conv_narrow_params_t *p, const int8_t *a, uint32_t dx,
                                 uint32_t runs, uint32_t words, uint32_t step, int32_t *acc, int two)
{
    const uint32_t row = (uint32_t)p->g.dil_h * p->g.in_w * p->g.in_c, kh = p->g.k_h;
    const uint32_t *w = p->w;
    int32_t a0 = acc[0], a1 = acc[1], b0 = acc[2], b1 = acc[3];
    uint32_t ky, r;

    for (ky = 0; ky < kh; ky++, a += row) {
        for (r = 0; r < runs; r++) {
            const int8_t *s = a + r * step;
            const int8_t *end = s + 4u * words;
            for (; s != end; s += 4) {
                const uint32_t u = kiln_load32(s), v = kiln_load32(s + dx);
                const uint32_t ue = kiln_sxtb16(u), uo = kiln_sxtb16_ror8(u);
                const uint32_t ve = kiln_sxtb16(v), vo = kiln_sxtb16_ror8(v);
                a0 = kiln_smlad(uo, w[1], kiln_smlad(ue, w[0], a0));
                b0 = kiln_smlad(vo, w[1], kiln_smlad(ve, w[0], b0));
                if (two) {
                    a1 = kiln_smlad(uo, w[3], kiln_smlad(ue, w[2], a1));
                    b1 = kiln_smlad(vo, w[3], kiln_smlad(ve, w[2], b1));
                    w += 4;
                } else {
                    w += 2;
                }
            }
        }
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = b0;
    acc[3] = b1;
}

/* One pixel's outputs (one or two channels, known at compile time). */
KILN_SPECIALIZE void store(const kiln_dsp_conv_narrow_params_t *p, const int32_t *acc, int8_t *out, int two,
                           int clamp, int exact)
{
    int32_t q = kiln_dsp_rq(acc[0], &p->rq[0], exact);

    out[0] = (int8_t)(clamp ? kiln_dsp_clamp(q, p->act_min, p->act_max) : q);
    if (two) {
        q = kiln_dsp_rq(acc[1], &p->rq[1], exact);
        out[1] = (int8_t)(clamp ? kiln_dsp_clamp(q, p->act_min, p->act_max) : q);
    }
}

KILN_SPECIALIZE void body(const kiln_dsp_conv_narrow_params_t *p, const int8_t *in, int8_t *out, int two,
                          int clamp, int exact)
{
    const uint32_t oc = p->g.out_c, in_c = p->g.in_c, groups = in_c / 4u;
    const uint32_t span_h = (uint32_t)(p->g.k_h - 1u) * p->g.dil_h, span_w = (uint32_t)(p->g.k_w - 1u) * p->g.dil_w;
    const int dense = p->g.dil_w == 1u;
    const uint32_t runs = dense ? 1u : p->g.k_w, words = dense ? p->g.k_w * groups : groups;
    const uint32_t step = (uint32_t)p->g.dil_w * in_c, dx = (uint32_t)p->g.stride_w * in_c;
    uint32_t oy, ox;

    memset(p->zrow, p->pad_value, in_c);
    for (oy = 0; oy < p->g.out_h; oy++) {
        const int32_t y0 = (int32_t)(oy * p->g.stride_h) - p->g.pad_top;
        const int rows_in = y0 >= 0 && (uint32_t)y0 + span_h < p->g.in_h;
        for (ox = 0; ox < p->g.out_w; ox++, out += oc) {
            const int32_t x0 = (int32_t)(ox * p->g.stride_w) - p->g.pad_left;
            int32_t acc[4];
            acc[0] = acc[2] = p->rq[0].bias;
            acc[1] = acc[3] = two ? p->rq[1].bias : 0;
            if (rows_in && ox + 1u < p->g.out_w && x0 >= 0 &&
                (uint32_t)x0 + p->g.stride_w + span_w < p->g.in_w) {
                const int8_t *a = in + ((uint32_t)y0 * p->g.in_w + (uint32_t)x0) * in_c;
                if (dense) {
                    pair_inside(p, a, dx, 1u, words, 0u, acc, two);   /* a kernel row is one run */
                } else {
                    pair_inside(p, a, dx, runs, words, step, acc, two);
                }
                store(p, acc, out, two, clamp, exact);
                store(p, acc + 2, out + oc, two, clamp, exact);
                ox++;
                out += oc;
                continue;
            }
            if (dense) {
                pixel_dense(p, in, y0, x0, acc, two);
            } else {
                pixel(p, in, y0, x0, acc, two);
            }
            store(p, acc, out, two, clamp, exact);
        }
    }
}

static void body_slow(const kiln_dsp_conv_narrow_params_t *p, const int8_t *in, int8_t *out, int two)
{
    body(p, in, out, two, p->clamp, 1);   /* exact records: rare, one copy for both clamps */
}

void kiln_dsp_conv_narrow_s8(const kiln_dsp_conv_narrow_params_t *p, const int8_t *in, int8_t *out)
{
    const int two = p->g.out_c == 2u;

    if (p->exact) {
        body_slow(p, in, out, two);
    } else if (two) {
        if (p->clamp) {
            body(p, in, out, 1, 1, 0);
        } else {
            body(p, in, out, 1, 0, 0);
        }
    } else if (p->clamp) {
        body(p, in, out, 0, 1, 0);
    } else {
        body(p, in, out, 0, 0, 0);
    }
}
