/*
 * Armv8-M system registers the boards use (addresses from the Armv8-M
 * Architecture Reference Manual, DDI0553, "System Control Space").
 */
#ifndef KILN_CORTEXM_H
#define KILN_CORTEXM_H

#include <stdint.h>

#define KILN_REG(addr) (*(volatile uint32_t *)(addr))

/* SysTick (B11.2) */
#define SYST_CSR   KILN_REG(0xE000E010u)  /* ENABLE bit0, TICKINT bit1, CLKSOURCE bit2, COUNTFLAG bit16 */
#define SYST_RVR   KILN_REG(0xE000E014u)  /* 24-bit reload value */
#define SYST_CVR   KILN_REG(0xE000E018u)  /* current value, counts down */
#define SYST_CSR_ENABLE    (1u << 0)
#define SYST_CSR_TICKINT   (1u << 1)
#define SYST_CSR_CLKSOURCE (1u << 2)

/* System Control Block (B11.2) */
#define SCB_ICSR   KILN_REG(0xE000ED04u)  /* PENDSTSET bit26 */
#define SCB_VTOR   KILN_REG(0xE000ED08u)
#define SCB_AIRCR  KILN_REG(0xE000ED0Cu)  /* VECTKEY bits 31:16, SYSRESETREQ bit2 */
#define SCB_SHPR3  KILN_REG(0xE000ED20u)  /* SysTick priority bits 31:24 */
#define SCB_CFSR   KILN_REG(0xE000ED28u)  /* MMFSR 7:0, BFSR 15:8, UFSR 31:16 (not on Armv6-M) */
#define SCB_HFSR   KILN_REG(0xE000ED2Cu)  /* FORCED bit30: a fault escalated to HardFault */
#define SCB_CPACR  KILN_REG(0xE000ED88u)  /* CP10 bits 21:20, CP11 bits 23:22 */
#define SCB_ICSR_PENDSTSET (1u << 26)
#define SCB_AIRCR_VECTKEY     (0x05FAu << 16)
#define SCB_AIRCR_SYSRESETREQ (1u << 2)
#define SCB_CFSR_STKOF        (1u << 20)  /* UFSR.STKOF (UFSR bit 4): MSPLIM/PSPLIM violated (Armv8-M) */

/* NVIC (B11.2): set-enable and priority registers, one bit / one byte per IRQ */
#define NVIC_ISER(n) KILN_REG(0xE000E100u + 4u * ((n) >> 5))
#define NVIC_IPR8(n) (*(volatile uint8_t *)(0xE000E400u + (n)))

/* Debug: DEMCR.TRCENA powers the DWT; DWT CYCCNT (D1.2) */
#define DCB_DEMCR  KILN_REG(0xE000EDFCu)  /* TRCENA bit24 */
#define DWT_CTRL   KILN_REG(0xE0001000u)  /* CYCCNTENA bit0 */
#define DWT_CYCCNT KILN_REG(0xE0001004u)
#define DCB_DEMCR_TRCENA   (1u << 24)
#define DWT_CTRL_CYCCNTENA (1u << 0)

static inline void kiln_nvic_enable(uint32_t irq, uint8_t priority)
{
    NVIC_IPR8(irq) = priority;
    NVIC_ISER(irq) = 1u << (irq & 31u);
}

/* The DWT cycle counter on: a debugger may clear TRCENA or CYCCNTENA between
 * measurements, so boards that count cycles set both in every
 * board_cost_begin() (Armv7-M ARM C1.6.5 DEMCR, C1.8.7 DWT_CTRL; Armv8-M ARM
 * D1.2). */
static inline void kiln_dwt_cycles_on(void)
{
    DCB_DEMCR |= DCB_DEMCR_TRCENA;
    DWT_CTRL |= DWT_CTRL_CYCCNTENA;
}

static inline void kiln_irq_enable(void) { __asm volatile ("cpsie i" ::: "memory"); }
static inline void kiln_wfi(void) { __asm volatile ("dsb\n\twfi" ::: "memory"); }

/* WFI with PRIMASK set still wakes on a pending interrupt, which then runs
 * after cpsie: so a byte that lands between the check and the WFI is not
 * slept through. */
static inline void kiln_idle_unless(const volatile uint32_t *head, uint32_t tail)
{
    __asm volatile ("cpsid i" ::: "memory");
    if (*head == tail) {
        kiln_wfi();
    }
    __asm volatile ("cpsie i" ::: "memory");
}

/* SysTick at 1 kHz (its handler counts board_millis()), then
 * board_cost_begin(): common/timebase.c. */
void kiln_timebase_start(uint32_t core_hz);

#endif /* KILN_CORTEXM_H */
