/*
 * ctypes entry points for tests/test_kernels.py.
 *
 * Each kh_* function fills one kernel parameter struct from a flat int32
 * array (fields in the order listed beside each function, floats passed
 * separately) and calls the portable kernel, so the Python side never
 * mirrors C struct layouts. The quant.h helpers are exported too.
 */
#include "kiln/kernels.h"
#include "kiln/quant.h"

/* f: in_h in_w in_c out_h out_w out_c k_h k_w stride_h stride_w dil_h dil_w
 *    pad_top pad_left depth_mult in_offset out_offset act_min act_max */
static void fill_conv_s8(kiln_conv_s8_params_t *p, const int32_t *f,
                         const int32_t *mult, const int32_t *shift)
{
    p->g.in_h = (uint16_t)f[0];
    p->g.in_w = (uint16_t)f[1];
    p->g.in_c = (uint16_t)f[2];
    p->g.out_h = (uint16_t)f[3];
    p->g.out_w = (uint16_t)f[4];
    p->g.out_c = (uint16_t)f[5];
    p->g.k_h = (uint16_t)f[6];
    p->g.k_w = (uint16_t)f[7];
    p->g.stride_h = (uint16_t)f[8];
    p->g.stride_w = (uint16_t)f[9];
    p->g.dil_h = (uint16_t)f[10];
    p->g.dil_w = (uint16_t)f[11];
    p->g.pad_top = (int16_t)f[12];
    p->g.pad_left = (int16_t)f[13];
    p->depth_mult = (uint16_t)f[14];
    p->in_offset = f[15];
    p->out_offset = f[16];
    p->act_min = f[17];
    p->act_max = f[18];
    p->mult = mult;
    p->shift = shift;
}

void kh_conv_s8(int depthwise, const int32_t *f, const int32_t *mult, const int32_t *shift,
                const int8_t *in, const int8_t *w, const int32_t *bias, int8_t *out)
{
    kiln_conv_s8_params_t p;
    fill_conv_s8(&p, f, mult, shift);
    if (depthwise) {
        kiln_dwconv2d_s8(&p, in, w, bias, out);
    } else {
        kiln_conv2d_s8(&p, in, w, bias, out);
    }
}

/* f: batches in_n out_n in_offset out_offset act_min act_max per_channel */
void kh_fc_s8(const int32_t *f, const int32_t *mult, const int32_t *shift,
              const int8_t *in, const int8_t *w, const int32_t *bias, int8_t *out)
{
    kiln_fc_s8_params_t p;
    p.batches = (uint32_t)f[0];
    p.in_n = (uint32_t)f[1];
    p.out_n = (uint32_t)f[2];
    p.in_offset = f[3];
    p.out_offset = f[4];
    p.act_min = f[5];
    p.act_max = f[6];
    p.per_channel = (uint8_t)f[7];
    p.mult = mult;
    p.shift = shift;
    kiln_fc_s8(&p, in, w, bias, out);
}

/* f: in_h in_w c out_h out_w k_h k_w stride_h stride_w pad_top pad_left
 *    act_min act_max */
void kh_pool_s8(int average, const int32_t *f, const int8_t *in, int8_t *out)
{
    kiln_pool_params_t p;
    p.g.in_h = (uint16_t)f[0];
    p.g.in_w = (uint16_t)f[1];
    p.g.in_c = p.g.out_c = (uint16_t)f[2];
    p.g.out_h = (uint16_t)f[3];
    p.g.out_w = (uint16_t)f[4];
    p.g.k_h = (uint16_t)f[5];
    p.g.k_w = (uint16_t)f[6];
    p.g.stride_h = (uint16_t)f[7];
    p.g.stride_w = (uint16_t)f[8];
    p.g.pad_top = (int16_t)f[9];
    p.g.pad_left = (int16_t)f[10];
    p.act_min = f[11];
    p.act_max = f[12];
    if (average) {
        kiln_avgpool_s8(&p, in, out);
    } else {
        kiln_maxpool_s8(&p, in, out);
    }
}

/* f: out_shape[4] a_stride[4] b_stride[4] a_offset b_offset out_offset
 *    left_shift a_mult a_shift b_mult b_shift out_mult out_shift act_min
 *    act_max */
