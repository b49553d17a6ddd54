/*
 * Kiln runtime: optimized int8 kernels for cores with the DSP extension of
 * Armv7E-M and Armv8-M Mainline: Cortex-M4, M7, M33 (firmware/runtime/dsp/).
 * The code generator (site_scons/kiln/kernels_dsp.py) picks one per layer
 * when the board's core has the extension and the layer meets the kernel's conditions; every other layer
 * runs the portable kernel of kiln/kernels.h. Outputs are bit-identical to
 * the portable kernels (and so to tflite-micro).
 *
 * Shared conventions, all established at build time:
 *
 *  - Weights are pre-widened to int16 and doubled: the accumulator holds
 *    acc2 = 2 * acc, which the requantization below needs. The build checks
 *    that |acc2| < 2^31 for every possible input.
 *  - Four consecutive K elements (k0 k1 k2 k3) are stored as the two pairs
 *    [k0, k2], [k1, k3]: that is the order SXTB16 and SXTB16 ROR #8 widen a
 *    loaded word of four int8 activations into, so activations need no
 *    shuffling before SMLAD.
 *  - The input offset (-zero point) is folded into the bias:
 *    bias' = 2 * (bias + in_offset * sum(w)). A tap in the padding then has
 *    to contribute -in_offset * w, which is exactly what an activation equal
 *    to the input zero point contributes: the kernels pad with the zero point.
 *  - Arrays the kernels read with LDRD/LDM are word aligned (weights are
 *    declared 8-byte aligned, the arena scratch is 4-byte aligned).
 *
 * Requantization (kiln_dsp_rq_t): for an output channel with TFLite
 * multiplier M > 0 and shift -e with e in 1..30 (a layer with a multiplier
 * of 0.5 or more, shift >= 0, keeps its portable kernel), output zero
 * point z:
 *     t = SMMLAR(acc2, M, round) + (acc2 >> 31)      round = 2^(e-1) + z * 2^e
 *     q = SSAT8(t >> e)   (then clamped to the activation range if narrower)
 * equals clamp(kiln_requantize(acc, M, -e) + z) bit for bit. Proof:
 *  1. SMMLAR gives round + floor((acc2 * M + 2^31) / 2^32)
 *     = round + floor((acc * M + 2^30) / 2^31). TFLite's doubling high
 *     multiply is (acc*M + 2^30) >> 31 for acc*M >= 0 and truncates
 *     (acc*M + 1 - 2^30) / 2^31 toward zero otherwise; for a negative
 *     numerator n, trunc(n / 2^31) = floor((n + 2^31 - 1) / 2^31)
 *     = floor((acc*M + 2^30) / 2^31). So both cases are y = floor((acc*M +
 *     2^30) / 2^31) (its saturating case needs M = INT32_MIN: excluded).
 *  2. TFLite's rounding divide by 2^e (e >= 1), ties away from zero, is
 *     floor((y + 2^(e-1) - [y < 0]) / 2^e): for y >= 0 it adds one exactly
 *     when the remainder is >= 2^(e-1); for y < 0 when it is > 2^(e-1).
 *  3. [y < 0] may be replaced by [acc < 0] = -(acc2 >> 31): M > 0 makes
 *     y >= 0 when acc >= 0 and y <= 0 when acc < 0; they differ only for
 *     y = 0, acc < 0, where floor((2^(e-1) - 1) / 2^e) = 0 = floor(2^(e-1)
 *     / 2^e).
 *  4. Adding z * 2^e inside the floor adds z outside it; the build checks
 *     that |acc| + 2 + |round| < 2^31, so no intermediate sum wraps.
 * tests/test_dsp_requant.py checks it against kiln_requantize() on a
 * million random cases and on every rounding tie it can construct.
 * When the activation clamp's lower bound is at or above z, the term
 * (acc2 >> 31) may be dropped: it is nonzero only for acc < 0, where M > 0
 * makes y <= 0, so q <= z with it or without it (floor((2^(e-1) + y) / 2^e)
 * <= 0), and the clamp lifts both to its lower bound.
 *
 * Max-pool fusion: the requantization q(acc) is non-decreasing in acc,
 * with TFLite's own rounding: M > 0 makes acc -> acc*M + 2^30 increasing;
 * floor() is non-decreasing; the rounding divide is a floor of y + a term
 * that only grows with y (step 2, ties included); adding z, SSAT and the
 * activation clamp are non-decreasing. So for the accumulators acc_i of one
 * channel over a pool window (the same bias b, M, e and z for all of them):
 *     max_i q(acc_i + b) = q(max_i(acc_i) + b),
 * and the pool's own clamp, also monotonic, commutes with it. A 3x3
 * convolution followed by a 2x2 stride-2 VALID max pool (which reads only
 * convolution outputs) therefore requantizes once per pooled output.
 * The exact path below is monotonic too (kiln_requantize with M >= 0), so
 * the fusion holds for every record.
 *
 * A zero multiplier (a channel whose filter is all zeros has scale 0,
 * which real training leaves behind) takes the fast path with e = 1 and
 * bias' = 0: SMMLAR then returns `round` = 1 + 2z whatever acc2 is, and
 * (1 + 2z - 1 or 1 + 2z) >> 1 = z, which is kiln_requantize(acc, 0, s) + z.
 *
 * Exact records. A channel the fast step cannot take (a multiplier of 0.5
 * or more, a right shift above 30, or a bias so large that the doubled
 * accumulator or the rounding sum could leave int32: large trained biases
 * over near-zero filters do that) keeps the optimized kernel with an exact
 * record, marked by a negative shift field:
 *     bias  = 2 * in_offset * sum(w)     (the accumulator starts bias-free)
 *     mult  = M, round = the int32 bias,
 *     shift = INT32_MIN | (z & 0xFF) << 8 | (s & 0xFF)   (s: TFLite's shift)
 * and kiln_dsp_requant_exact() computes acc = acc2 / 2 + bias, then
 * clamp(kiln_requantize(acc, M, s) + z), the portable arithmetic itself.
 * The build checks |acc2| < 2^31 and that acc + bias cannot wrap. A layer
 * with exact records sets `exact`, which selects a copy of the kernel that
 * tests the sign of the shift field per output; the others pay nothing.
 */
