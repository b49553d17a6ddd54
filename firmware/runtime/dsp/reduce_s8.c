/*
 * Kiln DSP kernel: int8 REDUCE_MAX and REDUCE_MIN that keep the channels
 * (kiln/dsp.h): GlobalMaxPooling and its kin.
 *
 * Why: the portable kernel walks two odometers per element and compares one
 * byte at a time (about 34 instructions an element). When the output keeps
 * the input's last axis, an output row of c channels is one run of bytes in
 * both tensors: it starts as the first reduced row and takes the maximum (or
 * minimum) with each further row, four bytes per SSUB8 + SEL, the odometer
 * stepping once per row.
 */
#include "dsp_rq.h"

void kiln_dsp_reduce_minmax_s8(const kiln_reduce_params_t *p, const int8_t *in, int8_t *out)
{
    const uint32_t c = p->out_shape[KILN_COPY_MAX_RANK - 1];
    uint32_t oshape[KILN_COPY_MAX_RANK], o_digit[KILN_COPY_MAX_RANK] = {0, 0, 0, 0, 0, 0};
    uint32_t r_digit[KILN_COPY_MAX_RANK] = {0, 0, 0, 0, 0, 0};
    uint32_t rows = 1, d, r, k;
    int32_t o_off = 0;

    /* The outer odometer walks the output's rows: its last digit is the row. */
    for (d = 0; d < KILN_COPY_MAX_RANK; d++) {
        oshape[d] = d == KILN_COPY_MAX_RANK - 1 ? 1u : p->out_shape[d];
        rows *= oshape[d];
    }
    for (; rows; rows--, out += c) {
        const int8_t *base = in + o_off;
        int32_t r_off = 0;

        for (k = 0; k < c; k++) {
            out[k] = base[k];
        }
        for (r = 1; r < p->count; r++) {
            const int8_t *row;
            kiln_odometer_next(r_digit, p->red_shape, p->red_stride, &r_off);
            row = base + r_off;
            if (p->kind == 2) {
                for (k = 0; k + 4u <= c; k += 4u) {
                    kiln_store32(out + k, kiln_max_s8x4(kiln_load32(out + k), kiln_load32(row + k)));
                }
                for (; k < c; k++) {
                    out[k] = row[k] > out[k] ? row[k] : out[k];
                }
            } else {
                for (k = 0; k + 4u <= c; k += 4u) {
                    kiln_store32(out + k, kiln_min_s8x4(kiln_load32(out + k), kiln_load32(row + k)));
                }
                for (; k < c; k++) {
                    out[k] = row[k] < out[k] ? row[k] : out[k];
                }
            }
        }
        kiln_odometer_next(r_digit, p->red_shape, p->red_stride, &r_off);   /* back to zero */
        kiln_odometer_next(o_digit, oshape, p->out_stride, &o_off);
    }
}
