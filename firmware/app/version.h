/* The firmware version: the one place it is written (INFO reports it). */
#ifndef KILN_VERSION_H
#define KILN_VERSION_H
#define KILN_FIRMWARE_VERSION "0.2.0"
/* The protocol's version (docs/protocol.md), in INFO: 2 lists every input and
 * output tensor, and INFER carries all inputs and returns all outputs. */
#define KILN_PROTOCOL_VERSION "2"
#endif
