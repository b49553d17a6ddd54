"""Fidelity of the DSP kernel set on the host: models compiled with
kernels="dsp" (the kernels' plain-C host path, same source as the target)
against tflite-micro, every int8 output identical.

* shapes aimed at each specialized kernel (and the fused conv + max pool),
  asserting that the specialized kernel was really chosen;
* the compiler's randomized per-operator suite (tests/opmodels.py), where no
  convolution, depthwise or fully connected layer may fall back to portable;
* layers patched as real training leaves them (zero filters, huge biases,
  large multipliers: tests/tflite_patch.py), still on their dsp kernels;
* fashion_mnist ptq on all 10,000 test images, cifar_cnn ptq on 300 images.
"""

from __future__ import annotations

import zlib

import numpy as np
import opmodels
import pytest
from kiln import datasets, hostcheck
from kiln.codegen.layout import Budget
from kiln.codegen.registry import entries
from support import run_both, variant_path

SAMPLES = 60


def _dsp_specs() -> list[tuple[str, object, tuple[int, ...], set[str]]]:
    """(name, builder, input shape, dsp kernels the model must use)."""
    k = opmodels._keras()
    L = k.layers
    seq = opmodels._seq

    def add_block(shape):
        inp = k.Input(shape=shape, batch_size=1)
        a = L.Conv2D(shape[2], 1)(inp)
        b = L.Conv2D(shape[2], 3, padding="same", activation="relu")(inp)
        return k.Model(inp, L.ReLU()(L.Add()([a, b])))

    def se_block(shape):
        inp = k.Input(shape=shape, batch_size=1)
        x = L.Conv2D(shape[2], 1)(inp)
        s = L.GlobalAveragePooling2D(keepdims=True)(x)
        s = L.Conv2D(shape[2], 1, activation="sigmoid")(s)
        return k.Model(inp, L.Multiply()([x, s]))

    def row_mean_block(shape):
        inp = k.Input(shape=shape, batch_size=1)
        x = L.Conv2D(shape[2], 1)(inp)
        m = L.AveragePooling2D((1, shape[1]))(x)          # [h, 1, c]
        return k.Model(inp, L.Concatenate()([L.Add()([x, m]), L.Subtract()([x, m])]))

    def layer_norm(shape):
        inp = k.Input(shape=shape, batch_size=1)
        return k.Model(inp, L.LayerNormalization()(L.Dense(shape[-1])(inp)))

    def sqdiff(shape):
        inp = k.Input(shape=shape, batch_size=1)
        a, b = L.Conv2D(shape[2], 1)(inp), L.Conv2D(shape[2], 3, padding="same")(inp)
        return k.Model(inp, L.Lambda(lambda t: opmodels._tf().math.squared_difference(t[0], t[1]))([a, b]))

    def attention(shape, heads=None):
        inp = k.Input(shape=shape, batch_size=1)
        if heads:
            return k.Model(inp, L.MultiHeadAttention(heads, 4)(inp, inp))
        tf = opmodels._tf()
        q, kk, v = L.Dense(shape[1])(inp), L.Dense(shape[1])(inp), L.Dense(5)(inp)
        a = L.Softmax()(L.Lambda(lambda t: tf.matmul(t[0], t[1], transpose_b=True))([q, kk]))
        return k.Model(inp, L.Lambda(lambda t: tf.matmul(t[0], t[1]))([a, v]))

    def matmul_2d(shape):
        inp = k.Input(shape=shape, batch_size=1)
        tf = opmodels._tf()
        x = L.Reshape(shape)(L.Dense(shape[1])(inp))
        return k.Model(inp, L.Lambda(lambda t: tf.matmul(t[0][0], t[1][0], transpose_b=True))([inp, x]))

    def matmul_ta(shape):
        inp = k.Input(shape=shape, batch_size=1)
        tf = opmodels._tf()
        a, b = L.Dense(6)(inp), L.Dense(11)(inp)
        return k.Model(inp, L.Lambda(lambda t: tf.matmul(t[0], t[1], transpose_a=True))([a, b]))

    def minmax_rows(shape):
        # min(x, its mean over the rows) and max(its mean over the columns, x): one operand
        # broadcast along an outer axis, on either side; rows of 84 and 12 (tails of 4)
        inp = k.Input(shape=shape, batch_size=1)
        tf = opmodels._tf()
        x = L.Conv2D(shape[2], 1)(inp)
        lo = L.Lambda(lambda t: tf.minimum(t, tf.reduce_mean(t, axis=1, keepdims=True)))(x)
        hi = L.Lambda(lambda t: tf.maximum(tf.reduce_mean(t, axis=2, keepdims=True), t))(x)
        return k.Model(inp, L.Concatenate()([lo, hi]))

    def max_branches(shape):
        inp = k.Input(shape=shape, batch_size=1)
        return k.Model(inp, L.Maximum()([L.Conv2D(8, 1)(inp), L.Conv2D(8, 3, padding="same")(inp)]))

    conv = "kiln_dsp_conv_s8"
    return [
        ("conv1_pool_fashion", lambda: seq((28, 28, 1), L.Conv2D(12, 3, activation="relu"),
                                           L.MaxPooling2D(2), L.Flatten(), L.Dense(10)),
         (28, 28, 1), {"kiln_dsp_conv1_pool_s8", "kiln_dsp_copy", "kiln_dsp_fc_s8"}),
        ("conv1_pool_odd_noact", lambda: seq((11, 9, 1), L.Conv2D(5, 3), L.MaxPooling2D(2)),
         (11, 9, 1), {"kiln_dsp_conv1_pool_s8"}),
        ("conv1_pool_relu6", lambda: seq((10, 12, 1), L.Conv2D(7, 3, activation="relu6"),
                                         L.MaxPooling2D(2)), (10, 12, 1), {"kiln_dsp_conv1_pool_s8"}),
        # 21 windows: a chunk of 16 ending mid-row, then an odd chunk of 5.
        ("conv1_pool_relu_chunks", lambda: seq((16, 9, 1), L.Conv2D(6, 3, activation="relu"),
                                               L.MaxPooling2D(2)), (16, 9, 1), {"kiln_dsp_conv1_pool_s8"}),
        ("conv_c4_same_relu", lambda: seq((9, 8, 4), L.Conv2D(8, 3, padding="same", activation="relu")),
         (9, 8, 4), {conv}),
        ("conv_c3_same_relu6", lambda: seq((10, 10, 3), L.Conv2D(16, 3, strides=2, padding="same",
                                                                  activation="relu6")), (10, 10, 3), {conv}),
        # 3x3 stems over 3 channels: fields patched together from the input rows; the
        # last fields would read past the input's end and take the gather instead
        ("stem3_valid_odd", lambda: seq((7, 9, 3), L.Conv2D(5, 3)), (7, 9, 3), {conv}),
        ("stem3_same_s1_relu", lambda: seq((8, 11, 3), L.Conv2D(8, 3, padding="same", activation="relu")),
         (8, 11, 3), {conv}),
        ("conv_c16_s2_odd_out", lambda: seq((9, 9, 16), L.Conv2D(7, 3, strides=2, padding="same")),
         (9, 9, 16), {conv}),
        ("conv_1x1", lambda: seq((5, 7, 12), L.Conv2D(12, 1)), (5, 7, 12), {conv}),
        # the MAC loop's 16-group run: exactly one (64 channels), two (128, an odd pixel
        # count), and part of one entered part-way with an end test (80: 20 groups)
        ("conv_1x1_c64", lambda: seq((4, 5, 64), L.Conv2D(10, 1)), (4, 5, 64), {conv}),
        ("conv_1x1_c128_odd_px", lambda: seq((3, 5, 128), L.Conv2D(6, 1)),
         (3, 5, 128), {conv}),
        ("conv_1x1_c80", lambda: seq((3, 4, 80), L.Conv2D(4, 1)), (3, 4, 80), {conv}),
        # kernel rows of one word (k_w * in_c == 4): DS-CNN's 10x4 stem over one channel
        # (SAME: rows above, below and across both edges), and 3x2 over two channels,
        # dilated along the height
        ("conv_rowword_c1_10x4_s2", lambda: seq((21, 10, 1), L.Conv2D(8, (10, 4), strides=2, padding="same",
                                                                      activation="relu")),
         (21, 10, 1), {conv}),
        ("conv_rowword_c2_dil_h", lambda: seq((11, 7, 2), L.Conv2D(6, (3, 2), dilation_rate=(2, 1),
                                                                    padding="same")),
         (11, 7, 2), {conv}),
        # a kernel wider than the input: rows crossing both edges, byte by byte
        ("conv_rowword_c1_narrow", lambda: seq((6, 3, 1), L.Conv2D(4, (3, 4), padding="same")), (6, 3, 1),
         {conv}),
        ("conv_dilated", lambda: seq((11, 11, 4), L.Conv2D(4, 3, dilation_rate=2, padding="same")),
         (11, 11, 4), {conv}),
        ("conv_5x5_c2", lambda: seq((9, 9, 2), L.Conv2D(6, 5, padding="same")), (9, 9, 2), {conv}),
        # dilated along the height only: the rows widened straight from the input are two
        # input rows apart (they were read as adjacent rows)
        ("conv_dil_h2_c8", lambda: seq((12, 9, 8), L.Conv2D(6, 3, dilation_rate=(2, 1), padding="same")),
         (12, 9, 8), {conv}),
        # K = 576 (Winograd in the speed layout); the size layout widens its weights in
        # three chunks (3, 3, 2 channel pairs)
        ("conv_k576_oc15", lambda: seq((5, 6, 64), L.Conv2D(15, 3, padding="same")), (5, 6, 64),
         {"kiln_dsp_wino_s8"}),
        # Winograd F(2x2, 3x3): SAME with odd output sides (tiles past the edge, an odd
        # number of tiles), VALID, a clamp, and 8 channels in (two groups)
        ("wino_c16_same_odd_relu", lambda: seq((9, 7, 16), L.Conv2D(16, 3, padding="same",
                                                                    activation="relu")),
         (9, 7, 16), {"kiln_dsp_wino_s8"}),
        ("wino_c8_valid_oc9", lambda: seq((8, 10, 8), L.Conv2D(9, 3)), (8, 10, 8), {"kiln_dsp_wino_s8"}),
        ("wino_c32_same_relu6", lambda: seq((6, 6, 32), L.Conv2D(8, 3, padding="same", activation="relu6")),
         (6, 6, 32), {"kiln_dsp_wino_s8"}),
        ("wino_c12_1x1_out", lambda: seq((3, 3, 12), L.Conv2D(10, 3)), (3, 3, 12), {"kiln_dsp_wino_s8"}),
        # the size layout's U in two blocks of 9 and 8 channel pairs (alone in its graph the
        # layer gets its smallest scratch), the last ending in an odd channel, the inputs
        # transformed again for the second
        ("wino_c64_blocks", lambda: seq((8, 10, 64), L.Conv2D(33, 3, padding="same")), (8, 10, 64),
         {"kiln_dsp_wino_s8"}),
        ("dw_c8_same_relu", lambda: seq((9, 10, 8), L.DepthwiseConv2D(3, padding="same",
                                                                      activation="relu")),
         (9, 10, 8), {"kiln_dsp_dw3x3_s8"}),
        ("dw_c16_s2", lambda: seq((10, 9, 16), L.DepthwiseConv2D(3, strides=2, padding="same")),
         (10, 9, 16), {"kiln_dsp_dwconv_s8"}),
        ("dw_c6_s2_valid_odd", lambda: seq((11, 9, 6), L.DepthwiseConv2D(3, strides=2)),
         (11, 9, 6), {"kiln_dsp_dwconv_s8"}),
        # the planar 3x3 kernel (stride 1): VALID, and an odd output width (its last step
        # computes one output too many, which is not stored)
        ("dw3_c5_valid_relu6", lambda: seq((13, 14, 5), L.DepthwiseConv2D(3, activation="relu6")),
         (13, 14, 5), {"kiln_dsp_dw3x3_s8"}),
        ("dw3_c3_same_w13", lambda: seq((12, 13, 3), L.DepthwiseConv2D(3, padding="same")),
         (12, 13, 3), {"kiln_dsp_dw3x3_s8"}),
        # taller than wide: the plane is the input transposed (rows along the width)
        ("dw3_c8_tall_odd", lambda: seq((21, 5, 8), L.DepthwiseConv2D(3, padding="same",
                                                                       activation="relu")),
         (21, 5, 8), {"kiln_dsp_dw3x3_s8"}),
        ("dw3_c4_tall_valid_relu6", lambda: seq((17, 6, 4), L.DepthwiseConv2D(3, activation="relu6")),
         (17, 6, 4), {"kiln_dsp_dw3x3_s8"}),
        # stride 2 on the plane: transposed with four planes; VALID over one plane (the
        # requantization one run); odd input, SAME padding on both sides, a clamp
        ("dw3s2_c8_same_tall", lambda: seq((26, 24, 8), L.DepthwiseConv2D(3, strides=2, padding="same",
                                                                           activation="relu")),
         (26, 24, 8), {"kiln_dsp_dw3x3_s8"}),
        ("dw3s2_c6_valid", lambda: seq((27, 30, 6), L.DepthwiseConv2D(3, strides=2)), (27, 30, 6),
         {"kiln_dsp_dw3x3_s8"}),
        ("dw3s2_c4_same_relu6", lambda: seq((25, 25, 4), L.DepthwiseConv2D(3, strides=2, padding="same",
                                                                            activation="relu6")),
         (25, 25, 4), {"kiln_dsp_dw3x3_s8"}),
        # four channels' planes per pass (three passes), an odd row: the copy's last element
        ("dw3_c12_w11", lambda: seq((7, 11, 12), L.DepthwiseConv2D(3, padding="same")),
         (7, 11, 12), {"kiln_dsp_dw3x3_s8"}),
        # the NHWC kernel's 3x3 path (taps written out) at stride 1, where the planar one
        # is slower: 3 outputs a row
        ("dw3_c32_same_w3", lambda: seq((3, 3, 32), L.DepthwiseConv2D(3, padding="same",
                                                                       activation="relu")),
         (3, 3, 32), {"kiln_dsp_dwconv_s8"}),
        # 1x1 over 8 channels: activations in registers; odd and even channel counts
        ("pw8_c16", lambda: seq((9, 7, 8), L.Conv2D(16, 1, activation="relu")), (9, 7, 8),
         {"kiln_dsp_pw8_s8"}),
        ("pw8_c5", lambda: seq((5, 6, 8), L.Conv2D(5, 1)), (5, 6, 8), {"kiln_dsp_pw8_s8"}),
        # under a ReLU without the rounding term of negative accumulators, odd channels
        ("pw8_c7_relu6", lambda: seq((6, 5, 8), L.Conv2D(7, 1, activation="relu6")), (6, 5, 8),
         {"kiln_dsp_pw8_s8"}),
        # 5x5 at stride 2: the NHWC kernel's tap table (stride 1 is kiln_dsp_dw5_s8's)
        ("dw_5x5_s2_c8", lambda: seq((8, 8, 8), L.DepthwiseConv2D(5, strides=2, padding="same")), (8, 8, 8),
         {"kiln_dsp_dwconv_s8"}),
        # 81 taps: the tap table is arena scratch, so no kernel size is too large
        ("dw_9x9_c6", lambda: seq((7, 8, 6), L.DepthwiseConv2D(9, padding="same")), (7, 8, 6),
         {"kiln_dsp_dwconv_s8"}),
        ("dense_64_11_relu", lambda: seq((64,), L.Dense(11, activation="relu")), (64,),
         {"kiln_dsp_fc_s8"}),
        ("dense_20_7", lambda: seq((20,), L.Dense(7)), (20,), {"kiln_dsp_fc_s8"}),
        # 10 rows: a block of 6, then one of 4 (11 groups: one alone, then five pairs).
        ("dense_44_10", lambda: seq((44,), L.Dense(10)), (44,), {"kiln_dsp_fc_s8"}),
        # 11 groups of 4 and a tail of 2 inputs; rows in blocks 6, 6, 2
        ("dense_46_14", lambda: seq((46,), L.Dense(14)), (46,), {"kiln_dsp_fc_s8"}),
        ("maxpool_c8_same", lambda: seq((9, 8, 8), L.Conv2D(6, 1), L.MaxPooling2D(3, 2, "same")),
         (9, 8, 8), {"kiln_dsp_maxpool_s8"}),
        # a model of a few hundred bytes over a 29x29x24 map: tflite-micro's default arena
        # (ten times the model) is too small; the oracle sizes it from the activations
        ("avgpool_c24_small_model", lambda: seq((29, 29, 24), L.AveragePooling2D(3, 2)), (29, 29, 24),
         {"kiln_dsp_avgpool_s8"}),
        ("avgpool_c8_same", lambda: seq((9, 8, 8), L.Conv2D(8, 1), L.AveragePooling2D(3, 2, "same")),
         (9, 8, 8), {"kiln_dsp_avgpool_s8"}),
        ("avgpool_global_c6", lambda: seq((8, 8, 6), L.Conv2D(6, 1), L.AveragePooling2D(8)),
         (8, 8, 6), {"kiln_dsp_avgpool_s8"}),
        # whole rows, eight channels a pass and two pixels a step: 25 pixels (the odd last),
        # 12 channels (a pass of 8, a group of 4)
        ("avgpool_global_c12_odd", lambda: seq((5, 5, 12), L.Conv2D(12, 1), L.AveragePooling2D(5)),
         (5, 5, 12), {"kiln_dsp_avgpool_s8"}),
        ("add_residual", lambda: add_block((6, 6, 8)), (6, 6, 8), {"kiln_dsp_add_s8"}),
        # broadcasting: a channel vector over every pixel (squeeze-excite's MUL, with its
        # sigmoid on the table kernel), a row mean over the middle axis (ADD, SUB)
        ("mul_se_block", lambda: se_block((5, 6, 12)), (5, 6, 12),
         {"kiln_dsp_mul_s8", "kiln_dsp_lut_s8"}),
        ("add_sub_row_mean", lambda: row_mean_block((4, 7, 6)), (4, 7, 6),
         {"kiln_dsp_add_s8"}),
        # SQUARED_DIFFERENCE: a layer normalization's (each row against its mean, broadcast),
        # and two tensors of one shape and different scales
        ("sqdiff_layer_norm", lambda: layer_norm((9, 24)), (9, 24), {"kiln_dsp_sqdiff_s8"}),
        ("sqdiff_two_convs", lambda: sqdiff((5, 6, 7)), (5, 6, 7), {"kiln_dsp_sqdiff_s8"}),
        # products of two activations: Q K^T (the right operand transposed, rows packed a
        # word at a time) and the weights times V (a strided right operand) with odd rows,
        # columns and a depth not a multiple of four; Keras' attention (batch of heads);
        # a rank-2 product the converter writes as FULLY_CONNECTED with runtime weights
        # one or two output channels (an autoencoder's grey image, a mask): SAME with
        # borders all round, a clamp; VALID with stride 2; dilation 2 (tap by tap runs);
        # 16 input channels and an odd output width (a last unpaired pixel)
        ("narrow_oc1_same", lambda: seq((9, 10, 8), L.Conv2D(1, 3, padding="same")), (9, 10, 8),
         {"kiln_dsp_conv_narrow_s8"}),
        ("narrow_oc2_relu6", lambda: seq((8, 7, 4), L.Conv2D(2, 3, padding="same", activation="relu6")),
         (8, 7, 4), {"kiln_dsp_conv_narrow_s8"}),
        ("narrow_oc1_s2_valid", lambda: seq((11, 12, 4), L.Conv2D(1, (3, 2), strides=2)), (11, 12, 4),
         {"kiln_dsp_conv_narrow_s8"}),
        ("narrow_oc2_dil2", lambda: seq((10, 11, 8), L.Conv2D(2, 3, dilation_rate=2, padding="same")),
         (10, 11, 8), {"kiln_dsp_conv_narrow_s8"}),
        ("narrow_oc1_c16_odd", lambda: seq((6, 9, 16), L.Conv2D(1, 5, padding="same")), (6, 9, 16),
         {"kiln_dsp_conv_narrow_s8"}),
        ("matmul_attention_odd", lambda: attention((7, 10)), (7, 10), {"kiln_dsp_matmul_s8"}),
        ("matmul_mha_3heads", lambda: attention((9, 12), heads=3), (9, 12), {"kiln_dsp_matmul_s8"}),
        ("matmul_fc_runtime", lambda: matmul_2d((6, 9)), (6, 9), {"kiln_dsp_matmul_s8"}),
        # TRANSPOSE moving the last axis: a 2-D one with row and column remainders, NHWC
        # to NCHW (two axes merged into the columns), and a rank-5 one with two outer axes
        ("transpose_2d_odd", lambda: seq((7, 10), L.Permute((2, 1))), (7, 10), {"kiln_dsp_transpose_s8"}),
        ("transpose_nchw", lambda: seq((5, 6, 8), L.Conv2D(8, 1), L.Permute((3, 1, 2))), (5, 6, 8),
         {"kiln_dsp_transpose_s8"}),
        ("transpose_rank5", lambda: seq((10, 4, 6), L.Reshape((2, 5, 4, 6)), L.Permute((3, 1, 4, 2)),
                                        L.Reshape((8, 30))), (10, 4, 6), {"kiln_dsp_transpose_s8"}),
        # both operands' rows adjacent in memory (A^T B): packed as 4x4 tiles, with a row
        # and depth remainder each
        ("matmul_ta_tiles", lambda: matmul_ta((9, 12)), (9, 12), {"kiln_dsp_matmul_s8"}),
        # global average pooling (MEAN): 10 channels (a tail of 2), and 272 pixels (the
        # 16-bit lanes are flushed after 255)
        ("mean_gap_c10", lambda: seq((6, 7, 10), L.Conv2D(10, 1), L.GlobalAveragePooling2D()),
         (6, 7, 10), {"kiln_dsp_mean_s8"}),
        ("mean_gap_272px", lambda: seq((17, 16, 8), L.Conv2D(8, 1), L.GlobalAveragePooling2D()),
         (17, 16, 8), {"kiln_dsp_mean_s8"}),
        # bilinear resizing: 2x up with half-pixel centers (positions below 0 at the
        # edges), and align_corners down to an odd size over 6 channels (a tail of 2)
        # MAXIMUM and MINIMUM: hard_sigmoid's clips (a scalar operand) over 210 values (a
        # tail), the max of two branches, operands broadcast along an outer axis
        ("minmax_hard_sigmoid", lambda: seq((5, 7, 6), L.Conv2D(6, 1), L.Activation("hard_sigmoid")),
         (5, 7, 6), {"kiln_dsp_minimum_s8"}),
        ("maximum_branches", lambda: max_branches((6, 5, 4)), (6, 5, 4), {"kiln_dsp_maximum_s8"}),
        ("minmax_rows", lambda: minmax_rows((5, 7, 12)), (5, 7, 12),
         {"kiln_dsp_minimum_s8", "kiln_dsp_maximum_s8"}),
        # RESIZE_NEAREST_NEIGHBOR: a factor of 2 over 16 channels (every second row a copy
        # of the one before), 4 channels to 9x11 (uneven sources), 3 channels down to 5x4
        ("nearest_up2_c16", lambda: seq((5, 7, 16), L.Conv2D(16, 1), L.UpSampling2D(2)), (5, 7, 16),
         {"kiln_dsp_resize_nearest_s8"}),
        ("nearest_c4_9x11", lambda: seq((4, 5, 4), L.Conv2D(4, 1),
                                        L.Resizing(9, 11, interpolation="nearest")),
         (4, 5, 4), {"kiln_dsp_resize_nearest_s8"}),
        ("nearest_c3_down", lambda: seq((9, 10, 3), L.Conv2D(3, 1),
                                        L.Resizing(5, 4, interpolation="nearest")),
         (9, 10, 3), {"kiln_dsp_resize_nearest_s8"}),
        ("resize_up2_c8", lambda: seq((5, 6, 8), L.Conv2D(8, 1),
                                      L.UpSampling2D(2, interpolation="bilinear")),
         (5, 6, 8), {"kiln_dsp_resize_bilinear_s8"}),
        ("resize_ac_down_c6", lambda: seq((9, 11, 6), L.Conv2D(6, 1), L.Lambda(
            lambda x: opmodels._tf().compat.v1.image.resize_bilinear(x, (5, 7), align_corners=True))),
         (9, 11, 6), {"kiln_dsp_resize_bilinear_s8"}),
        # 5-tap depthwise rows, planar: an odd output width with a clamp, VALID, a 1x5
        # kernel, and a map taller than one band of accumulators (two passes)
        ("dw5_c8_same_relu6", lambda: seq((14, 13, 8), L.DepthwiseConv2D(5, padding="same",
                                                                         activation="relu6")),
         (14, 13, 8), {"kiln_dsp_dw5_s8"}),
        ("dw5_c6_valid", lambda: seq((11, 12, 6), L.DepthwiseConv2D(5)), (11, 12, 6), {"kiln_dsp_dw5_s8"}),
        ("dw5_1x5_c4", lambda: seq((6, 10, 4), L.DepthwiseConv2D((1, 5), padding="same")), (6, 10, 4),
         {"kiln_dsp_dw5_s8"}),
        ("dw5_c4_bands", lambda: seq((30, 40, 4), L.DepthwiseConv2D(5, padding="same")), (30, 40, 4),
         {"kiln_dsp_dw5_s8"}),
        # global max pooling (REDUCE_MAX over the rows and columns, channels kept), a time
        # series' max over 10 channels (a tail of 2), and a min over the middle axis only
        ("reduce_max_gmp_c12", lambda: seq((5, 6, 12), L.Conv2D(12, 1), L.GlobalMaxPooling2D()),
         (5, 6, 12), {"kiln_dsp_reduce_minmax_s8"}),
        ("reduce_max_1d_c10", lambda: seq((17, 3), L.Conv1D(10, 3), L.GlobalMaxPooling1D()),
         (17, 3), {"kiln_dsp_reduce_minmax_s8"}),
        # MEAN and SUM on tflite-micro's general path: a Conv1D net's global average pool
        # (the last axis kept: 10 channels, a tail of 2; 40 channels, two chunks), a sum
        # over the last axis of odd length (a tail of 1)
        ("mean_gap1d_c10", lambda: seq((17, 3), L.Conv1D(10, 3), L.GlobalAveragePooling1D()),
         (17, 3), {"kiln_dsp_reduce_sum_s8"}),
        ("mean_gap1d_c40", lambda: seq((21, 5), L.Conv1D(40, 3), L.GlobalAveragePooling1D()),
         (21, 5), {"kiln_dsp_reduce_sum_s8"}),
        ("sum_last_axis_13", lambda: seq((5, 9), L.Dense(13), L.Lambda(
            lambda x: opmodels._tf().reduce_sum(x, axis=-1, keepdims=True))), (5, 9),
         {"kiln_dsp_reduce_sum_s8"}),
        ("reduce_min_rows_c8", lambda: seq((4, 5, 8), L.Conv2D(8, 1), L.Lambda(
            lambda x: opmodels._tf().reduce_min(x, axis=1))), (4, 5, 8), {"kiln_dsp_reduce_minmax_s8"}),
        # three batch rows of 18 inputs (the size layout splits each row's input anew)
        ("dense_b3_18_8", lambda: seq((3, 18), L.Dense(8, activation="relu")), (3, 18),
         {"kiln_dsp_fc_s8"}),
        # one-byte kernel rows (3x1 over one channel, stride 2): gathered exactly, a word
        # copy per row wrote past the gather buffer (tests/fuzz/nets.py found it)
        ("conv_3x1_c1_s2", lambda: seq((7, 12, 1), L.Conv2D(8, (3, 1), strides=2, activation="relu")),
         (7, 12, 1), {"kiln_dsp_conv_s8"}),
        ("conv_7x1_c1", lambda: seq((9, 5, 1), L.Conv2D(6, (7, 1), padding="same")), (9, 5, 1),
         {"kiln_dsp_conv_s8"}),
        # a dense layer over a sequence's rows runs as a 1x1 convolution over them: 16 rows
        # (pixel pairs), and 5 rows of 12 to 7 outputs (an odd last row and channel)
        ("dense_rows_16x32_relu", lambda: seq((16, 32), L.Dense(24, activation="relu")), (16, 32),
         {"kiln_dsp_conv_s8"}),
        ("dense_rows_5x12", lambda: seq((5, 12), L.Dense(7)), (5, 12), {"kiln_dsp_conv_s8"}),
    ]


