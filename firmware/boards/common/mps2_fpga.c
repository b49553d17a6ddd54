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

#define UART0_BASE   0x40004000u
/* These images have no combined UART interrupt: receive alone is IRQ 0. */
#define UART_IRQ     0u
#define UART_HANDLER UART0_RX_Handler
#define UART_PCLK_HZ KILN_BOARD_CLOCK_HZ   /* SYSCLK clocks the UART too */
#define TIMER0_BASE  0x40000000u

#include "cmsdk_board.inc"
