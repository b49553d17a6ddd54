/* Vector table of the mps2-an505 (AN505 interrupt map: UART0 combined = IRQ 42). */
#include <stdint.h>

void Reset_Handler(void);
void Default_Handler(void);
void SysTick_Handler(void);
void UART0_Handler(void);

extern uint32_t __stack_top[];

#define N_IRQ 43  /* external interrupts 0..42: enough for UART0's combined IRQ */

typedef void (*vector_t)(void);

__attribute__((section(".vectors"), used))
const vector_t kiln_vectors[16 + N_IRQ] = {
    [0] = (vector_t)(uintptr_t)__stack_top,
    [1] = Reset_Handler,
    [2 ... 14] = Default_Handler,   /* NMI, faults, SVCall, PendSV */
    [15] = SysTick_Handler,
    [16 ... 16 + 41] = Default_Handler,
    [16 + 42] = UART0_Handler,
};