DSP_SPECS = _dsp_specs()
OP_SPECS = opmodels.op_specs()


class Converted(dict):
    """The models of both suites, each converted on first use (a fast-loop test that
    needs two of them does not pay for all)."""

    def __init__(self, out) -> None:
        super().__init__()
        self.out = out

    def __missing__(self, name: str):
        dsp = [i for i, s in enumerate(DSP_SPECS) if s[0] == name]
        if dsp:
            i, builder, stem, base = dsp[0], DSP_SPECS[dsp[0]][1], name, 900
        else:
            i = next(i for i, s in enumerate(OP_SPECS) if s[0] == name)
            builder, stem, base = OP_SPECS[i][1], f"op_{name}", 100
        path = self.out / f"{stem}.tflite"
        path.write_bytes(opmodels.convert(opmodels.build(builder, base + i), int8=True, seed=i))
        self[name] = path
        return path


@pytest.fixture(scope="module")
def converted(dsp_spec_models) -> dict:
    return dsp_spec_models


def _check(path, seed: int, budget: Budget | None = None) -> tuple[hostcheck.HostCheckResult, set[str]]:
    return opmodels.check_random(path, seed, SAMPLES, kernels="dsp", budget=budget)


#: Specs run again in the size layout (int8 weights: OPTIMIZE=size), with the kernels
#: they must then use.
SIZE_SPECS = {"dense_64_11_relu": {"kiln_dsp_fc_w8_s8"}, "dense_20_7": {"kiln_dsp_fc_w8_s8"},
              "dense_46_14": {"kiln_dsp_fc_w8_s8"}, "dense_b3_18_8": {"kiln_dsp_fc_w8_s8"},
              "dense_rows_16x32_relu": {"kiln_dsp_conv_w8_s8"},
              "conv1_pool_fashion": {"kiln_dsp_fc_w8_s8", "kiln_dsp_conv_w8_s8"},
              "conv_c3_same_relu6": {"kiln_dsp_conv_w8_s8"},
              "conv_c16_s2_odd_out": {"kiln_dsp_conv_w8_s8"},
              "conv_5x5_c2": {"kiln_dsp_conv_w8_s8"},
              # Winograd with U made at run time: every tile pair's inputs kept (an odd
              # last tile and channel; 1x1 outputs), every pair's U kept (a clamp, odd
              # output sides), U in blocks
              "conv_k576_oc15": {"kiln_dsp_wino_w8_s8"}, "wino_c64_blocks": {"kiln_dsp_wino_w8_s8"},
              "wino_c16_same_odd_relu": {"kiln_dsp_wino_w8_s8"}, "wino_c8_valid_oc9": {"kiln_dsp_wino_w8_s8"},
              "wino_c32_same_relu6": {"kiln_dsp_wino_w8_s8"}, "wino_c12_1x1_out": {"kiln_dsp_wino_w8_s8"},
              "dw_c8_same_relu": {"kiln_dsp_dw3x3_w8_s8"}, "dw3_c8_tall_odd": {"kiln_dsp_dw3x3_w8_s8"},
              "dw3_c5_valid_relu6": {"kiln_dsp_dw3x3_w8_s8"}, "dw3s2_c6_valid": {"kiln_dsp_dw3x3_w8_s8"},
              "dw_c16_s2": {"kiln_dsp_dwconv_w8_s8"}}


