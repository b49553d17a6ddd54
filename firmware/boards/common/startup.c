/*
 * Reset for every Cortex-M board: enable the FPU, set the stack limit, copy
 * .data, zero .bss (and the arena when it has a region of its own), run
 * main(). The board's vectors.c points the reset vector here, and every
 * exception it has no handler for at Default_Handler, which records the fault
 * and resets (board_last_fault() reports it on the next boot).
 *
 * Symbols come from sections.ld.
 */
#include <stdint.h>

#include "board.h"
#include "cortexm.h"

extern uint32_t __data_load[], __data_start[], __data_end[];
extern uint32_t __bss_start[], __bss_end[];
extern uint32_t __arena_bss_start[], __arena_bss_end[];  /* empty unless the arena has its own region */
extern uint32_t __stack_bottom[], __stack_top[];

/* What reset writes over the unused stack, so board_stack_used() can find
 * the deepest word ever written. */
#define KILN_STACK_PAINT 0x5AC3A55Au
extern int main(void);

void Reset_Handler(void);
void kiln_start(void);
void Default_Handler(void);

/* A fault record survives the reset that follows it only if its check word
 * matches: RAM holds anything after a power-on. */
#define KILN_FAULT_MAGIC 0x4B464C54u  /* "KFLT" */

typedef struct {
    uint32_t magic;
    board_fault_t fault;
    uint32_t check;
} kiln_fault_record_t;

/* .noinit: neither loaded nor zeroed by startup (sections.ld), so the record
 * the fault handler writes is still there after the reset. */
static volatile kiln_fault_record_t g_fault_record __attribute__((section(".noinit")));
static board_fault_t g_last_fault;  /* this boot's copy, for INFO */

void kiln_fault(void);

static uint32_t fault_check(const volatile kiln_fault_record_t *r)
{
    return ~(r->magic ^ r->fault.code ^ r->fault.exception ^ r->fault.cfsr ^ r->fault.hfsr);
}

/* The FPU must be on before the first floating-point instruction: the
 * compiler may use FP registers anywhere in C, so this part is assembly and
 * runs before any C code (Armv8-M ARM B3.1, CPACR: CP10 and CP11 full access).
 * A build without FP instructions (-mfloat-abi=soft: Cortex-M3, M0+) leaves
 * CPACR alone: such a core may have no FPU, and Armv6-M cannot encode the ORR.
 *
 * On Armv8-M Mainline (the Cortex-M33) MSPLIM is set to the bottom of the
 * stack the linker reserved, before anything is pushed: from then on a push
 * below it raises a UsageFault (STKOF) instead of silently overwriting .bss.
 * Armv7-M and Armv6-M have no stack limit register. */
__attribute__((naked, noreturn)) void Reset_Handler(void)
{
    __asm volatile (
#if defined(__ARM_FP)
        "ldr r0, =0xE000ED88\n\t"
        "ldr r1, [r0]\n\t"
        "orr r1, r1, #(0xF << 20)\n\t"
        "str r1, [r0]\n\t"
        "dsb\n\t"
        "isb\n\t"
#endif
#if defined(__ARM_ARCH_8M_MAIN__)
        "ldr r0, =__stack_bottom\n\t"
        "msr msplim, r0\n\t"
#endif
        "b kiln_start\n\t"
    );
}

