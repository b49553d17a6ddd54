/*
 * STM32F746G-DISCO: STM32F746NG at 216 MHz from the PLL (HSE 25 MHz crystal,
 * over-drive on), L1 instruction and data caches on, USART1 on PA9/PB7 (the
 * ST-LINK V2-1 virtual COM port), DWT cycle counter, SysTick 1 ms timebase.
 *
 * Every register and bit used here is listed in docs/boards.md with its
 * RM0385 section (or, for the core's cache registers, the Armv7-M ARM).
 */
#include <stdint.h>

#include "board.h"
#include "cortexm.h"
#include "stm32_usart.h"
#include "kiln/model.h"

/* RCC (RM0385 section 5.3) */
#define RCC_BASE        0x40023800u
#define RCC_CR          KILN_REG(RCC_BASE + 0x00u)   /* HSEON bit16, HSERDY bit17, PLLON bit24, PLLRDY bit25 */
#define RCC_PLLCFGR     KILN_REG(RCC_BASE + 0x04u)
#define RCC_CFGR        KILN_REG(RCC_BASE + 0x08u)   /* SW[1:0], SWS[3:2], HPRE[7:4], PPRE1[12:10], PPRE2[15:13] */
#define RCC_AHB1ENR     KILN_REG(RCC_BASE + 0x30u)   /* GPIOAEN bit0, GPIOBEN bit1 */
#define RCC_APB1ENR     KILN_REG(RCC_BASE + 0x40u)   /* PWREN bit28 */
#define RCC_APB2ENR     KILN_REG(RCC_BASE + 0x44u)   /* USART1EN bit4 */
#define RCC_DCKCFGR2    KILN_REG(RCC_BASE + 0x90u)   /* USART1SEL[1:0] */
#define RCC_CR_HSEON    (1u << 16)
#define RCC_CR_HSERDY   (1u << 17)
#define RCC_CR_HSEBYP   (1u << 18)
#define RCC_CR_PLLON    (1u << 24)
#define RCC_CR_PLLRDY   (1u << 25)
#define RCC_PLLCFGR_M(m)     (m)                 /* PLLM[5:0]: VCO input = HSE / M */
#define RCC_PLLCFGR_N(n)     ((n) << 6)          /* PLLN[14:6] */
#define RCC_PLLCFGR_P_DIV2   (0u << 16)          /* PLLP[17:16] = 00: /2 */
#define RCC_PLLCFGR_SRC_HSE  (1u << 22)
#define RCC_PLLCFGR_Q(q)     ((q) << 24)         /* PLLQ[27:24] */
#define RCC_CFGR_SW_MASK     3u
#define RCC_CFGR_SW_PLL      2u
#define RCC_CFGR_SWS_MASK    (3u << 2)
#define RCC_CFGR_SWS_PLL     (2u << 2)
#define RCC_CFGR_PRE_MASK    ((0xFu << 4) | (7u << 10) | (7u << 13))
#define RCC_CFGR_PPRE1_DIV4  (5u << 10)          /* APB1 54 MHz (max 54) */
#define RCC_CFGR_PPRE2_DIV2  (4u << 13)          /* APB2 108 MHz (max 108) */

/* PWR (RM0385 section 4.4) */
#define PWR_BASE        0x40007000u
#define PWR_CR1         KILN_REG(PWR_BASE + 0x00u)
#define PWR_CSR1        KILN_REG(PWR_BASE + 0x04u)
#define PWR_CR1_VOS_MASK   (3u << 14)
#define PWR_CR1_VOS_SCALE1 (3u << 14)
#define PWR_CR1_ODEN       (1u << 16)
#define PWR_CR1_ODSWEN     (1u << 17)
#define PWR_CSR1_VOSRDY    (1u << 14)
#define PWR_CSR1_ODRDY     (1u << 16)
#define PWR_CSR1_ODSWRDY   (1u << 17)

/* FLASH (RM0385 section 3.7.1) */
#define FLASH_ACR       KILN_REG(0x40023C00u)
#define FLASH_ACR_LATENCY_MASK 0xFu
#define FLASH_ACR_PRFTEN (1u << 8)
#define FLASH_ACR_ARTEN  (1u << 9)

/* GPIOA, GPIOB (RM0385 section 6.4) */
#define GPIOA_BASE      0x40020000u
#define GPIOB_BASE      0x40020400u
#define GPIO_MODER(b)   KILN_REG((b) + 0x00u)
#define GPIO_OSPEEDR(b) KILN_REG((b) + 0x08u)
#define GPIO_PUPDR(b)   KILN_REG((b) + 0x0Cu)
#define GPIO_AFRL(b)    KILN_REG((b) + 0x20u)
#define GPIO_AFRH(b)    KILN_REG((b) + 0x24u)