#ifndef KILN_DSP_KERNELS_H
#define KILN_DSP_KERNELS_H

#include <stdint.h>

#include "kiln/kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One output channel's accumulator start and requantization constants. */
typedef struct {
    int32_t bias;    /* 2 * (bias + in_offset * sum(w)) */
    int32_t mult;    /* Q31 multiplier, > 0 */
    int32_t round;   /* 2^(e-1) + out_zero_point * 2^e */
    int32_t shift;   /* e, 1..30 */
} kiln_dsp_rq_t;

/* CONV_2D, any geometry: im2col of two output pixels at a time into
 * `scratch` (int16, [k/4][pixel][2]), then two pixels x two output channels
 * per inner step (8 SMLAD per four K elements).
 *   w: the weight stream, per output channel pair (a missing odd last
 *      channel all zeros, its record {0, 0, 1, 1}): the four accumulators'
 *      biases (int32: c, c+1, c, c+1), the weights as int16 [k_len/4][2
 *      channels][2 pairs], then the two kiln_dsp_rq_t (k_len +
 *      KILN_CONV_PAIR_EXTRA words a pair); k_len = k_h*k_w*in_c rounded up to 4 (the extra K elements
 *      have zero weights). rq is NULL: the records are in the stream.
 *   scratch: 4 * k_len bytes of arena, 4-byte aligned (planned for this
 *   layer's step by the generator); when in_c is not a multiple of 4, the
 *   k_len bytes after it are `gather`, where a receptive field is collected
 *   as int8 before it is widened (NULL otherwise). */
typedef struct {
    kiln_geometry_t g;           /* kiln/geometry.h */
    uint16_t k_len;
    int8_t pad_value;            /* the input zero point (see above) */
    uint8_t clamp;               /* 1: act range narrower than [-128, 127] */
    uint8_t exact;               /* 1: some records are exact (see above) */
    uint8_t floor;               /* act_min >= the output zero point (kiln_dsp_requant_floor) */
    int32_t act_min, act_max;
    const int16_t *w;
    const kiln_dsp_rq_t *rq;    /* out_c entries */
    int16_t *scratch;
    int8_t *gather;
    /* The size layout (kiln_dsp_conv_w8_s8) only (with rq): */
    const int8_t *w8;            /* int8 [ceil(out_c/2)][k_len/4][2 channels][4], as stored */
    int16_t *wbuf;               /* arena scratch: chunk_pairs pairs of the stream's form */
    uint16_t chunk_pairs;        /* output channel pairs widened at a time */
    /* The block-sparse layout (kiln_dsp_conv_sparse_s8) only, see below: */
    const uint32_t *nz_start;    /* ceil(out_c/2) + 1 offsets into nz_idx */
    const uint16_t *nz_idx;      /* per channel pair, its nonzero K groups' numbers */
} kiln_dsp_conv_params_t;

/* A channel pair's words in the weight stream besides its K groups. */
#define KILN_CONV_PAIR_EXTRA 12u

void kiln_dsp_conv_s8(const kiln_dsp_conv_params_t *p, const int8_t *in, int8_t *out);

