/*
 * Kiln portable kernels: MEAN, SUM, REDUCE_MAX, REDUCE_MIN over any axes
 * (int8 and float32).
 */
#include "kiln/kernels.h"
#include "kiln/quant.h"

#define KILN_FLT_MAX 3.40282347e+38f

/* Element offsets of the `n`-th position of a right-aligned odometer of
 * KILN_COPY_MAX_RANK digits (shape, stride). Called once per output and
 * once per reduced element: the reductions are small next to the layers
 * around them, so clarity wins over incremental indexing here. */
static int32_t kiln_offset_of(size_t n, const uint32_t *shape, const int32_t *stride)
{
    int32_t off = 0;
    int d;

    for (d = KILN_COPY_MAX_RANK - 1; d >= 0; d--) {
        off += (int32_t)(n % shape[d]) * stride[d];
        n /= shape[d];
    }
    return off;
}

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
    size_t o, r;

    for (o = 0; o < n_out; o++) {
        const int8_t *base = in + kiln_offset_of(o, p->out_shape, p->out_stride);
        int32_t acc = p->kind == 2 ? -128 : (p->kind == 3 ? 127 : 0);
        int32_t v;
        for (r = 0; r < p->count; r++) {
            const int32_t x = base[kiln_offset_of(r, p->red_shape, p->red_stride)];
            if (p->kind == 2) {
                acc = x > acc ? x : acc;
            } else if (p->kind == 3) {
                acc = x < acc ? x : acc;
            } else {
                acc += x;
            }
        }
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
    size_t o, r;

    for (o = 0; o < n_out; o++) {
        const float *base = in + kiln_offset_of(o, p->out_shape, p->out_stride);
        float acc = p->kind == 2 ? -KILN_FLT_MAX : (p->kind == 3 ? KILN_FLT_MAX : 0.0f);
        for (r = 0; r < p->count; r++) {
            const float x = base[kiln_offset_of(r, p->red_shape, p->red_stride)];
            if (p->kind == 2) {
                acc = x > acc ? x : acc;
            } else if (p->kind == 3) {
                acc = x < acc ? x : acc;
            } else {
                acc += x;
            }
        }
        out[o] = p->kind == 0 ? acc / (float)p->count : acc;
    }
}
