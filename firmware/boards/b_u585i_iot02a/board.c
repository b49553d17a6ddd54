/*
 * B-U585I-IOT02A: STM32U585 at 160 MHz from PLL1, USART1 on PA9/PA10 (the
 * ST-LINK virtual COM port), DWT cycle counter, SysTick 1 ms timebase.
 *
 * TrustZone is disabled on a fresh board (TZEN = 0), so every peripheral is
 * reached through its non-secure address. Every register and bit used here
 * is listed in docs/boards.md with its RM0456 section.
 */
#include <stdint.h>

#include "board.h"
#include "cortexm.h"
#include "stm32_usart.h"
#include "kiln/model.h"

/* RCC (RM0456 section 11.8), non-secure base */
#define RCC_BASE        0x46020C00u
#define RCC_CR          KILN_REG(RCC_BASE + 0x000u)  /* PLL1ON bit24, PLL1RDY bit25 */
#define RCC_CFGR1       KILN_REG(RCC_BASE + 0x01Cu)  /* SW[1:0], SWS[3:2] */
#define RCC_CFGR2       KILN_REG(RCC_BASE + 0x020u)  /* HPRE[3:0], PPRE1[6:4], PPRE2[10:8] */
#define RCC_PLL1CFGR    KILN_REG(RCC_BASE + 0x028u)
#define RCC_PLL1DIVR    KILN_REG(RCC_BASE + 0x034u)
#define RCC_AHB2ENR1    KILN_REG(RCC_BASE + 0x08Cu)  /* GPIOAEN bit0 */
#define RCC_AHB3ENR     KILN_REG(RCC_BASE + 0x094u)  /* PWREN bit2 */
#define RCC_APB2ENR     KILN_REG(RCC_BASE + 0x0A4u)  /* USART1EN bit14 */
#define RCC_CCIPR1      KILN_REG(RCC_BASE + 0x0E0u)  /* USART1SEL[1:0] */
#define RCC_CR_PLL1ON   (1u << 24)
#define RCC_CR_PLL1RDY  (1u << 25)
#define RCC_CFGR1_SW_PLL1   3u
#define RCC_CFGR1_SWS_MASK  (3u << 2)
#define RCC_CFGR1_SWS_PLL1  (3u << 2)
#define RCC_CFGR2_HPRE_MASK 0xFu
#define RCC_CFGR2_HPRE_DIV2 0x8u
#define RCC_PLL1CFGR_SRC_MSIS (1u << 0)   /* PLL1SRC = 01 */
#define RCC_PLL1CFGR_RGE_4_8  (0u << 2)   /* PLL1RGE = 00: 4 to 8 MHz input */
#define RCC_PLL1CFGR_M(m)     (((m) - 1u) << 8)
#define RCC_PLL1CFGR_MBOOST_1 (0u << 12)  /* EPOD boost clock = PLL1 input / 1 = 4 MHz */
#define RCC_PLL1CFGR_REN      (1u << 18)
#define RCC_PLL1DIVR_N(n)     ((n) - 1u)
#define RCC_PLL1DIVR_P(p)     (((p) - 1u) << 9)
#define RCC_PLL1DIVR_Q(q)     (((q) - 1u) << 16)
#define RCC_PLL1DIVR_R(r)     (((r) - 1u) << 24)

/* PWR (RM0456 section 10.10) */
#define PWR_BASE        0x46020800u
#define PWR_VOSR        KILN_REG(PWR_BASE + 0x00Cu)
#define PWR_VOSR_BOOSTRDY (1u << 14)
#define PWR_VOSR_VOSRDY   (1u << 15)
#define PWR_VOSR_VOS_MASK (3u << 16)
#define PWR_VOSR_VOS_RANGE1 (3u << 16)
#define PWR_VOSR_BOOSTEN  (1u << 18)

/* FLASH (RM0456 section 7.9) */
#define FLASH_ACR       KILN_REG(0x40022000u)
#define FLASH_ACR_LATENCY_MASK 0xFu
#define FLASH_ACR_PRFTEN (1u << 8)

/* ICACHE (RM0456 section 8.7) */
#define ICACHE_CR       KILN_REG(0x40030400u)
#define ICACHE_CR_EN    (1u << 0)

/* GPIOA (RM0456 section 13.4) */
#define GPIOA_BASE      0x42020000u
#define GPIOA_MODER     KILN_REG(GPIOA_BASE + 0x00u)
#define GPIOA_OSPEEDR   KILN_REG(GPIOA_BASE + 0x08u)
#define GPIOA_PUPDR     KILN_REG(GPIOA_BASE + 0x0Cu)
#define GPIOA_AFRH      KILN_REG(GPIOA_BASE + 0x24u)

