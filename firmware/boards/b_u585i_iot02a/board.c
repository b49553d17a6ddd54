/*
 * B-U585I-IOT02A: STM32U585 at 160 MHz from PLL1, fed by MSIS locked to the
 * 32.768 kHz LSE crystal when it starts; USART1 on PA9/PA10 (the ST-LINK
 * virtual COM port), DWT cycle counter, SysTick 1 ms timebase.
 *
 * The image assumes TrustZone is disabled (option byte TZEN = 0; `scons
 * flash` checks it), so every peripheral is reached through its non-secure
 * address. Every register and bit used here is listed in docs/boards.md with
 * its RM0456 section.
 */
#include <stdint.h>

#include "board.h"
#include "cortexm.h"
#include "stm32_usart.h"
#include "kiln/model.h"

/* RCC (RM0456 section 11.8), non-secure base */
#define RCC_BASE        0x46020C00u
#define RCC_CR          KILN_REG(RCC_BASE + 0x000u)  /* MSISRDY 2, MSIPLLEN 3, MSIPLLSEL 6, PLL1ON 24, PLL1RDY 25 */
#define RCC_ICSCR1      KILN_REG(RCC_BASE + 0x008u)  /* MSIRGSEL bit23, MSISRANGE[31:28] */
#define RCC_CFGR1       KILN_REG(RCC_BASE + 0x01Cu)  /* SW[1:0], SWS[3:2] */
#define RCC_CFGR2       KILN_REG(RCC_BASE + 0x020u)  /* HPRE[3:0], PPRE1[6:4], PPRE2[10:8] */
#define RCC_PLL1CFGR    KILN_REG(RCC_BASE + 0x028u)
#define RCC_PLL1DIVR    KILN_REG(RCC_BASE + 0x034u)
#define RCC_AHB2ENR1    KILN_REG(RCC_BASE + 0x08Cu)  /* GPIOAEN bit0 */
#define RCC_AHB3ENR     KILN_REG(RCC_BASE + 0x094u)  /* PWREN bit2 */
#define RCC_APB2ENR     KILN_REG(RCC_BASE + 0x0A4u)  /* USART1EN bit14 */
#define RCC_CCIPR1      KILN_REG(RCC_BASE + 0x0E0u)  /* USART1SEL[1:0] */
#define RCC_BDCR        KILN_REG(RCC_BASE + 0x0F0u)  /* LSEON 0, LSERDY 1, LSESYSEN 7, LSESYSRDY 11 */
#define RCC_CSR         KILN_REG(RCC_BASE + 0x0F4u)  /* MSISSRANGE[15:12] */
#define RCC_CR_MSISRDY   (1u << 2)
#define RCC_CR_MSIPLLEN  (1u << 3)
#define RCC_CR_MSIPLLSEL (1u << 6)   /* 1: the PLL mode trims MSIS (0: MSIK) */
#define RCC_ICSCR1_MSIRGSEL (1u << 23)
#define RCC_BDCR_LSEON     (1u << 0)
#define RCC_BDCR_LSERDY    (1u << 1)
#define RCC_BDCR_LSESYSEN  (1u << 7)
#define RCC_BDCR_LSESYSRDY (1u << 11)
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
#define PWR_DBPR        KILN_REG(PWR_BASE + 0x028u)
#define PWR_DBPR_DBP    (1u << 0)    /* write access to the backup domain (RCC_BDCR) */
#define PWR_SVMSR       KILN_REG(PWR_BASE + 0x03Cu)
#define PWR_SVMSR_ACTVOSRDY (1u << 15)

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

/* MSIS runs at 4 MHz out of reset; the bounded waits below count DWT cycles
 * at that rate, before SysTick exists. */
#define MSIS_RESET_HZ 4000000u
/* How long the LSE crystal may take to start before MSIS is left free-running.
 * A 32 kHz crystal can take the better part of a second or more to start
 * (DS13086, LSE oscillator characteristics: tSU(LSE)), hence a bound this
 * long; the backup domain (LSE included) survives the reset pin and software
 * resets, so only the first boot after power-up waits. */
#define LSE_WAIT_MS 2500  /* plain number: INFO quotes it */
#define KILN_STR_(x) #x
#define KILN_STR(x) KILN_STR_(x)
#define LSESYS_WAIT_MS 10u           /* LSESYSRDY follows LSE in two LSE cycles (61 us) */

