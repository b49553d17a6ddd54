/*
 * B-L475E-IOT01A: STM32L475VG at 80 MHz from the PLL, USART1 on PB6/PB7 (the
 * ST-LINK V2-1 virtual COM port), DWT cycle counter, SysTick 1 ms timebase.
 *
 * Every register and bit used here is listed in docs/boards.md with its
 * RM0351 section (Rev 9 numbering).
 */
#include <stdint.h>

#include "board.h"
#include "cortexm.h"
#include "stm32_usart.h"
#include "kiln/model.h"

/* RCC (RM0351 section 6.4) */
#define RCC_BASE        0x40021000u
#define RCC_CR          KILN_REG(RCC_BASE + 0x00u)   /* PLLON bit24, PLLRDY bit25 */
#define RCC_CFGR        KILN_REG(RCC_BASE + 0x08u)   /* SW[1:0], SWS[3:2], HPRE[7:4], PPRE1[10:8], PPRE2[13:11] */
#define RCC_PLLCFGR     KILN_REG(RCC_BASE + 0x0Cu)
#define RCC_AHB2ENR     KILN_REG(RCC_BASE + 0x4Cu)   /* GPIOBEN bit1 */
#define RCC_APB1ENR1    KILN_REG(RCC_BASE + 0x58u)   /* PWREN bit28 */
#define RCC_APB2ENR     KILN_REG(RCC_BASE + 0x60u)   /* USART1EN bit14 */
#define RCC_CCIPR       KILN_REG(RCC_BASE + 0x88u)   /* USART1SEL[1:0] */
#define RCC_CR_PLLON    (1u << 24)
#define RCC_CR_PLLRDY   (1u << 25)
#define RCC_CFGR_SW_MASK     3u
#define RCC_CFGR_SW_PLL      3u
#define RCC_CFGR_SWS_MASK    (3u << 2)
#define RCC_CFGR_SWS_PLL     (3u << 2)
#define RCC_CFGR_PRE_MASK    ((0xFu << 4) | (7u << 8) | (7u << 11))  /* HPRE, PPRE1, PPRE2 */
#define RCC_PLLCFGR_SRC_MSI  (1u << 0)        /* PLLSRC = 01 */
#define RCC_PLLCFGR_M(m)     (((m) - 1u) << 4)
#define RCC_PLLCFGR_N(n)     ((n) << 8)
#define RCC_PLLCFGR_REN      (1u << 24)
#define RCC_PLLCFGR_R_DIV2   (0u << 25)       /* PLLR = 00: /2 */

/* PWR (RM0351 section 5.4) */
#define PWR_BASE        0x40007000u
#define PWR_CR1         KILN_REG(PWR_BASE + 0x00u)
#define PWR_SR2         KILN_REG(PWR_BASE + 0x14u)
#define PWR_CR1_VOS_MASK   (3u << 9)
#define PWR_CR1_VOS_RANGE1 (1u << 9)
#define PWR_SR2_VOSF       (1u << 10)

/* FLASH (RM0351 section 3.7.1) */
#define FLASH_ACR       KILN_REG(0x40022000u)
#define FLASH_ACR_LATENCY_MASK 7u
#define FLASH_ACR_PRFTEN (1u << 8)
#define FLASH_ACR_ICEN   (1u << 9)
#define FLASH_ACR_DCEN   (1u << 10)

/* GPIOB (RM0351, GPIO chapter, section "GPIO registers") */
#define GPIOB_BASE      0x48000400u
#define GPIOB_MODER     KILN_REG(GPIOB_BASE + 0x00u)
#define GPIOB_OSPEEDR   KILN_REG(GPIOB_BASE + 0x08u)
#define GPIOB_PUPDR     KILN_REG(GPIOB_BASE + 0x0Cu)
#define GPIOB_AFRL      KILN_REG(GPIOB_BASE + 0x20u)

/* USART1 (RM0351, USART chapter, section "USART registers") */
#define USART1_BASE     0x40013800u
#define USART1_IRQ       37u

#define CORE_HZ KILN_BOARD_CLOCK_HZ


extern const uint32_t __vectors_start[];  /* sections.ld */

