/*
 * Kiln portable kernels: int8 unary operators (kiln/ops/elementwise.h).
 */
#include "kiln/kernels.h"
#include "kiln/quant.h"

#define KILN_UNARY_T int8_t
#define KILN_UNARY_MIN (-128)
#define KILN_UNARY_MAX 127
#define KILN_UNARY_NAME(base) base##_s8
#include "unary_int.inc"

