/*
 * The smallest bare-metal program that can run an exported Kiln library on
 * QEMU's mps2-an505 (tests/test_export.py): a vector table, .data and .bss
 * set up, the FPU on, main(), and its status handed to QEMU through
 * semihosting (Arm's semihosting specification: BKPT 0xAB, operation in r0,
 * argument in r1). Nothing here comes from Kiln's own firmware: the export
 * must work without it.
 */
#include <stdint.h>

extern uint32_t __stack_top, __data_load, __data_start, __data_end, __bss_start, __bss_end;
int main(void);

#define SYS_WRITE0 0x04u
#define SYS_EXIT 0x18u
#define ADP_STOPPED_APPLICATION_EXIT 0x20026u
#define ADP_STOPPED_RUN_TIME_ERROR 0x20023u

static uint32_t semihost(uint32_t op, const void *arg)
{
    register uint32_t r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;

    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

void app_print(const char *text)
{
    (void)semihost(SYS_WRITE0, text);
}

void Reset_Handler(void)
{
    uint32_t *src = &__data_load, *dst;

    for (dst = &__data_start; dst < &__data_end;) {
        *dst++ = *src++;
    }
    for (dst = &__bss_start; dst < &__bss_end;) {
        *dst++ = 0u;
    }
    /* CPACR (0xE000ED88): full access to CP10 and CP11, the FPU the
     * hard-float library uses. */
    *(volatile uint32_t *)0xE000ED88u |= 0xFu << 20;
    __asm__ volatile("dsb\n\tisb" ::: "memory");
    /* On a 32-bit target SYS_EXIT takes the reason itself; QEMU exits with
     * status 0 for an application exit and 1 otherwise. */
    (void)semihost(SYS_EXIT, (const void *)(uintptr_t)(main() == 0 ? ADP_STOPPED_APPLICATION_EXIT
                                                                   : ADP_STOPPED_RUN_TIME_ERROR));
    for (;;) {
    }
}

static void Fault_Handler(void)
{
    app_print("fault\n");
    (void)semihost(SYS_EXIT, (const void *)(uintptr_t)ADP_STOPPED_RUN_TIME_ERROR);
    for (;;) {
    }
}

__attribute__((section(".vectors"), used)) static const void *const vectors[16] = {
    &__stack_top, (const void *)Reset_Handler, (const void *)Fault_Handler, (const void *)Fault_Handler,
    (const void *)Fault_Handler, (const void *)Fault_Handler, (const void *)Fault_Handler,
};