/* USART1 (RM0456 section 68.8) */
#define USART1_BASE     0x40013800u
#define USART1_IRQ       61u

#define CORE_HZ KILN_BOARD_CLOCK_HZ


extern const uint32_t __vectors_start[];  /* sections.ld */

static void wait_set(volatile uint32_t *reg, uint32_t mask)
{
    while ((*reg & mask) != mask) {
    }
}

/* MSIS 4 MHz -> PLL1 (M=1, N=80, R=2) -> SYSCLK 160 MHz, in the order RM0456
 * asks: voltage range 1 and the EPOD booster before leaving 55 MHz behind,
 * flash wait states before the faster clock. */
static void clock_init(void)
{
    RCC_AHB3ENR |= (1u << 2);                    /* PWREN */
    (void)RCC_AHB3ENR;                           /* read back: the clock is on before PWR is touched */

    /* PLL1 source first: the EPOD booster takes its clock from it. */
    RCC_PLL1CFGR = RCC_PLL1CFGR_SRC_MSIS | RCC_PLL1CFGR_RGE_4_8 | RCC_PLL1CFGR_M(1u)
                 | RCC_PLL1CFGR_MBOOST_1 | RCC_PLL1CFGR_REN;

    PWR_VOSR = (PWR_VOSR & ~PWR_VOSR_VOS_MASK) | PWR_VOSR_VOS_RANGE1;
    wait_set(&PWR_VOSR, PWR_VOSR_VOSRDY);
    PWR_VOSR |= PWR_VOSR_BOOSTEN;
    wait_set(&PWR_VOSR, PWR_VOSR_BOOSTRDY);

    /* 4 wait states: range 1 up to 160 MHz. Read back before going faster. */
    FLASH_ACR = (FLASH_ACR & ~FLASH_ACR_LATENCY_MASK) | 4u | FLASH_ACR_PRFTEN;
    while ((FLASH_ACR & FLASH_ACR_LATENCY_MASK) != 4u) {
    }

    RCC_PLL1DIVR = RCC_PLL1DIVR_N(80u) | RCC_PLL1DIVR_P(2u) | RCC_PLL1DIVR_Q(2u) | RCC_PLL1DIVR_R(2u);
    RCC_CR |= RCC_CR_PLL1ON;
    wait_set(&RCC_CR, RCC_CR_PLL1RDY);

    /* Step through HCLK = SYSCLK/2 so the current drawn does not jump from
     * 4 to 160 MHz at once; then run at full speed. */
    RCC_CFGR2 = (RCC_CFGR2 & ~RCC_CFGR2_HPRE_MASK) | RCC_CFGR2_HPRE_DIV2;
    RCC_CFGR1 = (RCC_CFGR1 & ~3u) | RCC_CFGR1_SW_PLL1;
    while ((RCC_CFGR1 & RCC_CFGR1_SWS_MASK) != RCC_CFGR1_SWS_PLL1) {
    }
    for (volatile uint32_t i = 0; i < 100u; i++) {
        /* at least 1 us at 80 MHz */
    }
    RCC_CFGR2 &= ~RCC_CFGR2_HPRE_MASK;

    ICACHE_CR |= ICACHE_CR_EN;
}

void board_init(void)
{
    SCB_VTOR = (uint32_t)(uintptr_t)__vectors_start;
    clock_init();
    kiln_timebase_start(CORE_HZ);
    kiln_irq_enable();
}

void board_cost_begin(void)
{
    kiln_dwt_cycles_on();
}

void board_uart_init(uint32_t baud, board_ring_t *ring)
{
    RCC_AHB2ENR1 |= (1u << 0);                   /* GPIOAEN */
    RCC_APB2ENR |= (1u << 14);                   /* USART1EN */
    (void)RCC_APB2ENR;
    RCC_CCIPR1 &= ~3u;                           /* USART1SEL = 00: PCLK2 (160 MHz) */

    /* PA9 (TX) and PA10 (RX): alternate function 7, high speed, RX pulled up. */
    GPIOA_MODER = (GPIOA_MODER & ~((3u << 18) | (3u << 20))) | (2u << 18) | (2u << 20);
    GPIOA_OSPEEDR |= (3u << 18) | (3u << 20);
    GPIOA_PUPDR = (GPIOA_PUPDR & ~(3u << 20)) | (1u << 20);
    GPIOA_AFRH = (GPIOA_AFRH & ~((0xFu << 4) | (0xFu << 8))) | (7u << 4) | (7u << 8);

    /* BRR from the USART's kernel clock, PCLK2. */
    stm32_usart1_start(USART1_BASE, CORE_HZ, baud, USART1_IRQ, ring);
}

