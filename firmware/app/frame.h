/*
 * Kiln UART frames (docs/protocol.md): a byte-at-a-time receiver and a
 * streaming sender. No board dependencies: the receiver is plain C.
 */
#ifndef KILN_FRAME_H
#define KILN_FRAME_H

#include <stdint.h>

#define KILN_SYNC0 0x4Bu  /* 'K' */
#define KILN_SYNC1 0x4Cu  /* 'L' */
#define KILN_TYPE_ERROR 0x7Fu
#define KILN_TYPE_RESPONSE 0x80u

enum {
    KILN_CMD_INFO = 0x01,
    KILN_CMD_INFER = 0x02,
    KILN_CMD_PROFILE = 0x03,
    KILN_CMD_PING = 0x04,
};

enum {
    KILN_ERR_BAD_CRC = 1,
    KILN_ERR_TOO_LONG = 2,
    KILN_ERR_UNKNOWN_COMMAND = 3,
    KILN_ERR_BAD_LENGTH = 4,
    KILN_ERR_TIMEOUT = 5,
    KILN_ERR_NO_RESULT = 6,
    KILN_ERR_INVOKE_FAILED = 7,
};

/* What kiln_rx_feed() says about the byte it was given. */
typedef enum {
    KILN_RX_MORE = 0,    /* keep feeding */
    KILN_RX_FRAME,       /* a complete, CRC-checked frame: type/seq/len/payload */
    KILN_RX_ERROR,       /* a bad frame: answer with error `error`, type/seq */
} kiln_rx_event_t;

typedef struct {
    uint8_t *payload;    /* caller's buffer of `capacity` bytes */
    uint32_t capacity;
    uint8_t state;
    uint8_t type, seq;
    uint16_t len;
    uint32_t pos;
    uint32_t crc;        /* running CRC over type .. payload */
    uint32_t crc_rx;     /* the frame's CRC field, as received */
    uint8_t error;       /* after KILN_RX_ERROR */
} kiln_rx_t;

/* Prepares a receiver over a payload buffer. */
void kiln_rx_init(kiln_rx_t *rx, uint8_t *payload, uint32_t capacity);

/* Feeds one received byte. */
kiln_rx_event_t kiln_rx_feed(kiln_rx_t *rx, uint8_t byte);

/* Nonzero while a frame is partly received (the inter-byte timeout applies). */
int kiln_rx_busy(const kiln_rx_t *rx);

/* Drops a partial frame and hunts for sync again. */
void kiln_rx_reset(kiln_rx_t *rx);

/* Streaming sender: begin (header), any number of data calls whose lengths
 * add up to `len`, then end (CRC). `write` sends bytes on the link. */
typedef void (*kiln_write_fn)(const uint8_t *data, uint32_t n);

typedef struct {
    kiln_write_fn write;
    uint32_t crc;
} kiln_tx_t;

void kiln_tx_begin(kiln_tx_t *tx, uint8_t type, uint8_t seq, uint16_t len);
void kiln_tx_data(kiln_tx_t *tx, const void *data, uint32_t n);
void kiln_tx_end(kiln_tx_t *tx);

/* A complete error frame: code, offending type, message. */
void kiln_tx_error(kiln_tx_t *tx, uint8_t seq, uint8_t code, uint8_t offending_type,
                   const char *message);

#endif /* KILN_FRAME_H */
