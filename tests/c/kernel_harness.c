/*
 * ctypes exports of the runtime's arithmetic helpers for tests/test_kernels.py
 * (kiln/quant.h is header-only and static inline, so the tests need these
 * to call it). The kernels themselves are tested through the generator's own
 * parameter structs (see Generated in tests/test_kernels.py), not from here.
 */
#include "kiln/kernels.h"
#include "kiln/quant.h"

int32_t kh_requantize(int32_t x, int32_t mult, int32_t shift);
int32_t kh_exp_on_negative_q5(int32_t a);
int32_t kh_one_over_one_plus_x_q0(int32_t a);
float kh_expf(float x);

int32_t kh_requantize(int32_t x, int32_t mult, int32_t shift)
{
    return kiln_requantize(x, mult, shift);
}

int32_t kh_exp_on_negative_q5(int32_t a)
{
    return kiln_exp_on_negative_q5(a);
}

int32_t kh_one_over_one_plus_x_q0(int32_t a)
{
    return kiln_one_over_one_plus_x_q0(a);
}

float kh_expf(float x)
{
    return kiln_expf(x);
}