def test_specs_reach_every_dsp_kernel() -> None:
    """Between them the specs above, the table kernels' models (test_dsp_tables), the
    float kernels' (test_dsp_float) and the sparse ones' (test_dsp_sparse) claim every
    kernel the dsp set registers (the tests using them check the claim)."""
    import test_dsp_float
    import test_dsp_sparse
    import test_dsp_tables

    claimed = set().union(*(s[3] for s in DSP_SPECS), *SIZE_SPECS.values(), test_dsp_tables.KERNELS,
                          test_dsp_float.FLOAT_KERNELS, test_dsp_sparse.SPARSE)
    assert claimed == {impl.func for impl in entries("dsp")}


@pytest.mark.parametrize("name", sorted(SIZE_SPECS))
def test_size_layout_identical(converted: dict, name: str) -> None:
    """With int8 weights the FC kernel widens them itself, and the convolution kernel
    widens them into arena scratch chunk by chunk: bits unchanged."""
    res, kernels = _check(converted[name], seed=zlib.crc32(name.encode()) % 1000,
                          budget=Budget("size", min_saving=0))
    assert SIZE_SPECS[name] <= kernels, f"{name}: expected {SIZE_SPECS[name]}, the generator chose {kernels}"
    assert not any(k in kernels for k in ("kiln_dsp_fc_s8", "kiln_dsp_conv1_pool_s8"))
    assert res.ok and res.identical_samples == SAMPLES, res.summary()