extern const uint32_t __vectors_start[];  /* sections.ld */

/* What MSIS (and so every clock) is referenced to, for INFO. */
static const char *g_clock_ref = "free-running: clock not set up";

static void wait_set(volatile uint32_t *reg, uint32_t mask)
{
    while ((*reg & mask) != mask) {
    }
}

/* Waits until all of `mask` is set in `*reg`, at most `ms` milliseconds of
 * the 4 MHz reset clock; returns nonzero when it was. */
static int wait_set_ms(volatile uint32_t *reg, uint32_t mask, uint32_t ms)
{
    const uint32_t start = DWT_CYCCNT;
    while ((*reg & mask) != mask) {
        if (DWT_CYCCNT - start > ms * (MSIS_RESET_HZ / 1000u)) {
            return (*reg & mask) == mask;
        }
    }
    return 1;
}

/* Starts the LSE crystal and locks MSIS to it (MSI PLL mode), so the clocks
 * derived from MSIS keep the crystal's accuracy instead of MSI's +/-0.6 %
 * (AN5676). Falls back to a free-running MSIS, saying why in g_clock_ref. */
static void msis_lock_to_lse(void)
{
    PWR_DBPR |= PWR_DBPR_DBP;                    /* RCC_BDCR is write-protected until this */
    wait_set(&PWR_DBPR, PWR_DBPR_DBP);
    kiln_dwt_cycles_on();                        /* the clock for the bounded waits */
    if (!(RCC_BDCR & RCC_BDCR_LSERDY)) {
        RCC_BDCR |= RCC_BDCR_LSEON;
        if (!wait_set_ms(&RCC_BDCR, RCC_BDCR_LSERDY, LSE_WAIT_MS)) {
            g_clock_ref = "free-running: LSE not ready after " KILN_STR(LSE_WAIT_MS) " ms";
            return;
        }
    }
    /* LSESYS is the LSE as the system (MSI PLL mode included) sees it. */
    RCC_BDCR |= RCC_BDCR_LSESYSEN;
    if (!wait_set_ms(&RCC_BDCR, RCC_BDCR_LSESYSRDY, LSESYS_WAIT_MS)) {
        g_clock_ref = "free-running: LSESYS not ready";
        return;
    }
    /* MSIPLLSEL may only change while the PLL mode is off (it is, after reset). */
    RCC_CR |= RCC_CR_MSIPLLSEL;
    RCC_CR |= RCC_CR_MSIPLLEN;
    if (!(RCC_CR & RCC_CR_MSIPLLEN)) {
        /* The hardware refuses the PLL mode while the LSE is not ready. */
        g_clock_ref = "free-running: MSI PLL mode refused";
        return;
    }
    wait_set(&RCC_CR, RCC_CR_MSISRDY);
    g_clock_ref = "lse";
}

/* MSIS 4 MHz -> PLL1 (M=1, N=80, R=2) -> SYSCLK 160 MHz: voltage range 1 and
 * the EPOD booster before leaving 55 MHz behind, flash wait states before the
 * faster clock (RM0456, PWR chapter: dynamic voltage scaling; FLASH chapter:
 * read access latency). */
