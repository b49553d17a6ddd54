/*
 * mps2-an505 (QEMU): CMSDK APB UART0, a SysTick timebase and a timer-0
 * instruction counter (common/cmsdk_board.inc). Addresses: docs/boards.md.
 */
#include <stdint.h>

/* CMSDK APB UART0, secure alias (AN505: 0x40200000 non-secure), on the
 * combined UART0 interrupt, IRQ 42; the AN505's APB clock is 25 MHz. */
#define UART0_BASE   0x50200000u
#define UART_IRQ     42u
#define UART_HANDLER UART0_Handler
#define UART_PCLK_HZ 25000000u
/* CMSDK APB timer 0 of the SSE-200, secure alias, clocked by MAINCLK (20 MHz). */
#define TIMER0_BASE  0x50000000u

#include "cmsdk_board.inc"
