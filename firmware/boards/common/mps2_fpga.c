/*
 * MPS2 FPGA images AN385/AN386/AN500 under QEMU: CMSDK APB UART0, a SysTick
 * timebase and a timer-0 instruction counter. The three images share this
 * peripheral map; only the core differs (board.toml).
 *
 * Addresses: QEMU hw/arm/mps2.c (UART0 at 0x40004000 with its receive
 * interrupt on IRQ 0, CMSDK APB timers at 0x40000000 and 0x40001000, all
 * clocked by the 25 MHz SYSCLK), matching the AN385 application note's APB
 * map. Register offsets and bits: Arm DDI0479, Cortex-M System Design Kit TRM
 * (APB UART, APB timer). Notes: docs/boards.md.
 */
#include <stdint.h>

#include "board.h"
#include "cortexm.h"
#include "kiln/model.h"

/* CMSDK APB UART0 */
#define UART0_BASE      0x40004000u
#define UART_DATA       KILN_REG(UART0_BASE + 0x00u)
#define UART_STATE      KILN_REG(UART0_BASE + 0x04u)
#define UART_CTRL       KILN_REG(UART0_BASE + 0x08u)
#define UART_INTSTATUS  KILN_REG(UART0_BASE + 0x0Cu)  /* write 1 to clear */
#define UART_BAUDDIV    KILN_REG(UART0_BASE + 0x10u)
#define UART_STATE_TXFULL (1u << 0)
#define UART_STATE_RXFULL (1u << 1)
#define UART_CTRL_TXEN    (1u << 0)
#define UART_CTRL_RXEN    (1u << 1)
#define UART_CTRL_RXIE    (1u << 3)
#define UART_INT_RX       (1u << 1)
#define UART_INT_RXOVR    (1u << 3)
/* These images have no combined UART interrupt: receive alone is IRQ 0. */
#define UART0_RX_IRQ      0u

/* CMSDK APB timer 0, clocked by SYSCLK like the UART and the core. */
#define TIMER0_BASE     0x40000000u
#define TIMER0_CTRL     KILN_REG(TIMER0_BASE + 0x00u)
#define TIMER0_VALUE    KILN_REG(TIMER0_BASE + 0x04u)
#define TIMER0_RELOAD   KILN_REG(TIMER0_BASE + 0x08u)
#define TIMER_CTRL_EN   (1u << 0)

/* SysTick reloads every millisecond of the 25 MHz CPU clock: the timebase. */
#define TICKS_PER_MS (KILN_BOARD_CLOCK_HZ / 1000u)
/* -icount shift=0: one instruction per nanosecond, so 40 per 25 MHz tick. */
#define INSNS_PER_TICK (1000000000u / KILN_BOARD_CLOCK_HZ)

static volatile uint32_t g_millis;
static board_ring_t *g_ring;

void SysTick_Handler(void);
void UART0_RX_Handler(void);

void board_init(void)
{
    SYST_CSR = 0u;
    SYST_RVR = TICKS_PER_MS - 1u;
    SYST_CVR = 0u;
    SCB_SHPR3 = (SCB_SHPR3 & 0x00FFFFFFu) | (0x40u << 24);
    SYST_CSR = SYST_CSR_CLKSOURCE | SYST_CSR_TICKINT | SYST_CSR_ENABLE;
    TIMER0_CTRL = 0u;
    TIMER0_RELOAD = 0xFFFFFFFFu;
    TIMER0_VALUE = 0xFFFFFFFFu;
    TIMER0_CTRL = TIMER_CTRL_EN;
    kiln_irq_enable();
}

void SysTick_Handler(void)
{
    g_millis++;
}

uint32_t board_millis(void)
{
    return g_millis;
}

/* Instructions since boot, modulo 2^32, from timer 0 left free running from
 * 0xFFFFFFFF with no interrupt: one register load, and no race between a
 * SysTick reload and its pending flag (the reason mps2_an505 counts this way
 * too). Differences of two readings are exact in uint32 arithmetic while a
 * measurement stays below 2^32 instructions (4.3 s of virtual time). */
uint32_t kiln_cost_now(void)
{
    return (0xFFFFFFFFu - TIMER0_VALUE) * INSNS_PER_TICK;
}

void board_cost_begin(void)
{
    /* The timer runs from board_init() on; nothing to restart. */
}

void board_uart_init(uint32_t baud, board_ring_t *ring)
{
    g_ring = ring;
    uint32_t div = KILN_BOARD_CLOCK_HZ / (baud ? baud : 115200u);
    UART_BAUDDIV = div < 16u ? 16u : div;  /* CMSDK minimum is 16 */
    UART_INTSTATUS = UART_INT_RX | UART_INT_RXOVR;
    UART_CTRL = UART_CTRL_TXEN | UART_CTRL_RXEN | UART_CTRL_RXIE;
    kiln_nvic_enable(UART0_RX_IRQ, 0x20u);
}

void UART0_RX_Handler(void)
{
    /* Clear first, then drain: a byte that lands after the last RXFULL check
     * raises the flag again, where clearing after the drain could lose it
     * with RXFULL still set (and QEMU then delivers no more bytes). */
    UART_INTSTATUS = UART_INT_RX | UART_INT_RXOVR;
    while (UART_STATE & UART_STATE_RXFULL) {
        board_ring_put(g_ring, (uint8_t)UART_DATA);
    }
}

void board_uart_write(const uint8_t *data, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        while (UART_STATE & UART_STATE_TXFULL) {
        }
        UART_DATA = data[i];
    }
}

void board_idle(const board_ring_t *ring)
{
    kiln_idle_unless(&ring->head, ring->tail);
}