/* CONV_2D 3x3, stride 1, dilation 1, in_c a multiple of 4, by Winograd's
 * F(2x2, 3x3) in exact integer arithmetic (wino_s8.c): per 2x2 output tile
 * and input channel, 16 products in the transformed domain against 36.
 *   w: int16 U = (2G) g (2G)^T per output and input channel (|U| <= 9 * 127),
 *      [ceil(out_c/2)][16 positions][in_c/4][2 channels][2 pairs] in SXTB16
 *      order (a missing odd last channel all zeros).
 *   v: arena scratch, 64 * in_c bytes: two tiles' transformed inputs,
 *      [16][in_c/4][2 tiles][2 pairs] int16;
 *   m: arena scratch, 256 bytes: one channel pair's products, [16][4] int32;
 *   zrow: arena scratch, in_c bytes: the padding cells' (pad_value) row.
 * kiln_dsp_wino_w8_s8 (the size layout) reads w8 instead of w: the int8
 * kernel [out_c rounded up to even][3][3][in_c] (OHWI, an odd last channel
 * all zeros), and makes U for `block` channel pairs at a time into u (arena
 * scratch, 64 * in_c * block bytes), each block running every tile. With
 * vall set, v holds every tile pair's transformed inputs (64 * in_c bytes
 * each, made once) instead of one pair's.
 * The output transform yields 4 * the accumulator without its bias, exactly
 * (modulo 2^32, the build bounds it: |4 * acc| < 2^31); acc2 is half of it
 * plus the record's bias, requantized as above. */
typedef struct {
    kiln_geometry_t g;           /* kiln/geometry.h */
    int8_t pad_value;            /* the input zero point */
    uint8_t clamp;
    uint8_t exact;
    int32_t act_min, act_max;
    const int16_t *w;
    const kiln_dsp_rq_t *rq;     /* out_c entries */
    int16_t *v;
    int32_t *m;
    int8_t *zrow;
    const int8_t *w8;            /* kiln_dsp_wino_w8_s8 only */
    int16_t *u;
    uint16_t block;
    uint16_t vall;
} kiln_dsp_wino_params_t;

void kiln_dsp_wino_s8(const kiln_dsp_wino_params_t *p, const int8_t *in, int8_t *out);
void kiln_dsp_wino_w8_s8(const kiln_dsp_wino_params_t *p, const int8_t *in, int8_t *out);

/* Block sparsity (the pqat recipe prunes in these blocks, kiln/quantize/pruning.py):
 * a block is one K group of 4 for one channel pair, the 8 weights one
 * 4-word group of `w` above. `w` holds only the blocks with a nonzero
 * weight, pair after pair; channel pair j's are nz_idx[nz_start[j]] ..
 * nz_idx[nz_start[j + 1] - 1] (ascending K group numbers). The sums skip
 * only zero products, so the outputs are the dense kernel's. */
void kiln_dsp_conv_sparse_s8(const kiln_dsp_conv_params_t *p, const int8_t *in, int8_t *out);
/* The same with int8 weights (w8), widened chunk by chunk into wbuf. */
void kiln_dsp_conv_w8_s8(const kiln_dsp_conv_params_t *p, const int8_t *in, int8_t *out);

/* CONV_2D 1x1, stride 1, over exactly 8 input channels, no clamp and no
 * exact records (kiln_dsp_pw8_s8): each pixel's activations widened once
 * into registers, then per output channel one LDM of weights, 4 SMLAD and
 * the requantization.
 *   w: int16 [out_c][8], doubled, in SXTB16 order ([k0,k2] [k1,k3] [k4,k6]
 *      [k5,k7]). */
typedef struct {
    uint32_t pixels;             /* out_h * out_w */
    uint32_t out_c;
    const int16_t *w;
    const kiln_dsp_rq_t *rq;     /* out_c entries */
    uint32_t floor;              /* act_min >= the output zero point (kiln_dsp_requant_floor) */
} kiln_dsp_pw8_params_t;

void kiln_dsp_pw8_s8(const kiln_dsp_pw8_params_t *p, const int8_t *in, int8_t *out);

/* CONV_2D with one input channel, 3x3 kernel, stride 1, no dilation, VALID
 * padding, fused with the 2x2 stride-2 VALID MAX_POOL_2D that reads it. For
 * each pooled output the 4x4 input patch is loaded once as four words and
 * widened and patched (17 words, conv1_pool_s8.c); then per output channel
 * 20 SMUAD/SMLAD, the max of the 4 accumulators and one requantization.
 *   rec: per output channel 9 words: the 5 weight pairs (int16, doubled)
 *        [w00,w02] [w10,w12] [w20,w22] [w01,w11] [0,w21], then the
 *        kiln_dsp_rq_t (bias, mult, round, shift).
 *   out: the pooled tensor [pool_h][pool_w][out_c]. */