@pytest.mark.slow
@pytest.mark.parametrize("name", [s[0] for s in DSP_SPECS])
def test_specialized_kernel_identical(converted: dict, name: str) -> None:
    expected = next(s[3] for s in DSP_SPECS if s[0] == name)
    res, kernels = _check(converted[name], seed=zlib.crc32(name.encode()) % 1000)
    assert expected <= kernels, f"{name}: expected {expected}, the generator chose {kernels}"
    assert res.ok and res.identical_samples == SAMPLES, res.summary()


@pytest.mark.slow
@pytest.mark.parametrize("name", [s[0] for s in OP_SPECS])
def test_operator_suite_identical_with_dsp_kernels(converted: dict, name: str) -> None:
    res, _ = _check(converted[name], seed=zlib.crc32(name.encode()) % 1000)
    assert res.ok and res.identical_samples == SAMPLES, res.summary()


@pytest.mark.slow
def test_no_weighted_layer_falls_back_to_portable(converted: dict) -> None:
    """Every convolution, depthwise and fully connected layer of the operator
    suite (depth multipliers, odd channel counts and input lengths included)
    runs a dsp kernel."""
    portable = []
    for name, _, _ in OP_SPECS:
        hm = hostcheck.HostModel(converted[name], kernels="dsp")
        try:
            portable += [(name, la.op, la.kernel) for la in hm.model.layers
                         if la.op in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")
                         and not la.kernel.startswith("kiln_dsp_")]
        finally:
            hm.close()
    assert portable == []


