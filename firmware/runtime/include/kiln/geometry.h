/*
 * Kiln runtime: the spatial geometry shared by every convolution-like and
 * pooling kernel (portable int8/float/hybrid convolutions, depthwise,
 * pooling, and the Cortex-M33 variants of kiln/dsp.h).
 *
 * One layer's window arithmetic, resolved when the model is compiled
 * (site_scons/kiln/codegen/geometry.py builds it from the .tflite): NHWC
 * input [in_h][in_w][in_c] and output [out_h][out_w][out_c], batch 1. Output
 * pixel (oy, ox) reads input rows oy * stride_h - pad_top + ky * dil_h for
 * ky in [0, k_h) (columns alike); taps outside the input are padding.
 *   pad_top / pad_left: SAME padding resolved as TFLite does,
 *     max(0, ((out - 1) * stride + (k - 1) * dil + 1 - in) / 2)
 *     with integer division (the smaller half goes before); 0 for VALID.
 *   Pooling: in_c == out_c (the channels), dil_h == dil_w == 1.
 *   Depthwise: out_c == in_c * depth multiplier (kept in the kernel's struct).
 *
 * It is the first member (`g`) of each parameter struct that has one, so a
 * kernel reads p->g.in_h at the same cost as a plain field.
 */
#ifndef KILN_GEOMETRY_H
#define KILN_GEOMETRY_H

#include <stdint.h>

typedef struct {
    uint16_t in_h, in_w, in_c;
    uint16_t out_h, out_w, out_c;
    uint16_t k_h, k_w;
    uint16_t stride_h, stride_w;
    uint16_t dil_h, dil_w;        /* dilation factors, 1 for none */
    int16_t pad_top, pad_left;
} kiln_geometry_t;

#endif /* KILN_GEOMETRY_H */