typedef struct {
    kiln_geometry_t g;           /* the convolution's (before the pool) */
    uint16_t pool_h, pool_w;     /* pooled output size: floor(conv_out / 2) */
    uint8_t clamp;               /* conv or pool activation narrower than int8 */
    uint8_t exact;               /* some records are exact (the C loop runs) */
    uint8_t floor;               /* act_min >= the output zero point (ReLU, ReLU6) */
    int32_t act_min, act_max;    /* intersection of the conv and pool clamps */
    const int32_t *rec;
} kiln_dsp_conv1_pool_params_t;

void kiln_dsp_conv1_pool_s8(const kiln_dsp_conv1_pool_params_t *p, const int8_t *in,
                             int8_t *out);

/* FULLY_CONNECTED: rows in blocks of 6 (then at most one of 4, 2, 1) sharing each loaded
 * input word; any input length (a last partial group of 1 to 3 inputs meets
 * zero weights).
 *   w:  int16 (kiln_dsp_fc_s8, the speed layout), for each block of b rows:
 *       [ceil(in_n/4)][b rows][2 pairs], doubled, in SXTB16 order;
 *   w8: int8 (kiln_dsp_fc_w8_s8, the size layout), for each block of b rows:
 *       [ceil(in_n/4)][b rows][4], bytes 0 and 2 of each word plus 128
 *       (dsp_layout.fc_weights8), with its records' bias term adjusted to match
 *       (dsp_layout.fc_records8);
 *   split: the size layout's arena scratch, 4 + 8 * ceil(in_n/4) bytes.
 * Each kernel reads only its own fields. */
typedef struct {
    uint32_t batches, in_n, out_n;
    uint8_t clamp;
    uint8_t exact;
    int32_t act_min, act_max;
    const int16_t *w;
    const int8_t *w8;
    uint32_t *split;
    const kiln_dsp_rq_t *rq;    /* out_n entries */
} kiln_dsp_fc_params_t;

void kiln_dsp_fc_s8(const kiln_dsp_fc_params_t *p, const int8_t *in, int8_t *out);

/* FULLY_CONNECTED with block-sparse weights (kiln_dsp_fc_sparse_s8): the
 * blocks, w, nz_start and nz_idx of kiln_dsp_conv_sparse_s8 with the units
 * as output channels and k_len = in_n rounded up to 4. Each input row is
 * widened once into `scratch` (k_len int16, SXTB16 order), then every unit
 * pair reads only its nonzero groups: per group two activation words, four
 * weight words, four SMLAD. */
typedef struct {
    uint32_t batches, in_n, out_n, k_len;
    uint8_t clamp, exact;        /* as kiln_dsp_conv_params_t */
    int32_t act_min, act_max;
    const int16_t *w;
    const kiln_dsp_rq_t *rq;     /* out_n entries */
    const uint32_t *nz_start;
    const uint16_t *nz_idx;
    int16_t *scratch;            /* k_len int16 of arena, 4-byte aligned */
} kiln_dsp_fc_sparse_params_t;

void kiln_dsp_fc_sparse_s8(const kiln_dsp_fc_sparse_params_t *p, const int8_t *in, int8_t *out);
void kiln_dsp_fc_w8_s8(const kiln_dsp_fc_params_t *p, const int8_t *in, int8_t *out);

/* DEPTHWISE_CONV_2D, any depth multiplier m and channel count c = g.in_c:
 * four input channels per loaded word (a last partial group is read byte by
 * byte), one lane per SMLABB/SMLATT.
 *   w: int16 [m][ceil(c/4)][k_h*k_w taps][c0 c2 c1 c3], the channels past c
 *      zero; pass j's lane i is output channel (4 * group + i) * m + j.
 *   rq: [m][ceil(c/4) * 4] records in the same order (the padding lanes'
 *      records are never used for a store). */
typedef struct {
    kiln_geometry_t g;           /* out_c == in_c * mult */
    int8_t pad_value;
    uint8_t clamp;
    uint8_t exact;
    uint16_t mult;               /* depth multiplier */
    int32_t act_min, act_max;
    const int16_t *w;
    const kiln_dsp_rq_t *rq;
    int8_t *zrow;                /* in_c bytes of arena scratch: the padding taps' row */
    void *taps;                  /* arena scratch, 12 * k_h * k_w + 4 bytes: the tap table */
    /* The size layout (kiln_dsp_dwconv_w8_s8) only: */
    const int8_t *w8;            /* int8 [m][ceil(c/4)][taps][c0 c1 c2 c3], as stored */
    int16_t *wbuf;               /* arena scratch for w widened: 2 bytes per w8 byte */
} kiln_dsp_dwconv_params_t;

