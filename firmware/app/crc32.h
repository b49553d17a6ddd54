/* CRC-32 (IEEE 802.3, reflected, init and xorout 0xFFFFFFFF), as zlib.crc32. */
#ifndef KILN_CRC32_H
#define KILN_CRC32_H

#include <stdint.h>

#define KILN_CRC32_INIT 0xFFFFFFFFu

/* Feeds n bytes into a running CRC state (start from KILN_CRC32_INIT). */
uint32_t kiln_crc32_update(uint32_t state, const uint8_t *data, uint32_t n);

/* The final CRC value of a running state. */
static inline uint32_t kiln_crc32_final(uint32_t state) { return state ^ 0xFFFFFFFFu; }

#endif /* KILN_CRC32_H */