/* USART1 (RM0385, USART chapter, section "USART registers") */
#define USART1_BASE     0x40011000u
#define USART1_IRQ       37u
#define USART1_HZ        (KILN_BOARD_CLOCK_HZ / 2u)   /* PCLK2 */

/* Cortex-M7 L1 caches (Armv7-M ARM B4.8 cache maintenance operations,
 * B4.1 CCR/CCSIDR/CSSELR; Cortex-M7 TRM section 4.3 on the DWT lock). */
#define SCB_CCR     KILN_REG(0xE000ED14u)    /* DC bit16, IC bit17 */
#define SCB_CCSIDR  KILN_REG(0xE000ED80u)    /* cache size of the level CSSELR selects */
#define SCB_CSSELR  KILN_REG(0xE000ED84u)    /* 0: level 1 data cache */
#define SCB_ICIALLU KILN_REG(0xE000EF50u)    /* invalidate the whole I-cache */
#define SCB_DCISW   KILN_REG(0xE000EF60u)    /* invalidate a D-cache line by set/way */
#define SCB_DCCMVAC KILN_REG(0xE000EF68u)    /* clean a D-cache line by address, to the point of coherency */
#define DCACHE_LINE 32u                      /* the Cortex-M7's L1 data cache line, bytes */
#define SCB_CCR_DC  (1u << 16)
#define SCB_CCR_IC  (1u << 17)
#define DWT_LAR     KILN_REG(0xE0001FB0u)    /* software lock of the DWT */
#define DWT_LAR_KEY 0xC5ACCE55u

#define CORE_HZ KILN_BOARD_CLOCK_HZ


extern const uint32_t __vectors_start[];  /* sections.ld */

static inline void barriers(void)
{
    __asm volatile ("dsb\n\tisb" ::: "memory");
}

static void wait_set(volatile uint32_t *reg, uint32_t mask)
{
    while ((*reg & mask) != mask) {
    }
}

/* HSE 25 MHz -> PLL (M=25, N=432, P=2: VCO input 1 MHz, VCO 432 MHz) ->
 * SYSCLK 216 MHz, over-drive on. The order is RM0385 section 4.1.4 ("Entering
 * Over-drive mode"): scale 1 while the PLL is off, PLL on, over-drive on and
 * switched, then the wait states, then the switch to the PLL. */
static void clock_init(void)
{
    RCC_APB1ENR |= (1u << 28);                   /* PWREN */
    (void)RCC_APB1ENR;                           /* read back: PWR is clocked before it is touched */
    PWR_CR1 = (PWR_CR1 & ~PWR_CR1_VOS_MASK) | PWR_CR1_VOS_SCALE1;  /* only writable with the PLL off */

    /* The board's 25 MHz crystal X2 (UM1907, "HSE clock source"): not bypassed. */
    RCC_CR = (RCC_CR & ~RCC_CR_HSEBYP) | RCC_CR_HSEON;
    wait_set(&RCC_CR, RCC_CR_HSERDY);

    /* PLLQ = 9: 48 MHz for USB/SDMMC, in range although unused. */
    RCC_PLLCFGR = RCC_PLLCFGR_SRC_HSE | RCC_PLLCFGR_M(25u) | RCC_PLLCFGR_N(432u)
                | RCC_PLLCFGR_P_DIV2 | RCC_PLLCFGR_Q(9u);
    RCC_CR |= RCC_CR_PLLON;
    wait_set(&RCC_CR, RCC_CR_PLLRDY);
    wait_set(&PWR_CSR1, PWR_CSR1_VOSRDY);        /* scale 1 takes effect with the PLL on */

    PWR_CR1 |= PWR_CR1_ODEN;
    wait_set(&PWR_CSR1, PWR_CSR1_ODRDY);
    PWR_CR1 |= PWR_CR1_ODSWEN;
    wait_set(&PWR_CSR1, PWR_CSR1_ODSWRDY);

    /* 7 wait states: 210 < HCLK <= 216 MHz at 2.7-3.6 V (RM0385 section
     * 3.3.2, the table of wait states by HCLK). Read back before going faster. */
    FLASH_ACR = (FLASH_ACR & ~FLASH_ACR_LATENCY_MASK) | 7u | FLASH_ACR_PRFTEN | FLASH_ACR_ARTEN;
    while ((FLASH_ACR & FLASH_ACR_LATENCY_MASK) != 7u) {
    }

    RCC_CFGR = (RCC_CFGR & ~RCC_CFGR_PRE_MASK) | RCC_CFGR_PPRE1_DIV4 | RCC_CFGR_PPRE2_DIV2;
    RCC_CFGR = (RCC_CFGR & ~RCC_CFGR_SW_MASK) | RCC_CFGR_SW_PLL;
    while ((RCC_CFGR & RCC_CFGR_SWS_MASK) != RCC_CFGR_SWS_PLL) {
    }
}

