/*
 * Kiln board interface: everything the firmware app needs from a board.
 *
 * Each board folder (firmware/boards/<board>/) implements these functions in
 * C and describes itself in board.toml. The build passes the board's
 * constants from board.toml as macros:
 *   KILN_BOARD_NAME      "b_u585i_iot02a"
 *   KILN_BOARD_CPU       "cortex-m33" (the cpu of board.toml: the core the image is built for)
 *   KILN_BOARD_CLOCK_HZ  core clock in Hz after board_init()
 *   KILN_BOARD_COST_UNIT "cycles" or "instructions" (what kiln_cost_now() counts)
 *   KILN_BAUD            UART baud rate
 */
#ifndef KILN_BOARD_H
#define KILN_BOARD_H

#include <stdint.h>

#ifndef KILN_BOARD_NAME
#error "KILN_BOARD_NAME is not defined: build the firmware with scons (it passes the board constants)"
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Clocks, power, the 1 ms timebase and the cost counter. Interrupts are
 * enabled on return. Called once, first thing in main(). */
void board_init(void);

/* Starts UART reception under interrupt into `ring` (size: a power of two).
 * The receive interrupt writes ring[head % size] then advances head; the app
 * reads at tail. A byte arriving when the ring is full is dropped. */
typedef struct {
    uint8_t *buf;
    uint32_t size;               /* power of two */
    volatile uint32_t head;      /* written by the ISR only */
    volatile uint32_t tail;      /* written by the app only */
} board_ring_t;

void board_uart_init(uint32_t baud, board_ring_t *ring);

/* Sends n bytes, blocking until the last one is in the transmitter. */
void board_uart_write(const uint8_t *data, uint32_t n);

/* Milliseconds since board_init(), wrapping at 2^32. */
uint32_t board_millis(void);

/* Sleeps until the next interrupt (a received byte or the 1 ms tick),
 * unless `ring` already holds data: the check and the sleep are atomic, so a
 * byte arriving in between cannot be slept through. */
void board_idle(const board_ring_t *ring);

/* Restarts the cost counter where the hardware needs it (the DWT cycle
 * counter can be stopped by a debugger); call before each measurement. */
void board_cost_begin(void);

/* kiln_cost_now() (declared in kiln/model.h) is implemented by the board. */

/* The deepest the stack has reached since reset, in bytes (boards/common/
 * startup.c paints it at reset and finds the highest word overwritten), and
 * the bytes reserved for it (the build's bound, kiln.stackbound). */
uint32_t board_stack_used(void);
uint32_t board_stack_reserved(void);

/* How the UART's baud rate really comes out, for INFO: the clock the UART
 * divides (as the board derives it from its clock registers, not the nominal
 * figure of board.toml), the divisor read back from the UART, and what that
 * clock is referenced to, e.g. "lse" (locked to the 32.768 kHz crystal),
 * "hse" (a crystal), "emulated", or "free-running: <why>" for an RC
 * oscillator nothing trims. The baud rate is kernel_hz / divisor. */
typedef struct {
    uint32_t kernel_hz;
    uint32_t divisor;
    const char *clock_ref;
} board_uart_clock_t;

/* Fills `out`; call after board_uart_init(). */
void board_uart_clock(board_uart_clock_t *out);

/* Why the previous run ended, when a fault ended it. The fault handler of
 * boards/common/startup.c records the fault in RAM that startup does not
 * clear (.noinit), resets the chip (AIRCR.SYSRESETREQ), and the next boot
 * takes the record, so INFO can report it. */
enum {
    KILN_FAULT_NONE = 0,
    KILN_FAULT_STACK_OVERFLOW = 1,   /* UFSR.STKOF: the stack ran into MSPLIM (Armv8-M Mainline) */
    KILN_FAULT_FAULT = 2,            /* HardFault, MemManage, BusFault, UsageFault, SecureFault */
    KILN_FAULT_UNEXPECTED = 3,       /* an interrupt or NMI the vector table has no handler for */
};

typedef struct {
    uint32_t code;       /* KILN_FAULT_* */
    uint32_t exception;  /* the exception number (IPSR) the handler ran for */
    uint32_t cfsr;       /* SCB CFSR then (0 on Armv6-M, which has none) */
    uint32_t hfsr;       /* SCB HFSR then (0 on Armv6-M) */
} board_fault_t;

/* The fault that reset the chip before this boot: code KILN_FAULT_NONE after
 * a power-on, a reset pin or a debugger's reset. */
const board_fault_t *board_last_fault(void);

/* Called by the fault handler after it wrote the record and before the reset,
 * so the record reaches RAM: a board with a write-back data cache over RAM
 * (the STM32F746) cleans those lines; startup.c's weak default does nothing. */
void board_fault_flush(const volatile void *addr, uint32_t bytes);

/* Takes one byte from the ring; returns 0 when it is empty. */
static inline int board_ring_get(board_ring_t *r, uint8_t *byte)
{
    uint32_t tail = r->tail;
    if (tail == r->head) {
        return 0;
    }
    *byte = r->buf[tail & (r->size - 1u)];
    r->tail = tail + 1u;
    return 1;
}

/* Called by the board's receive interrupt. */
static inline void board_ring_put(board_ring_t *r, uint8_t byte)
{
    uint32_t head = r->head;
    if (head - r->tail < r->size) {
        r->buf[head & (r->size - 1u)] = byte;
        r->head = head + 1u;
    }
}

#ifdef __cplusplus
}
#endif

#endif /* KILN_BOARD_H */
