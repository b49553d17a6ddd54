/*
 * Kiln portable kernels: SVDF, int8 with an int16 or int8 activation state,
 * and float32 (tflite-micro's reference arithmetic; the recipe is in
 * kiln/ops/recurrent.h).
 */
#include <stddef.h>

#include "kiln/kernels.h"
#include "kiln/quant.h"

/* The integer SVDF for one state type (int16 state and time weights, or int8
 * for both); `reset` is the state's reset value (tflite-micro resets an int8
 * variable to its zero point, an int16 one to 0). */
#define KILN_SVDF_INT(NAME, T, TMIN, TMAX, RESET)                                          \
    void NAME(const kiln_svdf_s8_params_t *p, const int8_t *in, const int8_t *w_feature,     \
              const T *w_time, const int32_t *bias, T *state, int32_t *scratch,              \
              int8_t *out)                                                                    \
    {                                                                                         \
        const uint32_t nb = p->batches, ni = p->n_input, nf = p->n_filter;                  \
        const uint32_t nm = p->n_memory, nu = p->n_unit, rank = p->rank;                    \
        int32_t *t = scratch, *acc = scratch + (size_t)nb * nf;                             \
        uint32_t b, f, i, u;                                                                  \
                                                                                              \
        for (i = 0; i < nb * nf * nm; i++) {                                                  \
            state[i] = (T)(RESET);                                                            \
        }                                                                                     \
        for (b = 0; b < nb; b++) {                                                            \
            const int8_t *x = in + (size_t)b * ni;                                            \
            for (f = 0; f < nf; f++) {                                                        \
                const int8_t *w = w_feature + (size_t)f * ni;                                 \
                int32_t dot = 0;                                                              \
                for (i = 0; i < ni; i++) {                                                    \
                    dot += (int32_t)w[i] * ((int32_t)x[i] - p->in_zp);                        \
                }                                                                             \
                dot = kiln_requantize(dot, p->mult1, p->shift1) + p->state_zp;                \
                state[((size_t)b * nf + f) * nm + nm - 1u] = (T)kiln_clamp_s32(dot, TMIN, TMAX); \
            }                                                                                 \
        }                                                                                     \
        for (b = 0; b < nb; b++) {                                                            \
            for (f = 0; f < nf; f++) {                                                        \
                const T *w = w_time + (size_t)f * nm;                                         \
                const T *s = state + ((size_t)b * nf + f) * nm;                               \
                uint32_t sum = 0; /* the reference's int32 sum, wrapping without UB */        \
                for (i = 0; i < nm; i++) {                                                    \
                    sum += (uint32_t)((int32_t)w[i] * ((int32_t)s[i] - p->state_zp));         \
                }                                                                             \
                t[(size_t)b * nf + f] = (int32_t)sum;                                         \
            }                                                                                 \
        }                                                                                     \
        for (b = 0; b < nb; b++) {                                                            \
            for (u = 0; u < nu; u++) {                                                        \
                uint32_t sum = bias != NULL ? (uint32_t)bias[u] : 0u;                         \
                for (i = 0; i < rank; i++) {                                                  \
                    sum += (uint32_t)t[(size_t)b * nf + (size_t)u * rank + i];                \
                }                                                                             \
                acc[(size_t)b * nu + u] = (int32_t)sum;                                       \
            }                                                                                 \
        }                                                                                     \
        for (i = 0; i < nb * nu; i++) {                                                       \
            const int32_t v = kiln_requantize(acc[i], p->mult2, p->shift2) + p->out_zp;      \
            out[i] = (int8_t)kiln_clamp_s32(v, -128, 127);                                    \
        }                                                                                     \
    }

KILN_SVDF_INT(kiln_svdf_s8, int16_t, -32768, 32767, 0)
KILN_SVDF_INT(kiln_svdf_s8_s8state, int8_t, -128, 127, p->state_zp)

void kiln_svdf_f32(const kiln_svdf_f32_params_t *p, const float *in, const float *w_feature,
                   const float *w_time, const float *bias, float *state, float *scratch,
                   float *out)
{
    const uint32_t nb = p->batches, ni = p->n_input, nf = p->n_filter, nm = p->n_memory;
    const uint32_t nu = p->n_unit, rank = p->rank;
    uint32_t b, f, i, u;

    for (i = 0; i < nb * nf * nm; i++) {
        state[i] = 0.0f;
    }
    for (b = 0; b < nb; b++) {
        const float *x = in + (size_t)b * ni;
        for (f = 0; f < nf; f++) {
            const float *w = w_feature + (size_t)f * ni;
            float dot = 0.0f;
            for (i = 0; i < ni; i++) {
                dot += w[i] * x[i];
            }
            state[((size_t)b * nf + f) * nm + nm - 1u] = dot;
        }
    }
    for (b = 0; b < nb; b++) {
        for (f = 0; f < nf; f++) {
            const float *w = w_time + (size_t)f * nm;
            const float *s = state + ((size_t)b * nf + f) * nm;
            float sum = 0.0f;
            for (i = 0; i < nm; i++) {
                sum += w[i] * s[i];
            }
            scratch[(size_t)b * nf + f] = sum;
        }
    }
    for (b = 0; b < nb; b++) {
        for (u = 0; u < nu; u++) {
            float v = bias != NULL ? bias[u] : 0.0f;
            for (i = 0; i < rank; i++) {
                v += scratch[(size_t)b * nf + (size_t)u * rank + i];
            }
            v = v < p->act_min ? p->act_min : (v > p->act_max ? p->act_max : v);
            out[(size_t)b * nu + u] = v;
        }
    }
}
