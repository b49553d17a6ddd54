/*
 * Two exported models in one image (tests/test_export.py): the test writes
 * inputs.h (N_SAMPLES inputs for each model, the prefixes' names as macros
 * a_ and A_, b_ and B_, and model b's arena when the test gives it from
 * outside); this prints each output as one hex line,
 * "<model> <sample> <hex bytes>", through semihosting, and model a's
 * per-layer costs of its first inference as a line "p 00 <hex words>".
 */
#include <stdint.h>

#include "inputs.h"

void app_print(const char *text);

static const char HEX[] = "0123456789abcdef";

static void print_output(char tag, uint32_t sample, const uint8_t *out, uint32_t n)
{
    static char line[2 * 4096 + 16];
    uint32_t i, k = 0;

    line[k++] = tag;
    line[k++] = ' ';
    line[k++] = (char)('0' + sample / 10u);
    line[k++] = (char)('0' + sample % 10u);
    line[k++] = ' ';
    for (i = 0; i < n && k + 3 < sizeof line; i++) {
        line[k++] = HEX[out[i] >> 4];
        line[k++] = HEX[out[i] & 15u];
    }
    line[k++] = '\n';
    line[k] = '\0';
    app_print(line);
}

/* The profiling hook's clock, replacing the runtime's weak one: one tick
 * per reading, so every layer's cost is 1. */
uint32_t kiln_cost_now(void)
{
    static uint32_t ticks;

    return ++ticks;
}

int main(void)
{
    static uint8_t out_a[A_OUTPUT_BYTES], out_b[B_OUTPUT_BYTES];
    static uint32_t cost[A_N_LAYERS];
    uint32_t s;

    if (a_init() != 0 || b_init() != 0) {
        return 1;
    }
    for (s = 0; s < N_SAMPLES; s++) {
        if (a_invoke(input_a[s], out_a, s == 0u ? cost : 0) != 0 || b_invoke(input_b[s], out_b, 0) != 0) {
            return 2;
        }
        if (s == 0u) {
            print_output('p', s, (const uint8_t *)cost, sizeof cost);
        }
        print_output('a', s, out_a, A_OUTPUT_BYTES);
        print_output('b', s, out_b, B_OUTPUT_BYTES);
    }
    return 0;
}
