/* The firmware version: the one place it is written (INFO reports it). */
#ifndef KILN_VERSION_H
#define KILN_VERSION_H
#define KILN_FIRMWARE_VERSION "0.1.0"
#endif