@pytest.mark.slow
def test_fashion_mnist_ptq_all_test_images_identical() -> None:
    images, _ = datasets.load_fashion_mnist("test")
    res, kernels = run_both(variant_path("fashion_mnist", "ptq"),
                            images.astype(np.float32) / np.float32(255.0), kernels="dsp")
    assert kernels[:3] == ["kiln_dsp_conv1_pool_s8", "kiln_dsp_copy", "kiln_dsp_fc_s8"]
    assert res.samples == 10000 and res.ok and res.identical_samples == 10000, res.summary()


@pytest.mark.slow
def test_cifar_cnn_ptq_identical() -> None:
    images, _ = datasets.synthetic_images(300, (32, 32, 3), 10, seed=5)
    res, kernels = run_both(variant_path("cifar_cnn", "ptq"),
                            images.astype(np.float32) / np.float32(255.0), kernels="dsp")
    assert {"kiln_dsp_conv_s8", "kiln_dsp_dw3x3_s8", "kiln_dsp_add_s8", "kiln_dsp_avgpool_s8",
            "kiln_dsp_fc_s8"} <= set(kernels)
    assert res.ok and res.identical_samples == 300, res.summary()


# ---- what real training leaves behind -------------------------------------------------

def _trained_specs() -> list[tuple[str, object, tuple[int, ...], set[str]]]:
    """Layers of every shape the dsp kernels used to hand back to portable,
    patched (tests/tflite_patch.py) with zero filters, huge biases and large
    multipliers: each must still run its dsp kernel, bit-exact."""
    k = opmodels._keras()
    L = k.layers
    seq = opmodels._seq
    conv, dw, dw3, fc = "kiln_dsp_conv_s8", "kiln_dsp_dwconv_s8", "kiln_dsp_dw3x3_s8", "kiln_dsp_fc_s8"
    return [
        ("t_conv1_pool", lambda: seq((12, 10, 1), L.Conv2D(8, 3, activation="relu"), L.MaxPooling2D(2)),
         (12, 10, 1), {"kiln_dsp_conv1_pool_s8"}),
        # 3x3 at stride 1: Winograd, its outputs through the general requantization
        ("t_conv_c8", lambda: seq((7, 6, 8), L.Conv2D(12, 3, padding="same", activation="relu")),
         (7, 6, 8), {"kiln_dsp_wino_s8"}),
        ("t_conv_c4", lambda: seq((7, 6, 4), L.Conv2D(12, 3, padding="same", activation="relu")),
         (7, 6, 4), {conv}),
        ("t_conv_1x1", lambda: seq((6, 5, 16), L.Conv2D(16, 1)), (6, 5, 16), {conv}),
        # over 8 channels: kiln_dsp_pw8_s8 takes no exact records, so the general kernel does
        ("t_pw8", lambda: seq((6, 5, 8), L.Conv2D(10, 1)), (6, 5, 8), {conv}),
        ("t_conv_wide_c3", lambda: seq((14, 14, 3), L.Conv2D(6, 11, padding="same")), (14, 14, 3), {conv}),
        # taller than wide: the planar kernel's transposed plane with exact records
        ("t_dw_c8", lambda: seq((8, 7, 8), L.DepthwiseConv2D(3, padding="same", activation="relu6")),
         (8, 7, 8), {dw3}),
        ("t_dw3_c8", lambda: seq((10, 13, 8), L.DepthwiseConv2D(3, padding="same", activation="relu6")),
         (10, 13, 8), {dw3}),
        # the planar kernel at stride 2 (four planes), and a 3-channel stem's inline fields
        ("t_dw3s2_c8", lambda: seq((26, 24, 8), L.DepthwiseConv2D(3, strides=2, padding="same")),
         (26, 24, 8), {dw3}),
        ("t_stem3", lambda: seq((12, 11, 3), L.Conv2D(8, 3, strides=2, padding="same", activation="relu")),
         (12, 11, 3), {conv}),
        # 5-tap rows, planar, with exact records
        ("t_dw5_c8", lambda: seq((9, 10, 8), L.DepthwiseConv2D(5, padding="same", activation="relu6")),
         (9, 10, 8), {"kiln_dsp_dw5_s8"}),
        ("t_dw_c6_m2", lambda: seq((7, 8, 6), L.DepthwiseConv2D(3, depth_multiplier=2, padding="same")),
         (7, 8, 6), {dw}),
        ("t_dw_c5_s2", lambda: seq((9, 9, 5), L.DepthwiseConv2D(3, strides=2, padding="same")),
         (9, 9, 5), {dw}),
        ("t_dw_c1_m8", lambda: seq((9, 8, 1), L.DepthwiseConv2D(3, depth_multiplier=8)), (9, 8, 1), {conv}),
        ("t_dense_21_9", lambda: seq((21,), L.Dense(9, activation="relu")), (21,), {fc}),
        ("t_dense_6_5", lambda: seq((6,), L.Dense(5)), (6,), {fc}),
        ("t_dense_rows_6x20", lambda: seq((6, 20), L.Dense(9, activation="relu")), (6, 20), {conv}),
    ]


