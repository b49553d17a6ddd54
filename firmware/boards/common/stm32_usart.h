/*
 * The USART of the STM32L4, STM32F7 and STM32U5 families, as the boards use
 * it for the ST-LINK virtual COM port: one register map on all three
 * (CR1 0x00, BRR 0x0C, ISR 0x1C, ICR 0x20, RDR 0x24, TDR 0x28; RM0351,
 * RM0385 and RM0456, "USART registers"), 16x oversampling, a receive
 * interrupt feeding the board's ring and polled transmission.
 */
#ifndef KILN_STM32_USART_H
#define KILN_STM32_USART_H

#include <stdint.h>

#include "board.h"

/* Starts the USART at `base` (its clock and pins already set up by the
 * board) at `baud` from its kernel clock `kernel_hz`, its receive interrupt
 * (NVIC line `irq`, USART1_IRQHandler) feeding `ring`. */
void stm32_usart1_start(uint32_t base, uint32_t kernel_hz, uint32_t baud, uint32_t irq,
                        board_ring_t *ring);

/* BRR as the USART holds it (0 before stm32_usart1_start()): with 16x
 * oversampling the baud rate is the kernel clock divided by it. */
uint32_t stm32_usart_divisor(void);

#endif /* KILN_STM32_USART_H */