/* The L1 caches come up disabled with undefined contents: invalidate, then
 * enable. Nothing has been cached before this runs (the caches were off), so
 * memory already holds every byte startup wrote.
 *
 * Coherence: the D-cache is write-back, and only DMA or another bus master
 * writing or reading cached RAM behind the CPU's back could see stale data.
 * Kiln has none: the UART ring (in SRAM1, cached) is written by the receive
 * interrupt and read by the main loop, both on this CPU through the same
 * cache; UART data moves through RDR/TDR (device memory, never cached). The
 * arena in DTCM is not cached at all. A future DMA buffer belongs in an
 * MPU-uncached region or needs clean/invalidate by address. */
static void caches_init(void)
{
    barriers();
    SCB_ICIALLU = 0u;
    barriers();
    SCB_CCR |= SCB_CCR_IC;
    barriers();

    SCB_CSSELR = 0u;                             /* level 1, data */
    barriers();
    uint32_t ccsidr = SCB_CCSIDR;
    uint32_t sets = ((ccsidr >> 13) & 0x7FFFu) + 1u;
    uint32_t ways = ((ccsidr >> 3) & 0x3FFu) + 1u;
    uint32_t line_shift = (ccsidr & 7u) + 4u;    /* log2(line bytes) */
    uint32_t way_shift = ways > 1u ? (uint32_t)__builtin_clz(ways - 1u) : 0u;
    for (uint32_t set = 0; set < sets; set++) {
        for (uint32_t way = 0; way < ways; way++) {
            SCB_DCISW = (way << way_shift) | (set << line_shift);
        }
    }
    barriers();
    SCB_CCR |= SCB_CCR_DC;
    barriers();
}

void board_init(void)
{
    SCB_VTOR = (uint32_t)(uintptr_t)__vectors_start;
    clock_init();
    caches_init();
    kiln_timebase_start(CORE_HZ);
    kiln_irq_enable();
}

/* The M7's DWT has a software lock that may ignore writes until it is
 * unlocked: unlock it, then the counter on as every board does. */
void board_cost_begin(void)
{
    DCB_DEMCR |= DCB_DEMCR_TRCENA;   /* powers the DWT, so that the unlock takes */
    DWT_LAR = DWT_LAR_KEY;
    kiln_dwt_cycles_on();
}

void board_uart_init(uint32_t baud, board_ring_t *ring)
{
    RCC_AHB1ENR |= (1u << 0) | (1u << 1);        /* GPIOAEN, GPIOBEN */
    RCC_APB2ENR |= (1u << 4);                    /* USART1EN */
    (void)RCC_APB2ENR;
    RCC_DCKCFGR2 &= ~3u;                         /* USART1SEL = 00: PCLK2 (108 MHz) */

    /* PA9 (TX) and PB7 (RX): alternate function 7 (STM32F746xx datasheet
     * DS10916, alternate function table), very high speed, RX pulled up. */
    GPIO_MODER(GPIOA_BASE) = (GPIO_MODER(GPIOA_BASE) & ~(3u << 18)) | (2u << 18);
    GPIO_OSPEEDR(GPIOA_BASE) |= (3u << 18);
    GPIO_AFRH(GPIOA_BASE) = (GPIO_AFRH(GPIOA_BASE) & ~(0xFu << 4)) | (7u << 4);
    GPIO_MODER(GPIOB_BASE) = (GPIO_MODER(GPIOB_BASE) & ~(3u << 14)) | (2u << 14);
    GPIO_OSPEEDR(GPIOB_BASE) |= (3u << 14);
    GPIO_PUPDR(GPIOB_BASE) = (GPIO_PUPDR(GPIOB_BASE) & ~(3u << 14)) | (1u << 14);
    GPIO_AFRL(GPIOB_BASE) = (GPIO_AFRL(GPIOB_BASE) & ~(0xFu << 28)) | (7u << 28);

    /* BRR from the USART's kernel clock (117 for 921600: 0.2 % error). */
    stm32_usart1_start(USART1_BASE, USART1_HZ, baud, USART1_IRQ, ring);
}


/* PLL from the board's 25 MHz HSE crystal. */
void board_uart_clock(board_uart_clock_t *out)
{
    out->kernel_hz = USART1_HZ;
    out->divisor = stm32_usart_divisor();
    out->clock_ref = "hse";
}

/* The fault record is in SRAM1, behind the write-back D-cache, and a reset
 * drops whatever the cache holds: clean its lines to SRAM first (Armv7-M ARM
 * B2.2.7, cache maintenance by address). */
void board_fault_flush(const volatile void *addr, uint32_t bytes)
{
    const uintptr_t end = (uintptr_t)addr + bytes;
    for (uintptr_t line = (uintptr_t)addr & ~(uintptr_t)(DCACHE_LINE - 1u); line < end; line += DCACHE_LINE) {
        SCB_DCCMVAC = (uint32_t)line;
    }
    __asm volatile ("dsb" ::: "memory");
}
