/*
 * Kiln portable kernels: float32 ADD and MUL with broadcasting.
 */
#include "kiln/kernels.h"

/* Walks the 4-D output in row-major order; inputs are addressed through
 * their strides (0 on broadcast dimensions). mul selects a * b over a + b;
 * the result is clamped to the fused activation range. */
static void binary_f32(const kiln_binary_f32_params_t *p, const float *a,
                       const float *b, float *out, int mul)
{
    uint32_t i0, i1, i2, i3;
    size_t o = 0;

    for (i0 = 0; i0 < p->out_shape[0]; i0++) {
        for (i1 = 0; i1 < p->out_shape[1]; i1++) {
            for (i2 = 0; i2 < p->out_shape[2]; i2++) {
                const size_t ab = (size_t)i0 * p->a_stride[0] + (size_t)i1 * p->a_stride[1] +
                                  (size_t)i2 * p->a_stride[2];
                const size_t bb = (size_t)i0 * p->b_stride[0] + (size_t)i1 * p->b_stride[1] +
                                  (size_t)i2 * p->b_stride[2];
                for (i3 = 0; i3 < p->out_shape[3]; i3++) {
                    const float x = a[ab + (size_t)i3 * p->a_stride[3]];
                    const float y = b[bb + (size_t)i3 * p->b_stride[3]];
                    float v = mul ? x * y : x + y;
                    v = v < p->act_min ? p->act_min : (v > p->act_max ? p->act_max : v);
                    out[o++] = v;
                }
            }
        }
    }
}

/* ADD: out = a + b. */
void kiln_add_f32(const kiln_binary_f32_params_t *p, const float *a,
                  const float *b, float *out)
{
    binary_f32(p, a, b, out, 0);
}

/* MUL: out = a * b. */
void kiln_mul_f32(const kiln_binary_f32_params_t *p, const float *a,
                  const float *b, float *out)
{
    binary_f32(p, a, b, out, 1);
}
