/*
 * Kiln portable kernels: MEAN, SUM, REDUCE_MAX, REDUCE_MIN over any axes
 * (int8 and float32).
 */
#include "kiln/kernels.h"
#include "kiln/quant.h"

#define KILN_FLT_MAX 3.40282347e+38f

static size_t kiln_count_of(const uint32_t *shape)
{
    size_t n = 1;
    int d;

    for (d = 0; d < KILN_COPY_MAX_RANK; d++) {
        n *= shape[d];
    }
    return n;
}

void kiln_reduce_s8(const kiln_reduce_params_t *p, const int8_t *in, int8_t *out)
{
    const size_t n_out = kiln_count_of(p->out_shape);
    uint32_t o_digit[KILN_COPY_MAX_RANK] = {0, 0, 0, 0, 0, 0};
    uint32_t r_digit[KILN_COPY_MAX_RANK] = {0, 0, 0, 0, 0, 0};
    int32_t o_off = 0;
    size_t o, r;

    for (o = 0; o < n_out; o++) {
        const int8_t *base = in + o_off;
        int32_t r_off = 0;
        int32_t acc = p->kind == 2 ? -128 : (p->kind == 3 ? 127 : 0);
        int32_t v;
        for (r = 0; r < p->count; r++) {
            const int32_t x = base[r_off];
            if (p->kind == 2) {
                acc = x > acc ? x : acc;
            } else if (p->kind == 3) {
                acc = x < acc ? x : acc;
            } else {
                acc += x;
            }
            kiln_odometer_next(r_digit, p->red_shape, p->red_stride, &r_off);
        }
        kiln_odometer_next(o_digit, p->out_shape, p->out_stride, &o_off);
        if (p->kind >= 2) {
            v = acc;
        } else {
            v = kiln_requantize(acc + p->in_offset * (int32_t)p->count, p->mult, p->shift) +
                p->out_offset;
        }
        out[o] = (int8_t)kiln_clamp_s32(v, -128, 127);
    }
}

void kiln_reduce_f32(const kiln_reduce_params_t *p, const float *in, float *out)
{
    const size_t n_out = kiln_count_of(p->out_shape);
    uint32_t o_digit[KILN_COPY_MAX_RANK] = {0, 0, 0, 0, 0, 0};
    uint32_t r_digit[KILN_COPY_MAX_RANK] = {0, 0, 0, 0, 0, 0};
    int32_t o_off = 0;
    size_t o, r;

    for (o = 0; o < n_out; o++) {
        const float *base = in + o_off;
        int32_t r_off = 0;
        float acc = p->kind == 2 ? -KILN_FLT_MAX : (p->kind == 3 ? KILN_FLT_MAX : 0.0f);
        for (r = 0; r < p->count; r++) {
            const float x = base[r_off];
            if (p->kind == 2) {
                acc = x > acc ? x : acc;
            } else if (p->kind == 3) {
                acc = x < acc ? x : acc;
            } else {
                acc += x;
            }
            kiln_odometer_next(r_digit, p->red_shape, p->red_stride, &r_off);
        }
        kiln_odometer_next(o_digit, p->out_shape, p->out_stride, &o_off);
        out[o] = p->kind == 0 ? acc / (float)p->count : acc;
    }
}
