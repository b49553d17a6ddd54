/* Vector table of the MPS2 images AN385/AN386/AN500 (QEMU hw/arm/mps2.c:
 * UART0 receive = IRQ 0, transmit = IRQ 1). */
#include <stdint.h>

void Reset_Handler(void);
void Default_Handler(void);
void SysTick_Handler(void);
void UART0_RX_Handler(void);

extern uint32_t __stack_top[];

#define N_IRQ 32  /* QEMU gives these images' NVIC 32 external interrupts */

typedef void (*vector_t)(void);

__attribute__((section(".vectors"), used))
const vector_t kiln_vectors[16 + N_IRQ] = {
    [0] = (vector_t)(uintptr_t)__stack_top,
    [1] = Reset_Handler,
    [2 ... 14] = Default_Handler,   /* NMI, faults, SVCall, PendSV */
    [15] = SysTick_Handler,
    [16 + 0] = UART0_RX_Handler,
    [16 + 1 ... 16 + N_IRQ - 1] = Default_Handler,
};