static void clock_init(void)
{
    RCC_AHB3ENR |= (1u << 2);                    /* PWREN */
    (void)RCC_AHB3ENR;                           /* read back: the clock is on before PWR is touched */

    msis_lock_to_lse();

    /* PLL1 source first: the EPOD booster takes its clock from it. */
    RCC_PLL1CFGR = RCC_PLL1CFGR_SRC_MSIS | RCC_PLL1CFGR_RGE_4_8 | RCC_PLL1CFGR_M(1u)
                 | RCC_PLL1CFGR_MBOOST_1 | RCC_PLL1CFGR_REN;

    PWR_VOSR = (PWR_VOSR & ~PWR_VOSR_VOS_MASK) | PWR_VOSR_VOS_RANGE1;
    wait_set(&PWR_VOSR, PWR_VOSR_VOSRDY);
    /* VOSRDY says the regulator took the new range; ACTVOSRDY that VCORE has
     * reached it. */
    wait_set(&PWR_SVMSR, PWR_SVMSR_ACTVOSRDY);
    PWR_VOSR |= PWR_VOSR_BOOSTEN;
    wait_set(&PWR_VOSR, PWR_VOSR_BOOSTRDY);

    /* 4 wait states: range 1 up to 160 MHz. Read back before going faster. */
    FLASH_ACR = (FLASH_ACR & ~FLASH_ACR_LATENCY_MASK) | 4u | FLASH_ACR_PRFTEN;
    while ((FLASH_ACR & FLASH_ACR_LATENCY_MASK) != 4u) {
    }

    RCC_PLL1DIVR = RCC_PLL1DIVR_N(80u) | RCC_PLL1DIVR_P(2u) | RCC_PLL1DIVR_Q(2u) | RCC_PLL1DIVR_R(2u);
    RCC_CR |= RCC_CR_PLL1ON;
    wait_set(&RCC_CR, RCC_CR_PLL1RDY);

    /* Our precaution, not a step RM0456 requires: switch with HCLK =
     * SYSCLK/2 so the current drawn does not jump from 4 to 160 MHz at once,
     * then run at full speed. */
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

/* MSIS frequency of each MSISRANGE / MSISSRANGE value (RM0456 RCC_ICSCR1). */
static const uint32_t MSIS_HZ[16] = {
    48000000u, 24000000u, 16000000u, 12000000u, 4000000u, 2000000u, 1330000u, 1000000u,
    3072000u, 1536000u, 1024000u, 768000u, 400000u, 200000u, 133000u, 100000u,
};

/* The clocks as the RCC registers say they are now, not as board.toml names
 * them: a switch that did not take shows in INFO. */
static uint32_t sysclk_hz(void)
{
    const uint32_t range = (RCC_ICSCR1 & RCC_ICSCR1_MSIRGSEL) ? RCC_ICSCR1 >> 28 : (RCC_CSR >> 12) & 0xFu;
    const uint32_t msis = MSIS_HZ[range];
    switch ((RCC_CFGR1 >> 2) & 3u) {            /* SWS */
    case 0u:
        return msis;
    case 3u: {                                  /* PLL1: source / M * N / R */
        const uint32_t cfg = RCC_PLL1CFGR, div = RCC_PLL1DIVR;
        const uint32_t src = (cfg & 3u) == 1u ? msis : (cfg & 3u) == 2u ? 16000000u : 0u;  /* HSE unused */
        const uint32_t m = ((cfg >> 8) & 0xFu) + 1u;
        const uint32_t n = (div & 0x1FFu) + 1u;
        const uint32_t r = ((div >> 24) & 0x7Fu) + 1u;
        return (uint32_t)((uint64_t)(src / m) * n / r);
    }
    default:
        return 16000000u;                       /* HSI16 (HSE is not fitted for this) */
    }
}

static uint32_t hclk_hz(void)
{
    static const uint8_t shift[8] = {1u, 2u, 3u, 4u, 6u, 7u, 8u, 9u};  /* HPRE 1000..1111 */
    const uint32_t hpre = RCC_CFGR2 & 0xFu;
    return hpre < 8u ? sysclk_hz() : sysclk_hz() >> shift[hpre - 8u];
}

/* USART1's kernel clock: USART1SEL = 00 is PCLK2 (HCLK / PPRE2). */
static uint32_t usart1_kernel_hz(void)
{
    switch (RCC_CCIPR1 & 3u) {
    case 0u: {
        const uint32_t ppre2 = (RCC_CFGR2 >> 8) & 7u;
        return ppre2 < 4u ? hclk_hz() : hclk_hz() >> (ppre2 - 3u);
    }
    case 1u:
        return sysclk_hz();
    case 2u:
        return 16000000u;
    default:
        return 32768u;
    }
}

void board_init(void)
{
    SCB_VTOR = (uint32_t)(uintptr_t)__vectors_start;
    clock_init();
    kiln_timebase_start(hclk_hz());
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

    /* BRR from the USART's kernel clock as the RCC registers give it. */
    stm32_usart1_start(USART1_BASE, usart1_kernel_hz(), baud, USART1_IRQ, ring);
}

void board_uart_clock(board_uart_clock_t *out)
{
    out->kernel_hz = usart1_kernel_hz();
    out->divisor = stm32_usart_divisor();
    out->clock_ref = g_clock_ref;
}

