/*
 * Kiln portable kernels: standalone float32 activations (RELU, RELU6,
 * LEAKY_RELU, PRELU, LOGISTIC, TANH, HARD_SWISH, ELU), in the same
 * single-precision expressions as tflite-micro's reference kernels, with
 * Kiln's own exp (no libm).
 */
#include "kiln/kernels.h"

float kiln_expm1f(float x)
{
    if (x > -0.25f && x < 0.25f) {
        /* Taylor series to x^8 / 8!: below 1e-11 relative on this interval,
         * where exp(x) - 1 would lose the leading digits to cancellation. */
        return x * (1.0f + x * (1.0f / 2 + x * (1.0f / 6 + x * (1.0f / 24 + x * (1.0f / 120 +
               x * (1.0f / 720 + x * (1.0f / 5040 + x * (1.0f / 40320))))))));
    }
    return kiln_expf(x) - 1.0f;
}

void kiln_relu_f32(const kiln_act_f32_params_t *p, const float *in, float *out)
{
    uint32_t i;

    for (i = 0; i < p->n; i++) {
        const float x = in[i];
        out[i] = x < p->lo ? p->lo : (x > p->hi ? p->hi : x);
    }
}

void kiln_leaky_relu_f32(const kiln_act_f32_params_t *p, const float *in, float *out)
{
    uint32_t i;

    for (i = 0; i < p->n; i++) {
        const float x = in[i];
        out[i] = x > 0.0f ? x : x * p->alpha;
    }
}

void kiln_prelu_f32(const kiln_act_prelu_params_t *p, const float *in,
                    const float *alpha, float *out)
{
    uint32_t d0, d1, d2, d3;
    size_t o = 0;

    for (d0 = 0; d0 < p->out_shape[0]; d0++) {
        for (d1 = 0; d1 < p->out_shape[1]; d1++) {
            for (d2 = 0; d2 < p->out_shape[2]; d2++) {
                for (d3 = 0; d3 < p->out_shape[3]; d3++) {
                    const size_t ii = (size_t)d0 * p->in_stride[0] + (size_t)d1 * p->in_stride[1] +
                                      (size_t)d2 * p->in_stride[2] + (size_t)d3 * p->in_stride[3];
                    const size_t ai = (size_t)d0 * p->alpha_stride[0] + (size_t)d1 * p->alpha_stride[1] +
                                      (size_t)d2 * p->alpha_stride[2] + (size_t)d3 * p->alpha_stride[3];
                    const float x = in[ii];
                    out[o++] = x >= 0.0f ? x : x * alpha[ai];
                }
            }
        }
    }
}

void kiln_logistic_f32(const kiln_act_f32_params_t *p, const float *in, float *out)
{
    uint32_t i;

    for (i = 0; i < p->n; i++) {
        const float x = in[i];
        /* The reference's cut-offs: above, 1/(1+exp(-x)) rounds to 1; below,
         * exp(x) alone is the closer value. */
        if (x > 16.619047164916992188f) {
            out[i] = 1.0f;
        } else if (x < -9.0f) {
            out[i] = kiln_expf(x);
        } else {
            out[i] = 1.0f / (1.0f + kiln_expf(-x));
        }
    }
}

static float tanh1(float x)
{
    const float ax = x < 0.0f ? -x : x;
    /* tanh|x| = -e / (2 + e) with e = expm1(-2|x|) in (-1, 0]: accurate near 0
     * (no 1 - exp cancellation) and 1 for large |x|. */
    const float e = kiln_expm1f(-2.0f * ax);
    const float t = -e / (2.0f + e);
    return x < 0.0f ? -t : t;
}

void kiln_tanh_f32(const kiln_act_f32_params_t *p, const float *in, float *out)
{
    uint32_t i;

    for (i = 0; i < p->n; i++) {
        out[i] = tanh1(in[i]);
    }
}

void kiln_hard_swish_f32(const kiln_act_f32_params_t *p, const float *in, float *out)
{
    uint32_t i;

    for (i = 0; i < p->n; i++) {
        const float x = in[i];
        const float r = x + 3.0f;
        const float c = r < 0.0f ? 0.0f : (r > 6.0f ? 6.0f : r);
        out[i] = x * c / 6.0f;
    }
}

void kiln_elu_f32(const kiln_act_f32_params_t *p, const float *in, float *out)
{
    uint32_t i;

    for (i = 0; i < p->n; i++) {
        const float x = in[i];
        out[i] = x < 0.0f ? kiln_expm1f(x) : x;
    }
}

/* erfc(x): the fit is for x >= 0, with erfc(-x) = 2 - erfc(x). Its error is
 * relative, so GELU's far negative tail (x/2 times a tiny erfc) keeps its
 * digits, where 1 + erf would cancel to zero. */
static float erfc1(float x)
{
    const float z = x < 0.0f ? -x : x;
    const float t = 1.0f / (1.0f + 0.5f * z);
    const float poly = -1.26551223f + t * (1.00002368f + t * (0.37409196f + t * (0.09678418f +
                       t * (-0.18628806f + t * (0.27886807f + t * (-1.13520398f + t * (1.48851587f +
                       t * (-0.82215223f + t * 0.17087277f))))))));
    const float r = t * kiln_expf(-z * z + poly);
    return x < 0.0f ? 2.0f - r : r;
}

void kiln_gelu_f32(const kiln_act_f32_params_t *p, const float *in, float *out)
{
    uint32_t i;

    for (i = 0; i < p->n; i++) {
        const float x = in[i];
        if (p->approximate) {
            out[i] = 0.5f * x * (1.0f + tanh1(0.7978845608f * (x + 0.044715f * x * x * x)));
        } else {
            out[i] = 0.5f * x * erfc1(-0.70710678f * x);
        }
    }
}