void kiln_dsp_dwconv_s8(const kiln_dsp_dwconv_params_t *p, const int8_t *in, int8_t *out);
/* The same with int8 weights (w8), widened into wbuf first. */
void kiln_dsp_dwconv_w8_s8(const kiln_dsp_dwconv_params_t *p, const int8_t *in, int8_t *out);

/* DEPTHWISE_CONV_2D 3x3, depth multiplier 1, stride 1 or 2, no dilation: one
 * channel at a time, its input widened into a padded int16 plane (`plane`,
 * arena scratch), then two outputs of a plane row per step with adjacent taps
 * paired for SMLAD, a batch of rows' accumulators kept in `acc` and
 * requantized after it (dw3x3_s8.c). The plane may be the input transposed: the build picks the
 * orientation with the longer rows and says it through the strides below.
 *   w: per channel 6 words of doubled int16 pairs, k[a][b] being the kernel
 *      in plane orientation (a along the plane's columns, b along its rows):
 *      [k00, k01] [k01, k02] [k10, k11] [k11, k12] [k20, k21] [k21, k22]
 *   plane: stride * (rows - 1) + 3 rows of plane_w int16, plane_w = stride
 *      times len rounded up to even, plus 2 (the kernel derives it;
 *      dsp_layout.dw3x3_plan plans it); cell (r, i) is input element i - pad_c of input row
 *      r - pad_r (in plane orientation), or pad_value outside the input. The
 *      channel's in_rows x in_len input elements are copied from
 *      in + c + r * in_row + i * in_step; output (y, x) of channel c goes to
 *      out + c + y * out_row + x * out_step. */
typedef struct {
    uint16_t rows, len;          /* output rows and outputs per row */
    uint16_t channels;
    uint16_t in_rows, in_len;    /* the input rows and elements copied per channel */
    uint16_t pad_r, pad_c;       /* padding rows and columns before them */
    uint16_t batch;              /* output rows whose accumulators `acc` holds */
    uint16_t planes;             /* 1, or 4: channels copied into planes per pass */
    uint16_t stride;             /* 1 or 2, along both axes */
    int32_t in_step, in_row;     /* input bytes between plane columns and between rows */
    int32_t out_step, out_row;   /* the same for the output */
    int8_t pad_value;
    uint8_t clamp;
    uint8_t exact;
    uint8_t floor;               /* act_min >= the output zero point (kiln_dsp_requant_floor) */
    int32_t act_min, act_max;
    const int16_t *w;
    const int8_t *w8;            /* or NULL: the size layout's 9 int8 a channel, k[a][b] */
    const kiln_dsp_rq_t *rq;    /* channels entries */
    int16_t *plane;              /* `planes` planes, one after the other */
    int32_t *acc;                /* arena scratch: batch rows of len rounded up to even int32 */
} kiln_dsp_dw3x3_params_t;

void kiln_dsp_dw3x3_s8(const kiln_dsp_dw3x3_params_t *p, const int8_t *in, int8_t *out);
/* The same with int8 weights (w8, w NULL): each channel's are widened as it starts. */
void kiln_dsp_dw3x3_w8_s8(const kiln_dsp_dw3x3_params_t *p, const int8_t *in, int8_t *out);

/* MAX_POOL_2D and AVERAGE_POOL_2D with the portable parameters
 * (kiln_pool_params_t): four channels per word (SSUB8 + SEL for the max,
 * SXTAB16 sums for the average; windows of at most 256 pixels). */
void kiln_dsp_maxpool_s8(const kiln_pool_params_t *p, const int8_t *in, int8_t *out);
void kiln_dsp_avgpool_s8(const kiln_pool_params_t *p, const int8_t *in, int8_t *out);

/* ADD, SUB and MUL of two int8 tensors, with broadcasting: the output is
 * walked as shape[0..3] (collapsed by the build, innermost last), each input
 * advancing by its element stride per dimension (0 where broadcast; the
 * innermost stride is 0 or 1).
 *   ADD / SUB (kiln_dsp_add_s8): each input's rescaling depends only on its
 *     int8 value, so the build tabulates it: a_tab[q + 128] = 2 * (TFLite's
 *     scaled input for q), b_tab likewise (negated for SUB); the sum is
 *     requantized as above with e = out shift.
 *   MUL (kiln_dsp_mul_s8): acc2 = (a + a_offset) * 2 * (b + b_offset),
 *     requantized the same way (tables NULL).
 *   SQUARED_DIFFERENCE (kiln_dsp_sqdiff_s8): a_tab and b_tab hold the scaled
 *     inputs undoubled, b_tab negated; acc2 = 2 * (a_tab + b_tab)^2. */
