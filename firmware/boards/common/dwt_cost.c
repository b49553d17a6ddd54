/*
 * kiln_cost_now() for boards that count cycles: the DWT cycle counter, which
 * each board's board_cost_begin() (re)starts (Armv7-M ARM C1.8, Armv8-M ARM
 * D1.2).
 */
#include "cortexm.h"
#include "kiln/model.h"

uint32_t kiln_cost_now(void)
{
    return DWT_CYCCNT;
}
