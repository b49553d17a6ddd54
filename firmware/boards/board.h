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
