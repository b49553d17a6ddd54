/*
 * Kiln runtime: the C API's helpers for a model's edges (kiln/model.h):
 * quantize a caller's real values into an input tensor, dequantize an
 * output, and the profiling clock's default.
 */
#include <string.h>

#include "kiln/model.h"
#include "kiln/quant.h"

/* The quantized integer range of a stored dtype; 0 for one without it. */
static int range_of(kiln_dtype_t dtype, int32_t *lo, int32_t *hi)
{
    switch (dtype) {
    case KILN_DTYPE_INT8:
        *lo = -128, *hi = 127;
        return 1;
    case KILN_DTYPE_UINT8:
        *lo = 0, *hi = 255;
        return 1;
    case KILN_DTYPE_INT16:
        *lo = -32768, *hi = 32767;
        return 1;
    default:
        return 0;
    }
}

int kiln_quantize(const kiln_tensor_desc_t *t, const float *x, void *q, uint32_t n)
{
    int32_t lo, hi;
    uint32_t i;

    if (t->dtype == KILN_DTYPE_FLOAT32) {
        memcpy(q, x, n * sizeof(float));
        return 0;
    }
    if (!range_of(t->dtype, &lo, &hi) || !(t->scale > 0.0f)) {
        return -1;
    }
    for (i = 0; i < n; i++) {
        /* Divided in single precision, as TFLite's QUANTIZE does: a
         * multiplication by 1/scale rounds differently near the halves. */
        const int32_t v = kiln_clamp_s32(kiln_quantize_round_f(x[i] / t->scale) + t->zero_point, lo, hi);
        if (t->dtype == KILN_DTYPE_INT8) {
            ((int8_t *)q)[i] = (int8_t)v;
        } else if (t->dtype == KILN_DTYPE_UINT8) {
            ((uint8_t *)q)[i] = (uint8_t)v;
        } else {
            ((int16_t *)q)[i] = (int16_t)v;
        }
    }
    return 0;
}

int kiln_dequantize(const kiln_tensor_desc_t *t, const void *q, float *x, uint32_t n)
{
    int32_t lo, hi;
    uint32_t i;

    if (t->dtype == KILN_DTYPE_FLOAT32) {
        memcpy(x, q, n * sizeof(float));
        return 0;
    }
    if (!range_of(t->dtype, &lo, &hi)) {
        return -1;
    }
    for (i = 0; i < n; i++) {
        const int32_t v = t->dtype == KILN_DTYPE_INT8    ? ((const int8_t *)q)[i]
                          : t->dtype == KILN_DTYPE_UINT8 ? ((const uint8_t *)q)[i]
                                                         : ((const int16_t *)q)[i];
        x[i] = t->scale * (float)(v - t->zero_point);
    }
    return 0;
}

/* Weak: a platform with a counter (Kiln's boards, the host check) defines
 * its own, and an exported library's caller need not define one at all. */
__attribute__((weak)) uint32_t kiln_cost_now(void)
{
    return 0u;
}
