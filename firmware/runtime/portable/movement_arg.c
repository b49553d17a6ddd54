/*
 * Kiln portable kernels: ARG_MAX and ARG_MIN (int8 and float32 in, int32 out).
 */
#include "kiln/kernels.h"

/* One body for the four kernels: BETTER(a, b) is the strict comparison
 * (a new value replaces the best only when strictly better, so ties keep
 * the first position, as tflite-micro does). */
#define KILN_ARG_BODY(BETTER)                                               \
    do {                                                                    \
        uint32_t o, i, k;                                                   \
        for (o = 0; o < p->outer; o++) {                                    \
            for (i = 0; i < p->inner; i++) {                                \
                const size_t base = (size_t)o * p->axis_n * p->inner + i;   \
                int32_t best_k = 0;                                         \
                for (k = 1; k < p->axis_n; k++) {                           \
                    if (BETTER(in[base + (size_t)k * p->inner],             \
                               in[base + (size_t)best_k * p->inner])) {     \
                        best_k = (int32_t)k;                                \
                    }                                                       \
                }                                                           \
                out[(size_t)o * p->inner + i] = best_k;                     \
            }                                                               \
        }                                                                   \
    } while (0)

#define KILN_GT(a, b) ((a) > (b))
#define KILN_LT(a, b) ((a) < (b))

void kiln_argmax_s8(const kiln_arg_params_t *p, const int8_t *in, int32_t *out)
{
    KILN_ARG_BODY(KILN_GT);
}

void kiln_argmin_s8(const kiln_arg_params_t *p, const int8_t *in, int32_t *out)
{
    KILN_ARG_BODY(KILN_LT);
}

void kiln_argmax_f32(const kiln_arg_params_t *p, const float *in, int32_t *out)
{
    KILN_ARG_BODY(KILN_GT);
}

void kiln_argmin_f32(const kiln_arg_params_t *p, const float *in, int32_t *out)
{
    KILN_ARG_BODY(KILN_LT);
}