typedef struct {
    uint32_t shape[4];
    uint32_t a_stride[4], b_stride[4];
    uint8_t clamp;
    int32_t act_min, act_max;
    const int32_t *a_tab, *b_tab;   /* 256 entries each (ADD, SUB) */
    int32_t a_offset, b_offset;     /* -zero points (MUL) */
    int32_t mult, round, shift;
} kiln_dsp_binary_params_t;

void kiln_dsp_add_s8(const kiln_dsp_binary_params_t *p, const int8_t *a, const int8_t *b,
                      int8_t *out);
void kiln_dsp_mul_s8(const kiln_dsp_binary_params_t *p, const int8_t *a, const int8_t *b,
                      int8_t *out);
void kiln_dsp_sqdiff_s8(const kiln_dsp_binary_params_t *p, const int8_t *a, const int8_t *b,
                        int8_t *out);

/* CONV_2D with one or two output channels and a multiple of 4 input channels,
 * any window, stride, dilation and padding: each tap's channels read in
 * place a word at a time against its widened weights, w holding per tap and
 * group of four input channels the doubled int16 pairs [k0, k2], [k1, k3] of
 * each output channel in turn; records as kiln_dsp_conv_s8's (the bias folds
 * in the input offset); zrow is arena scratch of in_c bytes the kernel fills
 * with the zero point, which padding taps of a dilated window read (an
 * undilated one adds the zero point times tapsum instead). */
typedef struct {
    kiln_geometry_t g;           /* kiln/geometry.h */
    int8_t pad_value;            /* the input zero point */
    uint8_t clamp;
    uint8_t exact;
    int32_t act_min, act_max;
    const uint32_t *w;
    const int32_t *tapsum;       /* [k_h][k_w][out_c]: 2 * the tap's weight sum */
    const kiln_dsp_rq_t *rq;     /* out_c entries */
    int8_t *zrow;
} kiln_dsp_conv_narrow_params_t;

void kiln_dsp_conv_narrow_s8(const kiln_dsp_conv_narrow_params_t *p, const int8_t *in, int8_t *out);

/* BATCH_MATMUL of two int8 activations, and FULLY_CONNECTED with runtime
 * weights: the portable kernel's fields (kiln_batch_matmul_params_t, its
 * arithmetic) with one requantization record for every output (bias 0: the
 * operands carry their offsets; an exact record where the fast step cannot
 * be proved). lw and rw are arena scratch: rows x depth4 and cols x depth4
 * int16 (depth4: the depth rounded up to a multiple of four). */
typedef struct {
    kiln_batch_matmul_params_t mm;
    kiln_dsp_rq_t rq;
    int16_t *lw, *rw;
} kiln_dsp_matmul_params_t;

void kiln_dsp_matmul_s8(const kiln_dsp_matmul_params_t *p, const int8_t *lhs, const int8_t *rhs,
                        int8_t *out);

/* Element-wise operators of one 8-bit value (LOGISTIC, TANH, QUANTIZE
 * between int8 and uint8): out[i] = table[(uint8_t)in[i]], the 256 outputs
 * evaluated at build time with the portable kernel's arithmetic. In place is
 * allowed. */
typedef struct {
    uint32_t n;
    const int8_t *table;         /* 256 entries, indexed by the input byte */
} kiln_dsp_lut_params_t;

void kiln_dsp_lut_s8(const kiln_dsp_lut_params_t *p, const void *in, void *out);

/* int8 CONCATENATION along an inner axis (one the reader could not turn
 * into slices of the output): for each of the `outer` rows, inner[i] bytes
 * of every input i in turn, copied a word at a time, or looked up in
 * tables[i] (NULL: a plain copy) where input i's quantization differs from
 * the output's: its 256 requantized values, evaluated at build time. */
typedef struct {
    uint32_t outer;
    uint32_t n_inputs;
    const uint32_t *inner;
    const int8_t *const *tables;
} kiln_dsp_concat_params_t;

void kiln_dsp_concat_s8(const kiln_dsp_concat_params_t *p, const int8_t *const *in, int8_t *out);

/* DEQUANTIZE of an 8-bit tensor to float32, by the same table lookup. */
typedef struct {
    uint32_t n;
    const float *table;          /* 256 entries, indexed by the input byte */
} kiln_dsp_lut_f32_params_t;

void kiln_dsp_lut_s8_f32(const kiln_dsp_lut_f32_params_t *p, const void *in, float *out);

/* int8 SOFTMAX over the last axis (output scale 1/256, zero point -128):
 * exp_q0[d] = exp(-beta * in_scale * d) in Q0.31 for d = max - q in
 * [0, 255], 0 where d exceeds the portable kernel's -diff_min. */
