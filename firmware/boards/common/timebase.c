/*
 * The millisecond timebase every board shares: SysTick at 1 kHz for
 * board_millis(), and the idle wait. What kiln_cost_now() counts is the
 * board's (common/dwt_cost.c for cycles, the CMSDK timer for instructions).
 */
#include "board.h"
#include "cortexm.h"

static volatile uint32_t g_millis;

void SysTick_Handler(void);

void kiln_timebase_start(uint32_t core_hz)
{
    SYST_CSR = 0u;
    SYST_RVR = core_hz / 1000u - 1u;
    SYST_CVR = 0u;
    SCB_SHPR3 = (SCB_SHPR3 & 0x00FFFFFFu) | (0x40u << 24);
    SYST_CSR = SYST_CSR_CLKSOURCE | SYST_CSR_TICKINT | SYST_CSR_ENABLE;
    board_cost_begin();
}

void SysTick_Handler(void)
{
    g_millis++;
}

uint32_t board_millis(void)
{
    return g_millis;
}

void board_idle(const board_ring_t *ring)
{
    kiln_idle_unless(&ring->head, ring->tail);
}