TRAINED_SPECS = _trained_specs()


class _Trained(dict):
    """The specs above, each converted on first use, then patched as trained models are."""

    def __init__(self, out) -> None:
        super().__init__()
        self.out = out

    def __missing__(self, name: str):
        import tflite_patch

        i, (_, builder, _, _) = next((i, s) for i, s in enumerate(TRAINED_SPECS) if s[0] == name)
        blob = opmodels.convert(opmodels.build(builder, 700 + i), int8=True, seed=i)
        path = self.out / f"{name}.tflite"
        path.write_bytes(tflite_patch.as_trained(blob, np.random.default_rng(i)))
        self[name] = path
        return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict:
    return _Trained(tmp_path_factory.mktemp("dsptrained"))


@pytest.mark.slow
@pytest.mark.parametrize("name", [s[0] for s in TRAINED_SPECS])
def test_trained_layers_keep_their_dsp_kernel(trained: dict, name: str) -> None:
    _check_trained(trained, name)


def _check_trained(trained: dict, name: str) -> None:
    expected = next(s[3] for s in TRAINED_SPECS if s[0] == name)
    res, kernels = _check(trained[name], seed=zlib.crc32(name.encode()) % 1000)
    assert expected <= kernels, f"{name}: expected {expected}, the generator chose {kernels}"
    assert res.ok and res.identical_samples == SAMPLES, res.summary()


