/*
 * Kiln DSP kernel: int8 TRANSPOSE that moves the input's last axis
 * (kiln/dsp.h): attention's head splits, a layer norm's axis swaps, NCHW
 * models' layout changes.
 *
 * Why: when the output's last axis is not the input's, the portable strided
 * copy moves one byte per step, about 8 instructions a byte. Here the copy
 * is a stack of 2-D planes: rows q (adjacent in the input: the input's last
 * axis) by columns l (the output's last axis, l_in_stride apart in the
 * input). A 4x4 tile of a plane is four word loads (four rows at one column
 * each), a byte transpose (masks and shifts pair the bytes of two words,
 * PKHBT / PKHTB then their halfwords) and four word stores (one column run
 * per row): about 1.7 instructions a byte. Rows and columns past the last
 * whole tile go one byte at a time.
 */
#include "kiln/dsp.h"
#include "kiln_dsp.h"

/* Four words a, b, c, d (four bytes each) to the four words of their
 * columns: out[u] = [a.u, b.u, c.u, d.u]. */
static inline void transpose4(uint32_t a, uint32_t b, uint32_t c, uint32_t d, uint32_t *o)
{
    const uint32_t t0 = (a & 0x00FF00FFu) | ((b & 0x00FF00FFu) << 8);   /* a0 b0 a2 b2 */
    const uint32_t t1 = ((a >> 8) & 0x00FF00FFu) | (b & 0xFF00FF00u);   /* a1 b1 a3 b3 */
    const uint32_t t2 = (c & 0x00FF00FFu) | ((d & 0x00FF00FFu) << 8);
    const uint32_t t3 = ((c >> 8) & 0x00FF00FFu) | (d & 0xFF00FF00u);

    o[0] = kiln_pkhbt16(t0, t2);
    o[1] = kiln_pkhbt16(t1, t3);
    o[2] = kiln_pkhtb16(t0, t2);
    o[3] = kiln_pkhtb16(t1, t3);
}

/* One plane: out[q * q_out + l] = in[q + l * s] for q < nq, l < nl. */
static void plane(const int8_t *in, int8_t *out, uint32_t nq, uint32_t nl, int32_t s, uint32_t q_out)
{
    const uint32_t q4 = nq & ~3u, l4 = nl & ~3u;
    uint32_t q, l;

    for (q = 0; q < q4; q += 4u) {
        const int8_t *src = in + q;
        int8_t *dst = out + (size_t)q * q_out;
        for (l = 0; l < l4; l += 4u, src += 4 * s, dst += 4) {
            uint32_t w[4];
            transpose4(kiln_load32(src), kiln_load32(src + s), kiln_load32(src + 2 * s),
                       kiln_load32(src + 3 * s), w);
            kiln_store32(dst, w[0]);
            kiln_store32(dst + q_out, w[1]);
            kiln_store32(dst + 2u * q_out, w[2]);
            kiln_store32(dst + 3u * q_out, w[3]);
        }
        for (; l < nl; l++, src += s, dst++) {
            dst[0] = src[0];
            dst[q_out] = src[1];
            dst[2u * q_out] = src[2];
            dst[3u * q_out] = src[3];
        }
    }
    for (; q < nq; q++) {
        const int8_t *src = in + q;
        int8_t *dst = out + (size_t)q * q_out;
        for (l = 0; l < nl; l++) {
            dst[l] = src[(ptrdiff_t)l * s];
        }
    }
}

void kiln_dsp_transpose_s8(const kiln_dsp_transpose_params_t *p, const int8_t *in, int8_t *out)
{
    uint32_t digit[KILN_DSP_TRANSPOSE_OUTER] = {0, 0, 0, 0};
    uint32_t planes = 1, n, d;
    int32_t in_off = p->start;
    size_t out_off = 0;

    for (d = 0; d < KILN_DSP_TRANSPOSE_OUTER; d++) {
        planes *= p->outer_shape[d];
    }
    for (n = 0; n < planes; n++) {
        plane(in + in_off, out + out_off, p->q_n, p->l_n, p->l_in_stride, p->q_out_stride);
        /* the odometer over the other axes, last fastest */
        for (d = KILN_DSP_TRANSPOSE_OUTER; d-- > 0;) {
            in_off += p->outer_in_stride[d];
            out_off += p->outer_out_stride[d];
            if (++digit[d] < p->outer_shape[d]) {
                break;
            }
            in_off -= (int32_t)digit[d] * p->outer_in_stride[d];
            out_off -= (size_t)digit[d] * p->outer_out_stride[d];
            digit[d] = 0;
        }
    }
}
