/*
 * Reset for every Cortex-M board: enable the FPU, copy .data, zero .bss,
 * run main(). The board's vectors.c points the reset vector here.
 *
 * Symbols come from sections.ld.
 */
#include <stdint.h>

#include "cortexm.h"

extern uint32_t __data_load[], __data_start[], __data_end[];
extern uint32_t __bss_start[], __bss_end[];
extern int main(void);

void Reset_Handler(void);
void kiln_start(void);
void Default_Handler(void);

/* The FPU must be on before the first floating-point instruction: the
 * compiler may use FP registers anywhere in C, so this part is assembly and
 * runs before any C code (Armv8-M ARM B3.1, CPACR: CP10 and CP11 full access). */
__attribute__((naked, noreturn)) void Reset_Handler(void)
{
    __asm volatile (
        "ldr r0, =0xE000ED88\n\t"
        "ldr r1, [r0]\n\t"
        "orr r1, r1, #(0xF << 20)\n\t"
        "str r1, [r0]\n\t"
        "dsb\n\t"
        "isb\n\t"
        "b kiln_start\n\t"
    );
}

/* Word loops, not memcpy/memset: the C library is not ready yet. */
__attribute__((noreturn, used)) void kiln_start(void)
{
    const uint32_t *src = __data_load;
    for (uint32_t *dst = __data_start; dst < __data_end; ) {
        *dst++ = *src++;
    }
    for (uint32_t *dst = __bss_start; dst < __bss_end; ) {
        *dst++ = 0u;
    }
    (void)main();
    for (;;) {
        kiln_wfi();
    }
}

/* Faults and unexpected interrupts stop here, visible to a debugger. */
void Default_Handler(void)
{
    for (;;) {
    }
}
