/*
 * Reset for every Cortex-M board: enable the FPU, copy .data, zero .bss (and
 * the arena when it has a region of its own), run main(). The board's
 * vectors.c points the reset vector here.
 *
 * Symbols come from sections.ld.
 */
#include <stdint.h>

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

/* The FPU must be on before the first floating-point instruction: the
 * compiler may use FP registers anywhere in C, so this part is assembly and
 * runs before any C code (Armv8-M ARM B3.1, CPACR: CP10 and CP11 full access).
 * A build without FP instructions (-mfloat-abi=soft: Cortex-M3, M0+) leaves
 * CPACR alone: such a core may have no FPU, and Armv6-M cannot encode the ORR. */
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

/* Faults and unexpected interrupts stop here, visible to a debugger. */
void Default_Handler(void)
{
    for (;;) {
    }
}
