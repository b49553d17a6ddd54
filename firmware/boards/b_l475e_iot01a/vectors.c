/* Vector table of the STM32L475 (RM0351, NVIC chapter, section "Interrupt and
 * exception vectors", STM32L47x/L48x table): USART1 global interrupt = position 37. */
#include <stdint.h>

void Reset_Handler(void);
void Default_Handler(void);
void SysTick_Handler(void);
void USART1_IRQHandler(void);

extern uint32_t __stack_top[];

#define N_IRQ 38  /* positions 0..37: enough for USART1 */

typedef void (*vector_t)(void);

__attribute__((section(".vectors"), used))
const vector_t kiln_vectors[16 + N_IRQ] = {
    [0] = (vector_t)(uintptr_t)__stack_top,
    [1] = Reset_Handler,
    [2 ... 14] = Default_Handler,   /* NMI, faults, SVCall, DebugMon, PendSV */
    [15] = SysTick_Handler,
    [16 ... 16 + 36] = Default_Handler,
    [16 + 37] = USART1_IRQHandler,
};
