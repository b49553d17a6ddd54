/*
 * Kiln portable kernels: int16 MAX_POOL_2D and AVERAGE_POOL_2D (pool_int.inc's
 * loops, the int8 arithmetic on int16 values).
 */
#include "kiln/kernels.h"
#include "kiln/quant.h"

#define KILN_POOL_T int16_t
#define KILN_POOL_MIN (-32768)
#define KILN_POOL_NAME(base) base##_s16
#include "pool_int.inc"