typedef struct {
    uint32_t rows, depth;
    const int32_t *exp_q0;       /* 256 entries */
} kiln_dsp_softmax_params_t;

void kiln_dsp_softmax_s8(const kiln_dsp_softmax_params_t *p, const int8_t *in, int8_t *out);

/* MEAN over the spatial axes of [1][h][w][c] (kiln_mean_s8_params_t, as the
 * portable kernel): four channels per word, 16-bit lanes flushed every 255
 * pixels. */
void kiln_dsp_mean_s8(const kiln_mean_s8_params_t *p, const int8_t *in, int8_t *out);

/* DEPTHWISE_CONV_2D whose kernel rows are 5 taps (5x5, 1x5...), depth
 * multiplier 1, undilated, stride 1: planar. Each channel is copied into an
 * int16 plane (pw columns, even, and ph rows; the padding the input zero
 * point), where two taps of a kernel row are one word. Per channel and kernel
 * row, w holds six words: [2k0, 2k1], [2k2, 2k3], [2k4, 0] (output x from
 * plane column x) and [0, 2k0], [2k1, 2k2], [2k3, 2k4] (output x + 1 from the
 * same words), doubled for the records (kiln_dsp_rq_t, one per channel).
 * plane: ph * pw int16 of arena scratch, then acc: band output rows of
 * out_w + 1 accumulators, summed a kernel row at a time. */
typedef struct {
    kiln_geometry_t g;
    uint16_t pw, ph, band;
    int8_t pad_value;
    uint8_t clamp, exact;
    int8_t act_min, act_max;
    const uint32_t *w;
    const kiln_dsp_rq_t *rq;
    int16_t *plane;
    int32_t *acc;
} kiln_dsp_dw5_params_t;

void kiln_dsp_dw5_s8(const kiln_dsp_dw5_params_t *p, const int8_t *in, int8_t *out);

/* int8 RESIZE_NEAREST_NEIGHBOR (kiln_resize_nearest_params_t, as the portable
 * kernel, elem_bytes 1): a row whose source is the previous output row's is
 * copied from it; other rows take each pixel's channels a word at a time. */
void kiln_dsp_resize_nearest_s8(const kiln_resize_nearest_params_t *p, const int8_t *in, int8_t *out);

/* int8 RESIZE_BILINEAR (kiln_resize_bilinear_params_t, as the portable kernel
 * takes it): the same sums in 32 bits, four channels a step. */
void kiln_dsp_resize_bilinear_s8(const kiln_resize_bilinear_params_t *p, const int8_t *in, int8_t *out);

/* int8 REDUCE_MAX / REDUCE_MIN (kiln_reduce_params_t, kind 2 / 3) whose output
 * keeps the input's last axis (out_stride ends in 1, at least 4 long): each
 * output row starts as the first reduced row and meets every further one four
 * bytes at a time (SSUB8 + SEL). */
void kiln_dsp_reduce_minmax_s8(const kiln_reduce_params_t *p, const int8_t *in, int8_t *out);

/* int8 MEAN / SUM on tflite-micro's general path (kiln_reduce_params_t, kind
 * 0 / 1) whose output keeps the input's last axis (out_stride ends in 1; at
 * most 256 reduced rows, so 16-bit lane sums cannot overflow), or whose
 * reduction takes the trailing axes (each output's elements one run). */
void kiln_dsp_reduce_sum_s8(const kiln_reduce_params_t *p, const int8_t *in, int8_t *out);

/* int8 TRANSPOSE moving the input's last axis: planes of q_n rows (adjacent
 * in the input) by l_n columns (the output's last axis, l_in_stride apart in
 * the input; a row's columns are adjacent in the output, rows q_out_stride
 * apart), one per index of the other output axes (outer_*, strides in
 * elements, the last fastest), the first at input element start. */
#define KILN_DSP_TRANSPOSE_OUTER 4
typedef struct {
    uint32_t outer_shape[KILN_DSP_TRANSPOSE_OUTER];
    int32_t outer_in_stride[KILN_DSP_TRANSPOSE_OUTER];
    uint32_t outer_out_stride[KILN_DSP_TRANSPOSE_OUTER];
    int32_t start;
    uint32_t q_n, l_n;
    int32_t l_in_stride;
    uint32_t q_out_stride;
} kiln_dsp_transpose_params_t;

void kiln_dsp_transpose_s8(const kiln_dsp_transpose_params_t *p, const int8_t *in, int8_t *out);

/* int8 MAXIMUM and MINIMUM (kiln_ew_binary_s8_params_t: only the broadcast walk;
 * both inputs and the output share one scale and zero point): rows whose
 * operands are contiguous or a single value four bytes per SSUB8 + SEL. */