@pytest.mark.slow
@pytest.mark.parametrize("kernels", ["portable", "dsp"])
def test_dead_channel_with_a_saturated_bias(tmp_path, kernels: str) -> None:
    """An all-zero filter whose float bias is not zero: its weight scale is 0, so the
    converter's int32 bias saturates near INT32_MAX. Nothing is added to it, so no
    accumulator can overflow; Kiln refused the layer (a bound of 255 * 128 per product,
    whatever the weights) and now bounds each channel by its own weights."""
    import tflite_patch

    L = opmodels._keras().layers
    model = opmodels.build(lambda: opmodels._seq((6, 5, 40), L.Conv2D(24, 3, padding="same")), 17)
    blob = bytearray(opmodels.convert(model, int8=True, seed=17))
    (_, w, bias, _), = tflite_patch.weighted_layers(blob)
    wq, scales = tflite_patch.tensor_data(blob, w, np.int8), tflite_patch.tensor_scales(blob, w)
    bq = tflite_patch.tensor_data(blob, bias, np.int32)
    wq.reshape(24, -1)[5] = 0
    scales[5] = 0.0
    bq[5] = (1 << 31) - 9
    # a full-range channel beside it keeps the old bound's verdict (360 products) relevant
    assert 360 * 255 * 128 + int(bq[5]) >= 1 << 31
    path = tmp_path / "dead.tflite"
    path.write_bytes(bytes(blob))
    res, _ = opmodels.check_random(path, 17, SAMPLES, kernels=kernels)
    assert res.ok and res.identical_samples == SAMPLES, res.summary()