void kh_binary_s8(int mul, const int32_t *f, const int8_t *a, const int8_t *b, int8_t *out)
{
    kiln_binary_s8_params_t p;
    int i;
    for (i = 0; i < 4; i++) {
        p.out_shape[i] = (uint32_t)f[i];
        p.a_stride[i] = (uint32_t)f[4 + i];
        p.b_stride[i] = (uint32_t)f[8 + i];
    }
    p.a_offset = f[12];
    p.b_offset = f[13];
    p.out_offset = f[14];
    p.left_shift = f[15];
    p.a_mult = f[16];
    p.a_shift = f[17];
    p.b_mult = f[18];
    p.b_shift = f[19];
    p.out_mult = f[20];
    p.out_shift = f[21];
    p.act_min = f[22];
    p.act_max = f[23];
    if (mul) {
        kiln_mul_s8(&p, a, b, out);
    } else {
        kiln_add_s8(&p, a, b, out);
    }
}

/* f: rows depth input_multiplier input_left_shift diff_min */
void kh_softmax_s8(const int32_t *f, const int8_t *in, int8_t *out)
{
    kiln_softmax_s8_params_t p;
    p.rows = (uint32_t)f[0];
    p.depth = (uint32_t)f[1];
    p.input_multiplier = f[2];
    p.input_left_shift = f[3];
    p.diff_min = f[4];
    kiln_softmax_s8(&p, in, out);
}

/* f: h w c count in_offset out_offset mult shift same_qparams */
void kh_mean_s8(const int32_t *f, const int8_t *in, int8_t *out)
{
    kiln_mean_s8_params_t p;
    p.h = (uint32_t)f[0];
    p.w = (uint32_t)f[1];
    p.c = (uint32_t)f[2];
    p.count = (uint32_t)f[3];
    p.in_offset = f[4];
    p.out_offset = f[5];
    p.mult = f[6];
    p.shift = f[7];
    p.same_qparams = (uint8_t)f[8];
    kiln_mean_s8(&p, in, out);
}

/* f: in_shape[4] out_shape[4] before[4] pad_value elem_bytes */
void kh_pad(const int32_t *f, const void *in, void *out)
{
    kiln_pad_params_t p;
    int i;
    for (i = 0; i < 4; i++) {
        p.in_shape[i] = (uint32_t)f[i];
        p.out_shape[i] = (uint32_t)f[4 + i];
        p.before[i] = (uint32_t)f[8 + i];
    }
    p.pad_value = f[12];
    p.elem_bytes = (uint8_t)f[13];
    kiln_pad(&p, in, out);
}

/* f: outer n_inputs out_offset elem_bytes; per-input arrays separately. */
void kh_concat(const int32_t *f, const uint32_t *inner, const int32_t *in_offset,
               const int32_t *mult, const int32_t *shift, const void *const *in, void *out)
{
    kiln_concat_params_t p;
    p.outer = (uint32_t)f[0];
    p.n_inputs = (uint32_t)f[1];
    p.out_offset = f[2];
    p.elem_bytes = (uint8_t)f[3];
    p.inner = inner;
    p.in_offset = in_offset;
    p.mult = mult;
    p.shift = shift;
    kiln_concat(&p, in, out);
}

/* kind 0: float -> int8, 1: int8 -> float, 2: int8 -> int8.
 * f: n zero_point in_offset mult shift out_offset */
void kh_quant(int kind, const int32_t *f, float scale, const void *in, void *out)
{
    kiln_quant_params_t p;
    p.n = (uint32_t)f[0];
    p.zero_point = f[1];
    p.in_offset = f[2];
    p.mult = f[3];
    p.shift = f[4];
    p.out_offset = f[5];
    p.scale = scale;
    if (kind == 0) {
        kiln_quantize_f32_s8(&p, (const float *)in, (int8_t *)out);
    } else if (kind == 1) {
        kiln_dequantize_s8_f32(&p, (const int8_t *)in, (float *)out);
    } else {
        kiln_requantize_s8_s8(&p, (const int8_t *)in, (int8_t *)out);
    }
}

/* ---- float32 ---- */

