/*
 * The STM32 boards' UART: USART1 as stm32_usart.h describes it, for the
 * board_uart_* functions of board.h.
 */
#include "stm32_usart.h"

#include "cortexm.h"

#define USART_CR1(b) KILN_REG((b) + 0x00u)
#define USART_BRR(b) KILN_REG((b) + 0x0Cu)
#define USART_ISR(b) KILN_REG((b) + 0x1Cu)
#define USART_ICR(b) KILN_REG((b) + 0x20u)
#define USART_RDR(b) KILN_REG((b) + 0x24u)
#define USART_TDR(b) KILN_REG((b) + 0x28u)
#define USART_CR1_UE     (1u << 0)
#define USART_CR1_RE     (1u << 2)
#define USART_CR1_TE     (1u << 3)
#define USART_CR1_RXNEIE (1u << 5)
#define USART_ISR_ORE    (1u << 3)
#define USART_ISR_RXNE   (1u << 5)   /* RXFNE on the U5: same bit */
#define USART_ISR_TXE    (1u << 7)   /* TXFNF on the U5: same bit */
#define USART_ICR_ERRORS 0xFu        /* PECF, FECF, NECF, ORECF */

static uint32_t g_base;
static board_ring_t *g_ring;

void USART1_IRQHandler(void);

void stm32_usart1_start(uint32_t base, uint32_t kernel_hz, uint32_t baud, uint32_t irq,
                        board_ring_t *ring)
{
    g_base = base;
    g_ring = ring;
    USART_CR1(base) = 0u;
    USART_BRR(base) = (kernel_hz + baud / 2u) / baud;   /* 16x oversampling, rounded */
    USART_CR1(base) = USART_CR1_TE | USART_CR1_RE | USART_CR1_RXNEIE | USART_CR1_UE;
    kiln_nvic_enable(irq, 0x20u);
}

void USART1_IRQHandler(void)
{
    const uint32_t isr = USART_ISR(g_base);

    if (isr & USART_ISR_RXNE) {
        board_ring_put(g_ring, (uint8_t)USART_RDR(g_base));  /* reading RDR clears RXNE */
    }
    if (isr & USART_ISR_ORE) {
        /* An overrun would leave the interrupt asserted forever: clear it;
         * the lost byte shows up as a BAD_CRC or TIMEOUT answer. */
        USART_ICR(g_base) = USART_ICR_ERRORS;
    }
}

uint32_t stm32_usart_divisor(void)
{
    return g_base ? USART_BRR(g_base) & 0xFFFFu : 0u;
}

void board_uart_write(const uint8_t *data, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        while (!(USART_ISR(g_base) & USART_ISR_TXE)) {
        }
        USART_TDR(g_base) = data[i];
    }
}
