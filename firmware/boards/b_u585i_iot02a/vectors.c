/* Vector table of the STM32U585 (RM0456 section 22.3, interrupt and exception
 * vectors): all 16 system exceptions and 126 interrupt positions (0..125), so
 * an interrupt enabled without a handler reaches Default_Handler, which
 * records it for INFO's last_fault, rather than a vector read past the end of
 * the table. USART1 global interrupt = position 61. */
#include <stdint.h>

void Reset_Handler(void);
void Default_Handler(void);
void SysTick_Handler(void);
void USART1_IRQHandler(void);

extern uint32_t __stack_top[];

#define N_IRQ 126  /* positions 0..125 */

typedef void (*vector_t)(void);

__attribute__((section(".vectors"), used))
const vector_t kiln_vectors[16 + N_IRQ] = {
    [0] = (vector_t)(uintptr_t)__stack_top,
    [1] = Reset_Handler,
    [2 ... 14] = Default_Handler,   /* NMI, faults, SecureFault, SVCall, DebugMon, PendSV */
    [15] = SysTick_Handler,
    [16 ... 16 + 60] = Default_Handler,
    [16 + 61] = USART1_IRQHandler,
    [16 + 62 ... 16 + N_IRQ - 1] = Default_Handler,
};
