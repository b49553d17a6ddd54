/*
 * Kiln firmware application: answers the UART protocol of docs/protocol.md
 * (INFO, INFER, PROFILE, PING) for the generated model. Uses only the board
 * interface (board.h) and the generated-model API (kiln/model.h).
 */
#include <stdint.h>
#include <string.h>

#include "board.h"
#include "frame.h"
#include "kiln/model.h"
#include "kiln_model.h"
#include "version.h"

#ifndef KILN_BAUD
#define KILN_BAUD 921600u
#endif

/* A frame cut short is abandoned after this long without a byte. */
#define KILN_BYTE_TIMEOUT_MS 100u

/* PING echoes at most this much when the input tensor is smaller. */
#define KILN_PING_MAX 256u

#define KILN_MAX2(a, b) ((a) > (b) ? (a) : (b))
/* The largest request payload the device accepts (INFO reports it). */
#define KILN_RX_CAPACITY KILN_MAX2(KILN_MODEL_INPUT_BYTES, KILN_PING_MAX)

/* Ring: one maximal frame (header 6 + CRC 4) and some slack, rounded up to a
 * power of two. With two requests in flight (the host's pipeline, docs/
 * protocol.md) the ring holds the second while the first is computed: the
 * first was parsed out of it as its bytes came, the board being idle, and
 * parsing drains it far faster than a UART fills it. */
#define KILN_RING_NEED (KILN_RX_CAPACITY + 10u + 63u)
#define KILN_P2_1(x) ((x) | ((x) >> 1))
#define KILN_P2_2(x) (KILN_P2_1(x) | (KILN_P2_1(x) >> 2))
#define KILN_P2_4(x) (KILN_P2_2(x) | (KILN_P2_2(x) >> 4))
#define KILN_P2_8(x) (KILN_P2_4(x) | (KILN_P2_4(x) >> 8))
#define KILN_P2_16(x) (KILN_P2_8(x) | (KILN_P2_8(x) >> 16))
#define KILN_RING_BYTES (KILN_P2_16(KILN_RING_NEED) + 1u)

static uint8_t g_ring_buf[KILN_RING_BYTES];
static board_ring_t g_ring = {g_ring_buf, KILN_RING_BYTES, 0u, 0u};

#if KILN_MODEL_INPUTS_IN_ARENA && KILN_MODEL_INPUT_BYTES >= KILN_PING_MAX
/* Requests are received straight into the model's input tensors in the arena
 * (no second copy of the input in RAM): frames are parsed only between
 * inferences, so nothing else uses those bytes while they arrive. */
#define KILN_RX_BUFFER() kiln_model_input_buffer()
#else
/* 8-byte alignment: the payload is the model's input tensor (int8 or float). */
static uint8_t g_payload[KILN_RX_CAPACITY] __attribute__((aligned(8)));
#define KILN_RX_BUFFER() g_payload
#endif
static uint8_t g_output[KILN_MODEL_OUTPUT_BYTES] __attribute__((aligned(8)));
static uint32_t g_layer_cost[KILN_MODEL_N_LAYERS > 0 ? KILN_MODEL_N_LAYERS : 1];
static int g_have_result;

static kiln_rx_t g_rx;
static kiln_tx_t g_tx = {board_uart_write, 0u};

/* Decimal digits of v into buf (at least 10 bytes); returns the length. */
static uint32_t format_u32(uint32_t v, char *buf)
{
    char tmp[10];
    uint32_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v);
    for (uint32_t i = 0; i < n; i++) {
        buf[i] = tmp[n - 1u - i];
    }
    return n;
}

/* INFO: the board's facts around the generated model JSON, streamed so no
 * buffer holds the whole answer. */
static void cmd_info(uint8_t seq)
{
    char clock[10], maxp[10], used[10], reserved[10];
    const uint32_t clock_n = format_u32(KILN_BOARD_CLOCK_HZ, clock);
    const uint32_t maxp_n = format_u32(KILN_RX_CAPACITY, maxp);
    const uint32_t used_n = format_u32(board_stack_used(), used);
    const uint32_t reserved_n = format_u32(board_stack_reserved(), reserved);
    const char *parts[] = {
        "{\"protocol\":", KILN_PROTOCOL_VERSION, ",\"board\":\"", KILN_BOARD_NAME, "\",\"cpu\":\"", KILN_BOARD_CPU,
        "\",\"clock_hz\":", clock,
        ",\"firmware\":\"", KILN_FIRMWARE_VERSION, "\",\"cost_unit\":\"", KILN_BOARD_COST_UNIT,
        "\",\"max_payload\":", maxp, ",\"stack_used\":", used, ",\"stack_reserved\":", reserved,
        ",\"model\":", kiln_model.info_json, "}",
    };
    uint32_t lens[sizeof(parts) / sizeof(parts[0])];
    uint32_t total = 0;
    for (uint32_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
        lens[i] = parts[i] == clock ? clock_n : parts[i] == maxp ? maxp_n : parts[i] == used ? used_n
                  : parts[i] == reserved ? reserved_n : (uint32_t)strlen(parts[i]);
        total += lens[i];
    }
    if (total > 0xFFFFu) {
        kiln_tx_error(&g_tx, seq, KILN_ERR_TOO_LONG, KILN_CMD_INFO, "INFO JSON above 65535 bytes");
        return;
    }
    kiln_tx_begin(&g_tx, KILN_CMD_INFO | KILN_TYPE_RESPONSE, seq, (uint16_t)total);
    for (uint32_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
        kiln_tx_data(&g_tx, parts[i], lens[i]);
    }
    kiln_tx_end(&g_tx);
}