void kiln_dsp_maximum_s8(const kiln_ew_binary_s8_params_t *p, const int8_t *a, const int8_t *b, int8_t *out);
void kiln_dsp_minimum_s8(const kiln_ew_binary_s8_params_t *p, const int8_t *a, const int8_t *b, int8_t *out);

/* QUANTIZE float32 -> int8 (kiln_quant_params_t, as the portable kernel). */
void kiln_dsp_quantize_f32_s8(const kiln_quant_params_t *p, const float *in, int8_t *out);

/* The copy that stands for a MAX_POOL_2D fused into the convolution before
 * it: the convolution left the pooled values at the start of its own output
 * buffer (never at the pool's, which may overlap the convolution's input). */
void kiln_dsp_copy(uint32_t n, const int8_t *in, int8_t *out);

/* ---- float32, for the single-precision FPU -------------------------------
 * Every core toolchain/cpus.toml gives the dsp set has one (FPv4-SP or FPv5;
 * tests/test_emulated_boards.py checks the table). The kernels sum in
 * TFLite's reference order with one VMLA per product (a multiply and an add,
 * each rounded as the reference rounds them: VMLA is not fused), skip
 * padding taps as the reference does, and add the bias last, then clamp:
 * their results are the reference's to the bit.
 *
 * CONV_2D (kiln_dsp_conv_f32): two output pixels at a time, their receptive
 * fields gathered into `scratch` (2 * k_len floats of arena, padding taps 0;
 * unused by a 1x1 layer with stride 1 and no padding, which reads its input
 * in place); each group of four output channels is one loop over the k_len
 * taps with eight accumulators in FPU registers.
 *   k_len: k_h * k_w * in_c.
 *   w: [ceil(out_c / 4)][k_len][4], OHWI regrouped by four output channels,
 *      zeros past out_c.
 *   bias: [out_c], zeros for a layer without one.
 * DEPTHWISE_CONV_2D with depth multiplier 1 (kiln_dsp_dwconv_f32): four
 * channels at a time over the window's taps; w is the model's [k_h][k_w][c];
 * k_len and scratch are unused. */
typedef struct {
    kiln_geometry_t g;
    uint32_t k_len;
    float act_min, act_max;
    const float *w;
    const float *bias;
    float *scratch;
} kiln_dsp_conv_f32_params_t;

void kiln_dsp_conv_f32(const kiln_dsp_conv_f32_params_t *p, const float *in, float *out);
void kiln_dsp_dwconv_f32(const kiln_dsp_conv_f32_params_t *p, const float *in, float *out);

/* FULLY_CONNECTED (kiln_dsp_fc_f32): four output units at a time, per input
 * element one load of the activation and of the four units' weights.
 *   w: [ceil(out_n / 4)][in_n][4], zeros past out_n; bias: [out_n]. */
typedef struct {
    uint32_t batches, in_n, out_n;
    float act_min, act_max;
    const float *w;
    const float *bias;
} kiln_dsp_fc_f32_params_t;

void kiln_dsp_fc_f32(const kiln_dsp_fc_f32_params_t *p, const float *in, float *out);

/* FULLY_CONNECTED, float32, 2:4 sparse (kiln_dsp_fc_f32_sparse): every unit
 * has at most two nonzero weights in each group of four inputs (the K tail
 * a group of its own).
 *   w: [out_n][ceil(in_n / 4)][2], each group's two kept weights in input
 *      order (a zero where the group kept fewer);
 *   off: [out_n][ceil(in_n / 4)], the byte offsets in the input row of those
 *      two inputs, the first in bits 15..0 and the second in bits 31..16
 *      (in_n <= 16383);
 *   bias: [out_n]. */
typedef struct {
    uint32_t batches, in_n, out_n;
    float act_min, act_max;
    const float *w;
    const uint32_t *off;
    const float *bias;
} kiln_dsp_fc_f32_sparse_params_t;

void kiln_dsp_fc_f32_sparse(const kiln_dsp_fc_f32_sparse_params_t *p, const float *in, float *out);

/* MAX_POOL_2D and AVERAGE_POOL_2D, float32 (kiln_pool_f32_params_t, as the
 * portable kernels): the window walked once per output pixel with the
 * channels innermost, each channel's running max or sum kept in the output
 * row; the same comparisons and the same order of additions as the portable
 * kernels. */
void kiln_dsp_maxpool_f32(const kiln_pool_f32_params_t *p, const float *in, float *out);
void kiln_dsp_avgpool_f32(const kiln_pool_f32_params_t *p, const float *in, float *out);

#ifdef __cplusplus
}
#endif

#endif /* KILN_DSP_KERNELS_H */
