/*
 * Kiln portable kernels: comparisons producing bool (one byte, 0 or 1),
 * logical operators and SELECT_V2, with broadcasting (kiln/ops/elementwise.h).
 */
#include "kiln/kernels.h"
#include "kiln/quant.h"

static uint8_t cmp_s32(uint8_t op, int32_t x, int32_t y)
{
    switch (op) {
    case KILN_CMP_EQ: return x == y;
    case KILN_CMP_NE: return x != y;
    case KILN_CMP_LT: return x < y;
    case KILN_CMP_LE: return x <= y;
    case KILN_CMP_GT: return x > y;
    default: return x >= y;
    }
}

static uint8_t cmp_f32(uint8_t op, float x, float y)
{
    switch (op) {
    case KILN_CMP_EQ: return x == y;
    case KILN_CMP_NE: return x != y;
    case KILN_CMP_LT: return x < y;
    case KILN_CMP_LE: return x <= y;
    case KILN_CMP_GT: return x > y;
    default: return x >= y;
    }
}

/* The three comparison kernels share this walk over the broadcast output;
 * VALUE_A/VALUE_B turn the elements read (xa, xb) into the values compared
 * (int8: rescaled). */
#define COMPARE_WALK(T, VALUE_A, VALUE_B, CMP)                                 \
    do {                                                                       \
        const size_t rows = kiln_ew_rows(&p->bc);                              \
        const uint32_t inner = p->bc.shape[KILN_EW_RANK - 1];                  \
        const uint32_t sa = p->bc.stride[0][KILN_EW_RANK - 1];                 \
        const uint32_t sb = p->bc.stride[1][KILN_EW_RANK - 1];                 \
        kiln_ew_iter_t it;                                                     \
        size_t r, o = 0;                                                       \
        uint32_t i;                                                            \
        kiln_ew_iter_init(&it);                                                \
        for (r = 0; r < rows; r++) {                                           \
            const T *ra = a + it.off[0];                                       \
            const T *rb = b + it.off[1];                                       \
            for (i = 0; i < inner; i++) {                                      \
                const T xa = ra[(size_t)i * sa];                               \
                const T xb = rb[(size_t)i * sb];                               \
                out[o++] = CMP(p->op, VALUE_A, VALUE_B);                       \
            }                                                                  \
            kiln_ew_iter_next(&p->bc, &it);                                    \
        }                                                                      \
    } while (0)

/* int8: both sides offset, shifted left by 8 and scaled by their own scale
 * (as tflite-micro's quantized comparisons), then compared as int32. */
static int32_t rescale(int32_t q, int32_t offset, int32_t left_shift, int32_t mult, int32_t shift)
{
    return kiln_requantize((int32_t)((uint32_t)(q + offset) << left_shift), mult, shift);
}

void kiln_compare_s8(const kiln_compare_params_t *p, const int8_t *a, const int8_t *b, uint8_t *out)
{
    COMPARE_WALK(int8_t, rescale(xa, p->a_offset, p->left_shift, p->a_mult, p->a_shift),
                 rescale(xb, p->b_offset, p->left_shift, p->b_mult, p->b_shift), cmp_s32);
}

void kiln_compare_f32(const kiln_compare_params_t *p, const float *a, const float *b, uint8_t *out)
{
    COMPARE_WALK(float, xa, xb, cmp_f32);
}

void kiln_compare_s32(const kiln_compare_params_t *p, const int32_t *a, const int32_t *b,
                      uint8_t *out)
{
    COMPARE_WALK(int32_t, xa, xb, cmp_s32);
}

static void logical_walk(const kiln_logical_params_t *p, const uint8_t *a, const uint8_t *b,
                         uint8_t *out, int is_or)
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
        const uint8_t *ra = a + it.off[0];
        const uint8_t *rb = b + it.off[1];
        for (i = 0; i < inner; i++) {
            const int x = ra[(size_t)i * sa] != 0, y = rb[(size_t)i * sb] != 0;
            out[o++] = (uint8_t)(is_or ? (x || y) : (x && y));
        }
        kiln_ew_iter_next(&p->bc, &it);
    }
}

void kiln_logical_and(const kiln_logical_params_t *p, const uint8_t *a, const uint8_t *b,
                      uint8_t *out)
{
    logical_walk(p, a, b, out, 0);
}

void kiln_logical_or(const kiln_logical_params_t *p, const uint8_t *a, const uint8_t *b,
                     uint8_t *out)
{
    logical_walk(p, a, b, out, 1);
}

void kiln_logical_not(const kiln_logical_params_t *p, const uint8_t *in, uint8_t *out)
{
    uint32_t i;

    for (i = 0; i < p->n; i++) {
        out[i] = (uint8_t)(in[i] == 0);
    }
}

/* SELECT_V2: bytes are copied one by one (no memcpy: freestanding). */
void kiln_select_v2(const kiln_select_params_t *p, const uint8_t *cond, const void *x,
                    const void *y, void *out)
{
    const uint8_t *bx = (const uint8_t *)x;
    const uint8_t *by = (const uint8_t *)y;
    uint8_t *bo = (uint8_t *)out;
    const size_t rows = kiln_ew_rows(&p->bc);
    const uint32_t inner = p->bc.shape[KILN_EW_RANK - 1];
    const size_t eb = p->elem_bytes;
    kiln_ew_iter_t it;
    size_t r, o = 0;
    uint32_t i, k;

    kiln_ew_iter_init(&it);
    for (r = 0; r < rows; r++) {
        for (i = 0; i < inner; i++) {
            const size_t c = it.off[0] + (size_t)i * p->bc.stride[0][KILN_EW_RANK - 1];
            const uint8_t *src = cond[c]
                ? bx + (it.off[1] + (size_t)i * p->bc.stride[1][KILN_EW_RANK - 1]) * eb
                : by + (it.off[2] + (size_t)i * p->bc.stride[2][KILN_EW_RANK - 1]) * eb;
            for (k = 0; k < eb; k++) {
                bo[o++] = src[k];
            }
        }
        kiln_ew_iter_next(&p->bc, &it);
    }
}
