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

/* What INFO reports about the board, read once per INFO so the two passes
 * of cmd_info() (count, then send) write the same bytes. */
typedef struct {
    uint32_t stack_used, stack_reserved;
    board_uart_clock_t uart;
    const board_fault_t *fault;
} info_facts_t;

/* INFO is streamed: a counting pass (tx NULL) sizes the frame, a second pass
 * sends it, so no buffer holds the whole answer. */
typedef struct {
    kiln_tx_t *tx;
    uint32_t len;
} info_out_t;

static void info_str(info_out_t *o, const char *s)
{
    const uint32_t n = (uint32_t)strlen(s);
    if (o->tx) {
        kiln_tx_data(o->tx, s, n);
    }
    o->len += n;
}

static void info_u32(info_out_t *o, uint32_t v)
{
    char digits[10];
    const uint32_t n = format_u32(v, digits);
    if (o->tx) {
        kiln_tx_data(o->tx, digits, n);
    }
    o->len += n;
}

static const char *fault_name(uint32_t code)
{
    switch (code) {
    case KILN_FAULT_STACK_OVERFLOW:
        return "stack_overflow";
    case KILN_FAULT_FAULT:
        return "fault";
    case KILN_FAULT_UNEXPECTED:
        return "unexpected_exception";
    default:
        return "unknown";
    }
}

/* The INFO JSON (docs/protocol.md): the board's facts around the generated
 * model's. */
static void info_json(info_out_t *o, const info_facts_t *f)
{
    const uint32_t div = f->uart.divisor;
    info_str(o, "{\"protocol\":" KILN_PROTOCOL_VERSION ",\"board\":\"" KILN_BOARD_NAME "\",\"cpu\":\""
                KILN_BOARD_CPU "\",\"clock_hz\":");
    info_u32(o, KILN_BOARD_CLOCK_HZ);
    info_str(o, ",\"firmware\":\"" KILN_FIRMWARE_VERSION "\",\"cost_unit\":\"" KILN_BOARD_COST_UNIT
                "\",\"max_payload\":");
    info_u32(o, KILN_RX_CAPACITY);
    info_str(o, ",\"stack_used\":");
    info_u32(o, f->stack_used);
    info_str(o, ",\"stack_reserved\":");
    info_u32(o, f->stack_reserved);
    info_str(o, ",\"uart\":{\"kernel_hz\":");
    info_u32(o, f->uart.kernel_hz);
    info_str(o, ",\"divisor\":");
    info_u32(o, div);
    info_str(o, ",\"baud\":");
    info_u32(o, div ? (f->uart.kernel_hz + div / 2u) / div : 0u);
    info_str(o, ",\"baud_requested\":");
    info_u32(o, KILN_BAUD);
    info_str(o, ",\"clock_ref\":\"");
    info_str(o, f->uart.clock_ref);
    info_str(o, "\"},\"last_fault\":");
    if (f->fault->code == KILN_FAULT_NONE) {
        info_str(o, "null");
    } else {
        info_str(o, "{\"code\":\"");
        info_str(o, fault_name(f->fault->code));
        info_str(o, "\",\"exception\":");
        info_u32(o, f->fault->exception);
        info_str(o, ",\"cfsr\":");
        info_u32(o, f->fault->cfsr);
        info_str(o, ",\"hfsr\":");
        info_u32(o, f->fault->hfsr);
        info_str(o, "}");
    }
    info_str(o, ",\"model\":");
    info_str(o, kiln_model.info_json);
    info_str(o, "}");
}

static void cmd_info(uint8_t seq)
{
    info_facts_t facts;
    facts.stack_used = board_stack_used();
    facts.stack_reserved = board_stack_reserved();
    board_uart_clock(&facts.uart);
    facts.fault = board_last_fault();

    info_out_t count = {0, 0u};
    info_json(&count, &facts);
    if (count.len > 0xFFFFu) {
        kiln_tx_error(&g_tx, seq, KILN_ERR_TOO_LONG, KILN_CMD_INFO, "INFO JSON above 65535 bytes");
        return;
    }
    kiln_tx_begin(&g_tx, KILN_CMD_INFO | KILN_TYPE_RESPONSE, seq, (uint16_t)count.len);
    info_out_t out = {&g_tx, 0u};
    info_json(&out, &facts);
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