static void cmd_infer(const uint8_t *payload, uint8_t seq, uint32_t len)
{
    if (len != KILN_MODEL_INPUT_BYTES) {
        kiln_tx_error(&g_tx, seq, KILN_ERR_BAD_LENGTH, KILN_CMD_INFER,
                      "INFER payload must be exactly the input tensor's bytes");
        return;
    }
    board_cost_begin();
    uint32_t start = kiln_cost_now();
    int status = kiln_model_invoke(payload, g_output, g_layer_cost);
    uint32_t cost = kiln_cost_now() - start;
    if (status != 0) {
        g_have_result = 0;
        kiln_tx_error(&g_tx, seq, KILN_ERR_INVOKE_FAILED, KILN_CMD_INFER, "kiln_model_invoke failed");
        return;
    }
    g_have_result = 1;
    const uint8_t cost_le[4] = {(uint8_t)cost, (uint8_t)(cost >> 8), (uint8_t)(cost >> 16),
                                (uint8_t)(cost >> 24)};
    kiln_tx_begin(&g_tx, KILN_CMD_INFER | KILN_TYPE_RESPONSE, seq,
                  (uint16_t)(4u + KILN_MODEL_OUTPUT_BYTES));
    kiln_tx_data(&g_tx, cost_le, 4);
    kiln_tx_data(&g_tx, g_output, KILN_MODEL_OUTPUT_BYTES);
    kiln_tx_end(&g_tx);
}

static void put_u32(uint32_t v)
{
    const uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    kiln_tx_data(&g_tx, b, 4);
}

static void cmd_profile(uint8_t seq, uint32_t len)
{
    if (len != 0u) {
        kiln_tx_error(&g_tx, seq, KILN_ERR_BAD_LENGTH, KILN_CMD_PROFILE, "PROFILE takes no payload");
        return;
    }
    if (!g_have_result) {
        kiln_tx_error(&g_tx, seq, KILN_ERR_NO_RESULT, KILN_CMD_PROFILE, "no INFER yet");
        return;
    }
    kiln_tx_begin(&g_tx, KILN_CMD_PROFILE | KILN_TYPE_RESPONSE, seq,
                  (uint16_t)(4u + 4u * KILN_MODEL_N_LAYERS));
    put_u32(KILN_MODEL_N_LAYERS);
    for (uint32_t i = 0; i < KILN_MODEL_N_LAYERS; i++) {
        put_u32(g_layer_cost[i]);
    }
    kiln_tx_end(&g_tx);
}

static void dispatch(const kiln_rx_t *rx)
{
    switch (rx->type) {
    case KILN_CMD_INFO:
        if (rx->len != 0u) {
            kiln_tx_error(&g_tx, rx->seq, KILN_ERR_BAD_LENGTH, rx->type, "INFO takes no payload");
        } else {
            cmd_info(rx->seq);
        }
        break;
    case KILN_CMD_INFER:
        cmd_infer(rx->payload, rx->seq, rx->len);
        break;
    case KILN_CMD_PROFILE:
        cmd_profile(rx->seq, rx->len);
        break;
    case KILN_CMD_PING:
        kiln_tx_begin(&g_tx, KILN_CMD_PING | KILN_TYPE_RESPONSE, rx->seq, rx->len);
        kiln_tx_data(&g_tx, rx->payload, rx->len);
        kiln_tx_end(&g_tx);
        break;
    default:
        kiln_tx_error(&g_tx, rx->seq, KILN_ERR_UNKNOWN_COMMAND, rx->type, "unknown command");
        break;
    }
}

static void on_error(const kiln_rx_t *rx)
{
    static const char *const messages[] = {
        "", "CRC mismatch", "length above max_payload", "", "", "frame cut short",
    };
    uint8_t code = rx->error;
    kiln_tx_error(&g_tx, rx->seq, code, rx->type,
                  code < sizeof(messages) / sizeof(messages[0]) ? messages[code] : "");
}

int main(void)
{
    board_init();
    kiln_rx_init(&g_rx, KILN_RX_BUFFER(), KILN_RX_CAPACITY);
    board_uart_init(KILN_BAUD, &g_ring);
    uint32_t last_byte_ms = board_millis();
    for (;;) {
        uint8_t byte;
        if (board_ring_get(&g_ring, &byte)) {
            last_byte_ms = board_millis();
            kiln_rx_event_t ev = kiln_rx_feed(&g_rx, byte);
            if (ev == KILN_RX_FRAME) {
                dispatch(&g_rx);
            } else if (ev == KILN_RX_ERROR) {
                on_error(&g_rx);
            }
            continue;
        }
        /* Only with the ring empty: bytes still queued are not late. */
        if (kiln_rx_busy(&g_rx) && board_millis() - last_byte_ms > KILN_BYTE_TIMEOUT_MS) {
            g_rx.error = KILN_ERR_TIMEOUT;
            on_error(&g_rx);
            kiln_rx_reset(&g_rx);
            continue;
        }
        board_idle(&g_ring);
    }
}
