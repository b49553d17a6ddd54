/*
 * Kiln DSP kernels: int8 REDUCE_MAX and REDUCE_MIN that keep the channels
 * (kiln/dsp.h): GlobalMaxPooling and its kin; MEAN and SUM that keep the
 * channels (GlobalAveragePooling1D) or take the trailing axes (a layer
 * norm's mean over the features).
 *
 * Why: the portable kernel walks two odometers per element and compares one
 * byte at a time (about 34 instructions an element). When the output keeps
 * the input's last axis, an output row of c channels is one run of bytes in
 * both tensors: it starts as the first reduced row and takes the maximum (or
 * minimum) with each further row, four bytes per SSUB8 + SEL, the odometer
 * stepping once per row.
 *
 * MEAN and SUM take tflite-micro's general path (the sum, then one
 * requantization with 1/count folded into the multiplier), which the
 * portable kernel also walks one byte and two odometer steps at a time. Here
 * a kept last axis is summed four channels per word into 16-bit lanes
 * (SXTAB16), a trailing reduction four bytes per word (SXTB16 + SMLAD).
 */
#include "dsp_rq.h"
#include "kiln/quant.h"

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

/* The requantized output of a MEAN or SUM, as the portable kernel finishes it. */
static inline int8_t finish_sum(const kiln_reduce_params_t *p, int32_t acc)
{
    const int32_t v = kiln_requantize(acc + p->in_offset * (int32_t)p->count, p->mult, p->shift);

    return (int8_t)kiln_clamp_s32(v + p->out_offset, -128, 127);
}

/* Up to SUM_CHUNK channels of one output row: every reduced row's bytes added
 * four at a time into 16-bit lanes (two SXTAB16; at most 256 rows, so no lane
 * can overflow), then each channel's two lanes' worth finished. */
#define SUM_CHUNK 32u
static void sum_columns(const kiln_reduce_params_t *p, const int8_t *base, uint32_t c, int8_t *out)
{
    uint32_t even[SUM_CHUNK / 4u], odd[SUM_CHUNK / 4u], r_digit[KILN_COPY_MAX_RANK] = {0, 0, 0, 0, 0, 0};
    const uint32_t groups = c / 4u;
    int32_t r_off = 0;
    uint32_t r, g, k;

    for (g = 0; g < groups; g++) {
        even[g] = 0;
        odd[g] = 0;
    }
    for (r = 0; r < p->count; r++) {
        const int8_t *row = base + r_off;
        for (g = 0; g < groups; g++) {
            const uint32_t v = kiln_load32(row + 4u * g);
            even[g] = kiln_sxtab16(even[g], v);
            odd[g] = kiln_sxtab16_ror8(odd[g], v);
        }
        kiln_odometer_next(r_digit, p->red_shape, p->red_stride, &r_off);
    }
    for (g = 0; g < groups; g++) {
        out[4u * g] = finish_sum(p, (int16_t)(even[g] & 0xFFFFu));
        out[4u * g + 1u] = finish_sum(p, (int16_t)(odd[g] & 0xFFFFu));
        out[4u * g + 2u] = finish_sum(p, (int16_t)(even[g] >> 16));
        out[4u * g + 3u] = finish_sum(p, (int16_t)(odd[g] >> 16));
    }
    for (k = 4u * groups; k < c; k++) {   /* the last 1 to 3 channels */
        int32_t acc = 0;
        r_off = 0;
        for (r = 0; r < p->count; r++) {
            acc += base[r_off + (int32_t)k];
            kiln_odometer_next(r_digit, p->red_shape, p->red_stride, &r_off);
        }
        out[k] = finish_sum(p, acc);
    }
}

void kiln_dsp_reduce_sum_s8(const kiln_reduce_params_t *p, const int8_t *in, int8_t *out)
{
    const uint32_t last = KILN_COPY_MAX_RANK - 1u;
    uint32_t o_digit[KILN_COPY_MAX_RANK] = {0, 0, 0, 0, 0, 0};
    int32_t o_off = 0;
    uint32_t d, rows = 1;

    if (p->out_stride[last] == 1u) {
        /* the output keeps the last axis: rows of channels, summed column-wise */
        const uint32_t c = p->out_shape[last];
        uint32_t oshape[KILN_COPY_MAX_RANK], k;
        for (d = 0; d < KILN_COPY_MAX_RANK; d++) {
            oshape[d] = d == last ? 1u : p->out_shape[d];
            rows *= oshape[d];
        }
        for (; rows; rows--, out += c) {
            for (k = 0; k < c; k += SUM_CHUNK) {
                sum_columns(p, in + o_off + (int32_t)k, c - k < SUM_CHUNK ? c - k : SUM_CHUNK, out + k);
            }
            kiln_odometer_next(o_digit, oshape, p->out_stride, &o_off);
        }
        return;
    }
    /* the reduction takes the trailing axes: each output sums `count` bytes in a row */
    for (d = 0; d < KILN_COPY_MAX_RANK; d++) {
        rows *= p->out_shape[d];
    }
    for (; rows; rows--) {
        const int8_t *x = in + o_off;
        const int8_t *end = x + (p->count & ~3u);
        int32_t acc = 0;
        uint32_t k;
        for (; x != end; x += 4) {
            const uint32_t v = kiln_load32(x);
            acc = kiln_smlad(kiln_sxtb16(v), 0x00010001u, acc);
            acc = kiln_smlad(kiln_sxtb16_ror8(v), 0x00010001u, acc);
        }
        for (k = 0; k < (p->count & 3u); k++) {
            acc += x[k];
        }
        *out++ = finish_sum(p, acc);
        kiln_odometer_next(o_digit, p->out_shape, p->out_stride, &o_off);
    }
}
