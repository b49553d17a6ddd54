/*
 * Kiln portable kernels: int8 MAX_POOL_2D and AVERAGE_POOL_2D (reference;
 * the loops are pool_int.inc's, shared with int16).
 */
#include "kiln/kernels.h"
#include "kiln/quant.h"

#define KILN_POOL_T int8_t
#define KILN_POOL_MIN (-128)
#define KILN_POOL_NAME(base) base##_s8
#include "pool_int.inc"