static void wait_set(volatile uint32_t *reg, uint32_t mask)
{
    while ((*reg & mask) != mask) {
    }
}

/* MSI 4 MHz (the reset clock) -> PLL (M=1, N=40, R=2: VCO 160 MHz) -> SYSCLK
 * 80 MHz, AHB and both APBs undivided. Range 1 and the wait states come
 * before the faster clock (RM0351 section 5.1, dynamic voltage scaling;
 * section 3.3.3, read access latency). */
static void clock_init(void)
{
    RCC_APB1ENR1 |= (1u << 28);                  /* PWREN */
    (void)RCC_APB1ENR1;                          /* read back: PWR is clocked before it is touched */

    /* Range 1 (1.2 V core) allows 80 MHz. It is the reset value; set it anyway
     * in case a bootloader left range 2, and wait for the regulator. */
    PWR_CR1 = (PWR_CR1 & ~PWR_CR1_VOS_MASK) | PWR_CR1_VOS_RANGE1;
    while (PWR_SR2 & PWR_SR2_VOSF) {
    }

    /* 4 wait states: range 1, 64 < HCLK <= 80 MHz (RM0351 section 3.3.3, the
     * wait states by HCLK table). The ART accelerator's prefetch and caches
     * on. Read back before going faster. */
    FLASH_ACR = (FLASH_ACR & ~FLASH_ACR_LATENCY_MASK) | 4u
              | FLASH_ACR_PRFTEN | FLASH_ACR_ICEN | FLASH_ACR_DCEN;
    while ((FLASH_ACR & FLASH_ACR_LATENCY_MASK) != 4u) {
    }

    /* VCO input 4 MHz (4-16 allowed), VCO 160 MHz (64-344), PLLCLK = VCO / 2. */
    RCC_PLLCFGR = RCC_PLLCFGR_SRC_MSI | RCC_PLLCFGR_M(1u) | RCC_PLLCFGR_N(40u)
                | RCC_PLLCFGR_R_DIV2 | RCC_PLLCFGR_REN;
    RCC_CR |= RCC_CR_PLLON;
    wait_set(&RCC_CR, RCC_CR_PLLRDY);

    RCC_CFGR &= ~RCC_CFGR_PRE_MASK;              /* HCLK = PCLK1 = PCLK2 = SYSCLK (80 MHz max each) */
    RCC_CFGR = (RCC_CFGR & ~RCC_CFGR_SW_MASK) | RCC_CFGR_SW_PLL;
    while ((RCC_CFGR & RCC_CFGR_SWS_MASK) != RCC_CFGR_SWS_PLL) {
    }
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
    RCC_AHB2ENR |= (1u << 1);                    /* GPIOBEN */
    RCC_APB2ENR |= (1u << 14);                   /* USART1EN */
    (void)RCC_APB2ENR;
    RCC_CCIPR &= ~3u;                            /* USART1SEL = 00: PCLK2 (80 MHz) */

    /* PB6 (TX) and PB7 (RX): alternate function 7 (STM32L475xx datasheet
     * DS10969, alternate function table AF0 to AF7), very high speed, RX pulled up so a
     * disconnected line reads idle. */
    GPIOB_MODER = (GPIOB_MODER & ~((3u << 12) | (3u << 14))) | (2u << 12) | (2u << 14);
    GPIOB_OSPEEDR |= (3u << 12) | (3u << 14);
    GPIOB_PUPDR = (GPIOB_PUPDR & ~(3u << 14)) | (1u << 14);
    GPIOB_AFRL = (GPIOB_AFRL & ~((0xFu << 24) | (0xFu << 28))) | (7u << 24) | (7u << 28);

    /* BRR from the USART's kernel clock (87 for 921600: 0.2 % error). */
    stm32_usart1_start(USART1_BASE, CORE_HZ, baud, USART1_IRQ, ring);
}


/* The MSI that feeds the PLL is not locked to anything here (no LSE code on
 * this board yet): its factory trim holds about 0.6 % at room temperature. */
void board_uart_clock(board_uart_clock_t *out)
{
    out->kernel_hz = CORE_HZ;
    out->divisor = stm32_usart_divisor();
    out->clock_ref = "free-running: MSI, not locked to the LSE";
}
