/*
 * Kiln runtime: data movement and reduction kernels (portable).
 *
 * TRANSPOSE, SLICE, STRIDED_SLICE, SPLIT, SPLIT_V, UNPACK, REVERSE_V2,
 * BROADCAST_TO, DEPTH_TO_SPACE and SPACE_TO_DEPTH are all one strided copy
 * (kiln_strided_copy), and so are FILL and ZEROS_LIKE (all strides 0, from
 * the value or a constant zero); MIRROR_PAD and BATCH_TO_SPACE_ND are a copy
 * through per-dimension offset tables (kiln_table_copy); GATHER_ND and
 * SPACE_TO_BATCH_ND have their own kernels; PACK and int32 CONCATENATION reuse kiln_concat
 * (kiln/kernels.h); GATHER, ARG_MAX / ARG_MIN, CAST and the reductions
 * (MEAN, SUM, REDUCE_MAX, REDUCE_MIN) have their own kernels. The generator (site_scons/kiln/codegen/ops/
 * movement.py) computes every field; docs/ops/movement.md gives the
 * arithmetic. None of these kernels may run in place (the planner never
 * shares their input and output storage).
 */
#ifndef KILN_OPS_MOVEMENT_H
#define KILN_OPS_MOVEMENT_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define KILN_COPY_MAX_RANK 6

/* out[i0, ..., i(r-1)] = in[start + sum_d i_d * in_stride[d]], with the
 * output written contiguously in row-major order. Strides are in elements
 * and may be negative (reversal, negative STRIDED_SLICE strides) or zero
 * (broadcast). The generator derives the fields from the operator's source
 * index map: it computes, in NumPy, the input element index that each
 * output element copies (np.transpose / slicing / np.flip / broadcast_to /
 * the block reshapes of DEPTH_TO_SPACE and SPACE_TO_DEPTH, or the part of
 * the input one SPLIT / SPLIT_V / UNPACK output takes), then:
 *   start = the index copied by output element 0,
 *   in_stride[d] = the index difference between neighbours along output
 *                  dimension d,
 * checks that the affine map reproduces every index, drops dimensions of
 * size 1 and merges dimension d into d+1 where in_stride[d] ==
 * in_stride[d+1] * out_shape[d+1] (so up to 6 dimensions remain; unused
 * leading dimensions have size 1, stride 0). elem_bytes: 1 (int8), 4
 * (float32, int32). Reads stay inside the input: every index the map
 * produces is in [0, input elements). */
typedef struct {
    uint32_t out_shape[KILN_COPY_MAX_RANK];
    int32_t in_stride[KILN_COPY_MAX_RANK];
    int32_t start;
    uint8_t elem_bytes;
} kiln_strided_copy_params_t;

void kiln_strided_copy(const kiln_strided_copy_params_t *p, const void *in, void *out);

/* MIRROR_PAD (and any copy whose source index is a sum of one term per
 * output dimension): out[i0, ..., i5] = in[sum_d offsets_d[i_d]], the output
 * written contiguously in row-major order. `offsets` holds the per-dimension
 * tables one after the other: out_shape[0] entries for dimension 0, then
 * out_shape[1] for dimension 1, ... (shapes right-aligned into 6
 * dimensions with leading 1s, whose single entry is 0). The generator
 * computes the source index map with NumPy (np.pad of the input's element
 * indices, mode "reflect" for REFLECT, "symmetric" for SYMMETRIC), takes
 * table d from the map's line along dimension d through element 0
 * (dimension 0's table includes element 0's own index) and checks that
 * the sum reproduces every index. elem_bytes: 1 (int8) or 4 (float32). */
typedef struct {
    uint32_t out_shape[KILN_COPY_MAX_RANK];
    const int32_t *offsets;
    uint8_t elem_bytes;
} kiln_table_copy_params_t;

void kiln_table_copy(const kiln_table_copy_params_t *p, const void *in, void *out);

/* CAST of n elements. tflite-micro converts each stored value with a C++
 * static_cast, ignoring any quantization parameters:
 *   float32 -> int32: truncation toward zero (out-of-range values, undefined
 *     in the reference, saturate here; NaN gives 0);
 *   int32 -> float32: the C conversion (nearest even above 2^24).
 * (The converter dequantizes int8 data before a CAST, so no int8 casts.) */
void kiln_cast_f32_s32(uint32_t n, const float *in, int32_t *out);
void kiln_cast_s32_f32(uint32_t n, const int32_t *in, float *out);

/* GATHER (batch_dims 0): params viewed as [outer][axis_n][inner] with
 * outer = prod(params.shape[:axis]), axis_n = params.shape[axis],
 * inner = prod(params.shape[axis+1:]); for every outer row and each of the
 * n_idx indices (flattened, int32: constant indices are stored as int32
 * by the generator, runtime ones are an int32 tensor), the inner elements
 * of row `index` are appended to the output. An index outside [0, axis_n)
 * (tflite-micro refuses the inference) writes zeros, so nothing outside
 * the params is read. */
typedef struct {
    uint32_t outer, axis_n, inner, n_idx;
    uint8_t elem_bytes;
} kiln_gather_params_t;

void kiln_gather(const kiln_gather_params_t *p, const void *params,
                 const int32_t *idx, void *out);

/* GATHER_ND: params viewed as [d_0]...[d_(nd-1)][slice], indices as
 * n_slices rows of nd int32 coordinates (constant indices are stored as
 * int32 by the generator, runtime ones are an int32 tensor). For each row r:
 *   from = sum_j idx[r * nd + j] * stride[j]   (stride[j] = prod(params.shape[j+1:]))
 * and the `slice` elements from `from` on are appended to the output. As
 * tflite-micro, only the flat position is bounds-checked: a row whose
 * from < 0 or from + slice > total (tflite-micro refuses the inference)
 * writes zeros, so nothing outside the params is read. nd <= 5. */