/* Word loops, not memcpy/memset: the C library is not ready yet. */
__attribute__((noreturn, used)) void kiln_start(void)
{
    const uint32_t *src = __data_load;
    uint32_t sp;

    __asm volatile ("mov %0, sp" : "=r"(sp));
    /* Below this frame (with room for the loops' own use): paint. */
    for (uint32_t *w = __stack_bottom; (uint32_t)(uintptr_t)w + 64u < sp; w++) {
        *w = KILN_STACK_PAINT;
    }
    for (uint32_t *dst = __data_start; dst < __data_end; ) {
        *dst++ = *src++;
    }
    for (uint32_t *dst = __bss_start; dst < __bss_end; ) {
        *dst++ = 0u;
    }
    for (uint32_t *dst = __arena_bss_start; dst < __arena_bss_end; ) {
        *dst++ = 0u;
    }
    /* Take the previous run's fault, if it left one, and clear it, so a
     * reset that is not a fault's reports none. */
    if (g_fault_record.magic == KILN_FAULT_MAGIC && g_fault_record.check == fault_check(&g_fault_record)) {
        g_last_fault.code = g_fault_record.fault.code;
        g_last_fault.exception = g_fault_record.fault.exception;
        g_last_fault.cfsr = g_fault_record.fault.cfsr;
        g_last_fault.hfsr = g_fault_record.fault.hfsr;
    }
    g_fault_record.magic = 0u;
    (void)main();
    for (;;) {
        kiln_wfi();
    }
}

uint32_t board_stack_used(void)
{
    const uint32_t *w = __stack_bottom;

    while (w < __stack_top && *w == KILN_STACK_PAINT) {
        w++;
    }
    return (uint32_t)((uintptr_t)__stack_top - (uintptr_t)w);
}

uint32_t board_stack_reserved(void)
{
    return (uint32_t)((uintptr_t)__stack_top - (uintptr_t)__stack_bottom);
}

const board_fault_t *board_last_fault(void)
{
    return &g_last_fault;
}

/* No data cache in front of RAM: the record is in RAM once written (and
 * kiln_fault's DSB has completed the writes). */
__attribute__((weak)) void board_fault_flush(const volatile void *addr, uint32_t bytes)
{
    (void)addr;
    (void)bytes;
}

/* Faults and unexpected interrupts come here. The stack may be exactly what
 * failed (a stack overflow enters with SP at MSPLIM, and any push would
 * fault again and lock the core up), so before any C runs SP is moved back to
 * the top of the stack: nothing below is needed any more, the chip is about
 * to reset. A debugger can still stop here (break on Default_Handler). */
__attribute__((naked, noreturn)) void Default_Handler(void)
{
    __asm volatile (
        "ldr r0, =__stack_top\n\t"
        "mov sp, r0\n\t"
        "b kiln_fault\n\t"
    );
}

/* Records what happened in the .noinit record, then resets the chip
 * (AIRCR.SYSRESETREQ, Armv8-M ARM B11.2 / Armv7-M ARM B3.2.6): the next boot
 * answers the protocol again and INFO's last_fault says why it restarted. */
__attribute__((noreturn, used)) void kiln_fault(void)
{
    uint32_t ipsr;
    uint32_t cfsr = 0u, hfsr = 0u;

    __asm volatile ("mrs %0, ipsr" : "=r"(ipsr));
    ipsr &= 0x1FFu;
#if defined(__ARM_ARCH_7M__) || defined(__ARM_ARCH_7EM__) || defined(__ARM_ARCH_8M_MAIN__)
    cfsr = SCB_CFSR;
    hfsr = SCB_HFSR;
#endif
    uint32_t code;
    if (cfsr & SCB_CFSR_STKOF) {
        code = KILN_FAULT_STACK_OVERFLOW;
    } else if (ipsr >= 3u && ipsr <= 7u) {
        code = KILN_FAULT_FAULT;      /* HardFault 3, MemManage 4, BusFault 5, UsageFault 6, SecureFault 7 */
    } else {
        code = KILN_FAULT_UNEXPECTED;
    }
    g_fault_record.fault.code = code;
    g_fault_record.fault.exception = ipsr;
    g_fault_record.fault.cfsr = cfsr;
    g_fault_record.fault.hfsr = hfsr;
    g_fault_record.magic = KILN_FAULT_MAGIC;
    g_fault_record.check = fault_check(&g_fault_record);
    __asm volatile ("dsb" ::: "memory");
    board_fault_flush(&g_fault_record, sizeof g_fault_record);
    SCB_AIRCR = SCB_AIRCR_VECTKEY | SCB_AIRCR_SYSRESETREQ;
    __asm volatile ("dsb" ::: "memory");
    for (;;) {
    }
}
