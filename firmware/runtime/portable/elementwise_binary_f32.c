/*
 * Kiln portable kernels: float32 SUB, SQUARED_DIFFERENCE, MAXIMUM, MINIMUM,
 * DIV with broadcasting (kiln/ops/elementwise.h).
 */
#include "kiln/kernels.h"

enum { F_SUB, F_SQDIFF, F_MAX, F_MIN, F_DIV };

static float apply(int op, float x, float y)
{
    float d;

    switch (op) {
    case F_SUB:
        return x - y;
    case F_SQDIFF:
        d = x - y;
        return d * d;
    case F_MAX:
        return x > y ? x : y;
    case F_MIN:
        return x < y ? x : y;
    default:
        return x / y;
    }
}

static void walk(const kiln_ew_binary_f32_params_t *p, const float *a, const float *b,
                 float *out, int op)
{
    const size_t rows = kiln_ew_rows(&p->bc);
    const uint32_t inner = p->bc.shape[KILN_EW_RANK - 1];
    const uint32_t sa = p->bc.stride[0][KILN_EW_RANK - 1];
    const uint32_t sb = p->bc.stride[1][KILN_EW_RANK - 1];
    kiln_ew_iter_t it;
    size_t r, o = 0;
    uint32_t i;

    kiln_ew_iter_init(&it);
    for (r = 0; r < rows; r++) {
        const float *ra = a + it.off[0];
        const float *rb = b + it.off[1];
        for (i = 0; i < inner; i++) {
            float v = apply(op, ra[(size_t)i * sa], rb[(size_t)i * sb]);
            v = v < p->act_min ? p->act_min : (v > p->act_max ? p->act_max : v);
            out[o++] = v;
        }
        kiln_ew_iter_next(&p->bc, &it);
    }
}

void kiln_sub_f32(const kiln_ew_binary_f32_params_t *p, const float *a, const float *b, float *out)
{
    walk(p, a, b, out, F_SUB);
}

void kiln_squared_difference_f32(const kiln_ew_binary_f32_params_t *p, const float *a,
                                 const float *b, float *out)
{
    walk(p, a, b, out, F_SQDIFF);
}

void kiln_maximum_f32(const kiln_ew_binary_f32_params_t *p, const float *a, const float *b,
                      float *out)
{
    walk(p, a, b, out, F_MAX);
}

void kiln_minimum_f32(const kiln_ew_binary_f32_params_t *p, const float *a, const float *b,
                      float *out)
{
    walk(p, a, b, out, F_MIN);
}

void kiln_div_f32(const kiln_ew_binary_f32_params_t *p, const float *a, const float *b, float *out)
{
    walk(p, a, b, out, F_DIV);
}