#define KILN_GATHER_ND_MAX 5
typedef struct {
    uint32_t n_slices, nd, slice, total;
    int32_t stride[KILN_GATHER_ND_MAX];
    uint8_t elem_bytes;
} kiln_gather_nd_params_t;

void kiln_gather_nd(const kiln_gather_nd_params_t *p, const void *params,
                    const int32_t *idx, void *out);

/* SPACE_TO_BATCH_ND, NHWC (a 3-D input is [b][h][1][c] with block_w 1):
 * input [in_b][in_h][in_w][c], output [block_h * block_w * in_b][out_h]
 * [out_w][c] with out_h = (in_h + pad_top + pad_bottom) / block_h (likewise
 * out_w). Output batch ob = (i * block_w + j) * in_b + b takes
 *   out[ob][y][x][:] = in[b][y * block_h + i - pad_top][x * block_w + j - pad_left][:]
 * and positions outside the input are padding: every byte pad_byte (the
 * output zero point for int8, as the reference's output_offset; 0 for
 * float32). BATCH_TO_SPACE_ND needs no kernel of its own: its source map is
 * separable and runs kiln_table_copy. */
typedef struct {
    uint32_t in_b, in_h, in_w, c;
    uint32_t block_h, block_w, pad_top, pad_left, out_h, out_w;
    uint8_t elem_bytes, pad_byte;
} kiln_space_to_batch_params_t;

void kiln_space_to_batch(const kiln_space_to_batch_params_t *p, const void *in, void *out);

/* ARG_MAX / ARG_MIN along one constant axis: the input viewed as
 * [outer][axis_n][inner] (outer = prod(shape[:axis]), inner =
 * prod(shape[axis+1:])); out[o][i] (int32) is the position along the axis
 * of the largest (smallest) value. Ties keep the first position, as
 * tflite-micro's strict comparison does. int8 compares the raw values
 * (the quantization is monotonic, scale > 0). */
typedef struct {
    uint32_t outer, axis_n, inner;
} kiln_arg_params_t;

void kiln_argmax_s8(const kiln_arg_params_t *p, const int8_t *in, int32_t *out);
void kiln_argmin_s8(const kiln_arg_params_t *p, const int8_t *in, int32_t *out);
void kiln_argmax_f32(const kiln_arg_params_t *p, const float *in, int32_t *out);
void kiln_argmin_f32(const kiln_arg_params_t *p, const float *in, int32_t *out);

/* Reductions (MEAN, SUM, REDUCE_MAX, REDUCE_MIN) over any constant axes,
 * keep_dims or not (the output's elements are the same either way).
 * The kept dimensions, in order, are the output loop: out_shape/out_stride
 * (input element strides); the reduced dimensions, in order, are the
 * inner loop: red_shape/red_stride. Both are right-aligned into
 * KILN_COPY_MAX_RANK dimensions with size 1 (stride 0) in front.
 * count = product of red_shape. Each output accumulates its inputs in
 * increasing input address order, as tflite-micro's reference reduce does
 * (it matters for float sums).
 *
 * kind: 0 MEAN, 1 SUM, 2 MAX, 3 MIN.
 * float32: MEAN = (float sum) / (float)count; SUM = float sum; MAX/MIN
 *   start from -FLT_MAX / FLT_MAX.
 * int8 (sum = the int32 sum of the raw values):
 *   MEAN: (m, s) = QuantizeMultiplier((double)in_scale / (double)out_scale),
 *     then 1/count folded in (also when both scales are equal: tflite-micro's
 *     general int8 MEAN has no plain-division path):
 *       k = min(floor(log2(count)), 32, 31 + s)
 *       mult = (int32)(((int64)m << k) / count), shift = s - k
 *     out = clamp(kiln_requantize(sum + in_offset * count, mult, shift)
 *                 + out_offset, -128, 127).
 *   SUM: (mult, shift) = QuantizeMultiplier((double)in_scale /
 *     (double)out_scale), the same formula (no 1/count).
 *   MAX/MIN: input and output share scale and zero point (tflite-micro
 *     requires it): the largest / smallest raw value. */
typedef struct {
    uint32_t out_shape[KILN_COPY_MAX_RANK];
    int32_t out_stride[KILN_COPY_MAX_RANK];
    uint32_t red_shape[KILN_COPY_MAX_RANK];
    int32_t red_stride[KILN_COPY_MAX_RANK];
    uint32_t count;
    uint8_t kind;
    int32_t in_offset, out_offset;   /* int8: -zp_in, +zp_out */
    int32_t mult, shift;          /* int8 MEAN and SUM */
} kiln_reduce_params_t;

/* Advances a right-aligned odometer of KILN_COPY_MAX_RANK digits (shape,
 * stride) by one position, keeping the element offset `*off` in step
 * (no division per element). After a full cycle the digits and the offset
 * are back at zero. */
static inline void kiln_odometer_next(uint32_t *digit, const uint32_t *shape, const int32_t *stride,
                                      int32_t *off)
{
    int d;

    for (d = KILN_COPY_MAX_RANK - 1; d >= 0; d--) {
        *off += stride[d];
        if (++digit[d] < shape[d]) {
            return;
        }
        *off -= (int32_t)shape[d] * stride[d];
        digit[d] = 0;
    }
}

void kiln_reduce_s8(const kiln_reduce_params_t *p, const int8_t *in, int8_t *out);
void kiln_reduce_f32(const kiln_reduce_params_t *p, const float *in, float *out);

#ifdef __cplusplus
}
#endif

#endif /* KILN_OPS_MOVEMENT_H */