def test_report_says_why_a_layer_runs_portable(tmp_path) -> None:
    """A 9x9 depthwise layer (81 taps) keeps its dsp kernel; an average pool over 289
    pixels (past the dsp kernel's 16-bit lane sums) runs portable, and the compiler's
    report (kiln_layers.json beside the C, printed by `scons info`) names the dsp kernel
    passed over with its reason; layers on their dsp kernel carry none."""
    import json

    from kiln import codegen, paths

    L = opmodels._keras().layers
    model = opmodels.build(lambda: opmodels._seq((17, 17, 4), L.DepthwiseConv2D(9, padding="same"),
                                                 L.AveragePooling2D(17), L.Conv2D(4, 1)), 5)
    src = tmp_path / "dw81.tflite"
    src.write_bytes(opmodels.convert(model, int8=True))
    codegen.generate(src, tmp_path / "gen", kernels="dsp")
    rep = json.loads((tmp_path / "gen" / paths.LAYERS_REPORT).read_text())
    (dw, pool, conv) = rep["layers"]
    assert dw["kernel"] == "kiln_dsp_dwconv_s8" and dw["passed_over"] == ""
    assert pool["kernel"] == "kiln_avgpool_s8"
    assert "kiln_dsp_avgpool_s8: window above 256 pixels" in pool["passed_over"]
    assert conv["kernel"] == "kiln_dsp_conv_s8" and conv["passed_over"] == ""


@pytest.mark.slow
@pytest.mark.parametrize("name,kernel", [("t_dense_21_9", "kiln_dsp_fc_w8_s8"),
                                         ("t_dense_6_5", "kiln_dsp_fc_w8_s8"),
                                         ("t_dense_rows_6x20", "kiln_dsp_conv_w8_s8"),
                                         ("t_conv_c8", "kiln_dsp_wino_w8_s8"),
                                         ("t_conv_1x1", "kiln_dsp_conv_w8_s8"),
                                         ("t_dw_c1_m8", "kiln_dsp_conv_w8_s8"),
                                         ("t_dw_c6_m2", "kiln_dsp_dwconv_w8_s8"),
                                         ("t_dw_c5_s2", "kiln_dsp_dwconv_w8_s8")])
def test_trained_layers_in_the_size_layout(trained: dict, name: str, kernel: str) -> None:
    """Zero filters, huge biases and large multipliers on the int8-weight kernels: their
    exact records and widened weights give the reference's bits."""
    res, kernels = _check(trained[name], seed=zlib.crc32(name.encode()) % 1000,
                          budget=Budget("size", min_saving=0))
    assert kernel in kernels, kernels
    assert res.ok and res.identical_samples == SAMPLES, res.summary()
