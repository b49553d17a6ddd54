/*
 * Kiln portable kernels: BATCH_MATMUL, int8 and float32 (reference
 * arithmetic, batch dimensions broadcast through zero strides), also
 * FULLY_CONNECTED with runtime weights.
 */
#include <stddef.h>

#include "kiln/kernels.h"
#include "kiln/quant.h"

void kiln_batch_matmul_s8(const kiln_batch_matmul_params_t *p, const int8_t *lhs,
                          const int8_t *rhs, int8_t *out)
{
    uint32_t b0, b1, i, j, k;

    for (b0 = 0; b0 < p->batch[0]; b0++) {
        for (b1 = 0; b1 < p->batch[1]; b1++) {
            const int8_t *l = lhs + (size_t)b0 * p->lhs_bstride[0] + (size_t)b1 * p->lhs_bstride[1];
            const int8_t *r = rhs + (size_t)b0 * p->rhs_bstride[0] + (size_t)b1 * p->rhs_bstride[1];
            for (i = 0; i < p->rows; i++) {
                for (j = 0; j < p->cols; j++) {
                    int32_t acc = 0;
                    for (k = 0; k < p->depth; k++) {
                        const int32_t a = (int32_t)l[(size_t)i * p->l_row + (size_t)k * p->l_k]
                                          + p->lhs_offset;
                        const int32_t c = (int32_t)r[(size_t)k * p->r_k + (size_t)j * p->r_col]
                                          + p->rhs_offset;
                        acc += a * c;
                    }
                    acc = kiln_requantize(acc, p->mult, p->shift) + p->out_offset;
                    *out++ = (int8_t)kiln_clamp_s32(acc, p->act_min, p->act_max);
                }
            }
        }
    }
}

void kiln_batch_matmul_f32(const kiln_batch_matmul_params_t *p, const float *lhs,
                           const float *rhs, float *out)
{
    uint32_t b0, b1, i, j, k;

    for (b0 = 0; b0 < p->batch[0]; b0++) {
        for (b1 = 0; b1 < p->batch[1]; b1++) {
            const float *l = lhs + (size_t)b0 * p->lhs_bstride[0] + (size_t)b1 * p->lhs_bstride[1];
            const float *r = rhs + (size_t)b0 * p->rhs_bstride[0] + (size_t)b1 * p->rhs_bstride[1];
            for (i = 0; i < p->rows; i++) {
                for (j = 0; j < p->cols; j++) {
                    float acc = 0.0f;
                    for (k = 0; k < p->depth; k++) {
                        acc += l[(size_t)i * p->l_row + (size_t)k * p->l_k]
                               * r[(size_t)k * p->r_k + (size_t)j * p->r_col];
                    }
                    if (p->has_act) {
                        acc = acc < p->fact_min ? p->fact_min : acc;
                        acc = acc > p->fact_max ? p->fact_max : acc;
                    }
                    *out++ = acc;
                }
            }
        }
    }
}
