#include "frame.h"

#include <string.h>

#include "crc32.h"

enum { S_SYNC0, S_SYNC1, S_HEADER, S_PAYLOAD, S_CRC };

void kiln_rx_init(kiln_rx_t *rx, uint8_t *payload, uint32_t capacity)
{
    memset(rx, 0, sizeof(*rx));
    rx->payload = payload;
    rx->capacity = capacity;
    rx->state = S_SYNC0;
}

void kiln_rx_reset(kiln_rx_t *rx)
{
    rx->state = S_SYNC0;
    rx->pos = 0;
}

int kiln_rx_busy(const kiln_rx_t *rx)
{
    return rx->state != S_SYNC0;
}

static kiln_rx_event_t fail(kiln_rx_t *rx, uint8_t code)
{
    rx->error = code;
    kiln_rx_reset(rx);
    return KILN_RX_ERROR;
}

kiln_rx_event_t kiln_rx_feed(kiln_rx_t *rx, uint8_t byte)
{
    switch (rx->state) {
    case S_SYNC0:
        if (byte == KILN_SYNC0) {
            /* A frame may start here: an error about it (a lone sync byte
             * then silence is a TIMEOUT) must not carry the last frame's
             * type and seq. */
            rx->state = S_SYNC1;
            rx->type = 0;
            rx->seq = 0;
        }
        return KILN_RX_MORE;
    case S_SYNC1:
        if (byte == KILN_SYNC1) {
            rx->state = S_HEADER;
            rx->pos = 0;
            rx->crc = KILN_CRC32_INIT;
        } else if (byte != KILN_SYNC0) {
            /* "KK L" still syncs on the second K. */
            rx->state = S_SYNC0;
        }
        return KILN_RX_MORE;
    case S_HEADER:
        rx->crc = kiln_crc32_update(rx->crc, &byte, 1);
        switch (rx->pos++) {
        case 0: rx->type = byte; return KILN_RX_MORE;
        case 1: rx->seq = byte; return KILN_RX_MORE;
        case 2: rx->len = byte; return KILN_RX_MORE;
        default:
            rx->len |= (uint16_t)(byte << 8);
            if (rx->len > rx->capacity) {
                /* Reject at once: the rest of the frame cannot be stored. */
                return fail(rx, KILN_ERR_TOO_LONG);
            }
            rx->pos = 0;
            rx->state = rx->len ? S_PAYLOAD : S_CRC;
            rx->crc_rx = 0;
            return KILN_RX_MORE;
        }
    case S_PAYLOAD:
        rx->payload[rx->pos++] = byte;
        if (rx->pos == rx->len) {
            rx->crc = kiln_crc32_update(rx->crc, rx->payload, rx->len);
            rx->pos = 0;
            rx->crc_rx = 0;
            rx->state = S_CRC;
        }
        return KILN_RX_MORE;
    case S_CRC:
    default:
        rx->crc_rx |= (uint32_t)byte << (8u * rx->pos);
        if (++rx->pos < 4u) {
            return KILN_RX_MORE;
        }
        if (rx->crc_rx != kiln_crc32_final(rx->crc)) {
            return fail(rx, KILN_ERR_BAD_CRC);
        }
        kiln_rx_reset(rx);
        return KILN_RX_FRAME;
    }
}

void kiln_tx_begin(kiln_tx_t *tx, uint8_t type, uint8_t seq, uint16_t len)
{
    const uint8_t sync[2] = {KILN_SYNC0, KILN_SYNC1};
    const uint8_t header[4] = {type, seq, (uint8_t)(len & 0xFFu), (uint8_t)(len >> 8)};
    tx->write(sync, 2);
    tx->crc = KILN_CRC32_INIT;
    kiln_tx_data(tx, header, 4);
}

void kiln_tx_data(kiln_tx_t *tx, const void *data, uint32_t n)
{
    tx->crc = kiln_crc32_update(tx->crc, (const uint8_t *)data, n);
    tx->write((const uint8_t *)data, n);
}

void kiln_tx_end(kiln_tx_t *tx)
{
    uint32_t crc = kiln_crc32_final(tx->crc);
    const uint8_t bytes[4] = {(uint8_t)crc, (uint8_t)(crc >> 8), (uint8_t)(crc >> 16),
                              (uint8_t)(crc >> 24)};
    tx->write(bytes, 4);
}

void kiln_tx_error(kiln_tx_t *tx, uint8_t seq, uint8_t code, uint8_t offending_type,
                   const char *message)
{
    uint32_t n = (uint32_t)strlen(message);
    const uint8_t head[2] = {code, offending_type};
    kiln_tx_begin(tx, KILN_TYPE_ERROR, seq, (uint16_t)(2u + n));
    kiln_tx_data(tx, head, 2);
    kiln_tx_data(tx, message, n);
    kiln_tx_end(tx);
}