/* f: as fill_conv_s8 without the last four (offsets, activation) */
void kh_conv_f32(int depthwise, const int32_t *f, float act_min, float act_max,
                 const float *in, const float *w, const float *bias, float *out)
{
    kiln_conv_f32_params_t p;
    p.g.in_h = (uint16_t)f[0];
    p.g.in_w = (uint16_t)f[1];
    p.g.in_c = (uint16_t)f[2];
    p.g.out_h = (uint16_t)f[3];
    p.g.out_w = (uint16_t)f[4];
    p.g.out_c = (uint16_t)f[5];
    p.g.k_h = (uint16_t)f[6];
    p.g.k_w = (uint16_t)f[7];
    p.g.stride_h = (uint16_t)f[8];
    p.g.stride_w = (uint16_t)f[9];
    p.g.dil_h = (uint16_t)f[10];
    p.g.dil_w = (uint16_t)f[11];
    p.g.pad_top = (int16_t)f[12];
    p.g.pad_left = (int16_t)f[13];
    p.depth_mult = (uint16_t)f[14];
    p.act_min = act_min;
    p.act_max = act_max;
    if (depthwise) {
        kiln_dwconv2d_f32(&p, in, w, bias, out);
    } else {
        kiln_conv2d_f32(&p, in, w, bias, out);
    }
}

/* f: batches in_n out_n */
void kh_fc_f32(const int32_t *f, float act_min, float act_max, const float *in,
               const float *w, const float *bias, float *out)
{
    kiln_fc_f32_params_t p;
    p.batches = (uint32_t)f[0];
    p.in_n = (uint32_t)f[1];
    p.out_n = (uint32_t)f[2];
    p.act_min = act_min;
    p.act_max = act_max;
    kiln_fc_f32(&p, in, w, bias, out);
}

/* f: as kh_pool_s8 without the activation */
void kh_pool_f32(int average, const int32_t *f, float act_min, float act_max,
                 const float *in, float *out)
{
    kiln_pool_f32_params_t p;
    p.g.in_h = (uint16_t)f[0];
    p.g.in_w = (uint16_t)f[1];
    p.g.in_c = p.g.out_c = (uint16_t)f[2];
    p.g.out_h = (uint16_t)f[3];
    p.g.out_w = (uint16_t)f[4];
    p.g.k_h = (uint16_t)f[5];
    p.g.k_w = (uint16_t)f[6];
    p.g.stride_h = (uint16_t)f[7];
    p.g.stride_w = (uint16_t)f[8];
    p.g.pad_top = (int16_t)f[9];
    p.g.pad_left = (int16_t)f[10];
    p.act_min = act_min;
    p.act_max = act_max;
    if (average) {
        kiln_avgpool_f32(&p, in, out);
    } else {
        kiln_maxpool_f32(&p, in, out);
    }
}

/* f: out_shape[4] a_stride[4] b_stride[4] */
void kh_binary_f32(int mul, const int32_t *f, float act_min, float act_max, const float *a,
                   const float *b, float *out)
{
    kiln_binary_f32_params_t p;
    int i;
    for (i = 0; i < 4; i++) {
        p.out_shape[i] = (uint32_t)f[i];
        p.a_stride[i] = (uint32_t)f[4 + i];
        p.b_stride[i] = (uint32_t)f[8 + i];
    }
    p.act_min = act_min;
    p.act_max = act_max;
    if (mul) {
        kiln_mul_f32(&p, a, b, out);
    } else {
        kiln_add_f32(&p, a, b, out);
    }
}

void kh_mean_f32(uint32_t h, uint32_t w, uint32_t c, const float *in, float *out)
{
    kiln_mean_f32_params_t p;
    p.h = h;
    p.w = w;
    p.c = c;
    kiln_mean_f32(&p, in, out);
}

void kh_softmax_f32(uint32_t rows, uint32_t depth, float beta, const float *in, float *out)
{
    kiln_softmax_f32_params_t p;
    p.rows = rows;
    p.depth = depth;
    p.beta = beta;
    kiln_softmax_f32(&p, in, out);
}

float kh_expf(float x)
{
    return kiln_expf(x);
}

/* ---- quant.h helpers ---- */

int32_t kh_requantize(int32_t x, int32_t mult, int32_t shift)
{
    return kiln_requantize(x, mult, shift);
}

int32_t kh_sat_rdhm(int32_t a, int32_t b)
{
    return kiln_sat_rdhm(a, b);
}

int32_t kh_rounding_div_pot(int32_t x, int32_t e)
{
    return kiln_rounding_div_pot(x, e);
}

int32_t kh_exp_on_negative_q5(int32_t a)
{
    return kiln_exp_on_negative_q5(a);
}

int32_t kh_one_over_one_plus_x_q0(int32_t a)
{
    return kiln_one_over_one_plus_x_q0(a);
}
