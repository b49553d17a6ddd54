/*
 * Kiln DSP kernel: int8 RESIZE_BILINEAR (kiln/dsp.h), the arithmetic of the
 * portable kernel (kiln/ops/spatial.h) without its 64-bit products.
 *
 * Why 32 bits are exact: a position d lies in [-512, 1024), so the weights
 * 1024 - d and d fit 16 bits, and the horizontal sum h = x_lo (1024 - dx) +
 * x_hi dx of int8 inputs stays within 2^18 (within 2^17 inside [0, 1024]).
 * The full sum h_lo (1024 - dy) + h_hi dy then stays below 2^29: the int64 of
 * the reference never needs its upper half. (kiln.kernels_dsp checks the
 * positions at build time.)
 *
 * Four channels a step: each row's two neighbours are two word loads; SXTB16
 * and PKHBT/PKHTB pair channel k's [x_lo, x_hi], and one SMUAD against
 * [1024 - dx, dx] is its horizontal sum. Rounding half away from zero and
 * dividing by 2^20 with C's truncation is (s + 2^19 + (s >> 31)) >> 20:
 * for s < 0, trunc((s - 2^19) / 2^20) = floor((s + 2^19 - 1) / 2^20).
 */
#include "dsp_rq.h"

static inline int8_t finish(int32_t s)
{
    return (int8_t)((s + (1 << 19) + (s >> 31)) >> 20);
}

/* One row's horizontal sums of four channels (the words a and b: the lower
 * and upper neighbour's channels k..k+3) against wx = [1024 - dx, dx]. */
static inline void hsum4(uint32_t a, uint32_t b, uint32_t wx, int32_t *h)
{
    const uint32_t ae = kiln_sxtb16(a), ao = kiln_sxtb16_ror8(a);
    const uint32_t be = kiln_sxtb16(b), bo = kiln_sxtb16_ror8(b);

    h[0] = kiln_smuad(kiln_pkhbt16(ae, be), wx);
    h[1] = kiln_smuad(kiln_pkhbt16(ao, bo), wx);
    h[2] = kiln_smuad(kiln_pkhtb16(ae, be), wx);
    h[3] = kiln_smuad(kiln_pkhtb16(ao, bo), wx);
}

void kiln_dsp_resize_bilinear_s8(const kiln_resize_bilinear_params_t *p, const int8_t *in, int8_t *out)
{
    const uint32_t c = p->c, row = p->in_w * c;
    uint32_t b, y, x, k;

    for (b = 0; b < p->batches; b++, in += p->in_h * row) {
        for (y = 0; y < p->out_h; y++) {
            const int8_t *r0 = in + p->y_lo[y] * row, *r1 = in + p->y_hi[y] * row;
            const int32_t dy = p->y_pos[y], ey = 1024 - dy;
            for (x = 0; x < p->out_w; x++) {
                const uint32_t c0 = p->x_lo[x] * c, c1 = p->x_hi[x] * c;
                const int32_t dx = p->x_pos[x];
                const uint32_t wx = kiln_pack16(1024 - dx, dx);
                for (k = 0; k + 4u <= c; k += 4u) {
                    int32_t h0[4], h1[4];
                    hsum4(kiln_load32(r0 + c0 + k), kiln_load32(r0 + c1 + k), wx, h0);
                    hsum4(kiln_load32(r1 + c0 + k), kiln_load32(r1 + c1 + k), wx, h1);
                    out[0] = finish(h0[0] * ey + h1[0] * dy);
                    out[1] = finish(h0[1] * ey + h1[1] * dy);
                    out[2] = finish(h0[2] * ey + h1[2] * dy);
                    out[3] = finish(h0[3] * ey + h1[3] * dy);
                    out += 4;
                }
                for (; k < c; k++) {
                    const int32_t h0 = r0[c0 + k] * (1024 - dx) + r0[c1 + k] * dx;
                    const int32_t h1 = r1[c0 + k] * (1024 - dx) + r1[c1 + k] * dx;
                    *out++ = finish(h0 * ey + h1 * dy);
                }
            }
        }
    }
}
