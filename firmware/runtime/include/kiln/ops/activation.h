/*
 * Kiln runtime: standalone activation operators (not fused into a layer).
 *
 * LEAKY_RELU, PRELU, LOGISTIC, TANH, HARD_SWISH, RELU, RELU6 on int8 and
 * float32, ELU on float32. Every kernel is elementwise over `n` values
 * (PRELU broadcasts its alpha through strides), reads element i before it
 * writes element i, and so may run in place.
 *
 * The int8 kernels reproduce tflite-micro's reference kernels bit for bit
 * when the generator fills the structs exactly as written here (in_scale,
 * out_scale: the float32 scales of the input and output tensors; zp: zero
 * points; "QM(r)" is QuantizeMultiplier, see kiln/kernels.h; "f32(...)"
 * means the expression is evaluated in single precision). The arithmetic is
 * described in docs/ops/activation.md; the generator's side is
 * site_scons/kiln/codegen/ops/activation.py.
 */
#ifndef KILN_OPS_ACTIVATION_H
#define KILN_OPS_ACTIVATION_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* RELU, int8: out = clamp(out_zp + requantize(q - in_zp, mult, shift),
 * act_min, act_max) with
 *   (mult, shift) = QM((double)in_scale / (double)out_scale)
 *   act_min = max(-128, out_zp), act_max = 127. */
typedef struct {
    uint32_t n;
    int32_t in_zp, out_zp;
    int32_t mult, shift;
    int32_t act_min, act_max;
} kiln_act_relu_s8_params_t;

void kiln_relu_s8(const kiln_act_relu_s8_params_t *p, const int8_t *in, int8_t *out);

/* RELU6, int8: tflite-micro clamps the stored value without rescaling
 * (the output is assumed to share the input's parameters):
 *   lo = in_zp
 *   hi = clamp(round_half_away(f32(6 / in_scale)) + in_zp, -128, 127). */
typedef struct {
    uint32_t n;
    int32_t lo, hi;
} kiln_act_clamp_s8_params_t;

void kiln_clamp_s8(const kiln_act_clamp_s8_params_t *p, const int8_t *in, int8_t *out);

/* LEAKY_RELU, int8: x = q - in_zp; out = clamp(out_zp + requantize(x,
 * x >= 0 ? id_mult : alpha_mult, ...), -128, 127) with alpha the
 * LeakyReluOptions' float32 alpha (alpha >= 0) and
 *   (alpha_mult, alpha_shift) = QM((double)f32(in_scale * alpha / out_scale))
 *   (id_mult, id_shift)       = QM((double)in_scale / (double)out_scale). */
typedef struct {
    uint32_t n;
    int32_t in_zp, out_zp;
    int32_t id_mult, id_shift;
    int32_t alpha_mult, alpha_shift;
} kiln_act_leaky_s8_params_t;

void kiln_leaky_relu_s8(const kiln_act_leaky_s8_params_t *p, const int8_t *in, int8_t *out);

/* PRELU, int8, alpha a constant int8 tensor (per-tensor quantization)
 * broadcast against the input. Shapes are right-aligned to 4-D;
 * in_stride/alpha_stride are each operand's element strides (0 on a
 * broadcast axis). x = q - in_zp;
 *   x >= 0: out = out_zp + requantize(x, mult_1, shift_1)
 *   x < 0:  out = out_zp + requantize(x * (a - alpha_zp), mult_2, shift_2)
 * clamped to [-128, 127], with
 *   (mult_1, shift_1) = QM((double)in_scale / (double)out_scale)
 *   (mult_2, shift_2) = QM((double)in_scale * (double)alpha_scale
 *                          / (double)out_scale). */
typedef struct {
    uint32_t out_shape[4];
    uint32_t in_stride[4], alpha_stride[4];
    int32_t in_zp, alpha_zp, out_zp;
    int32_t mult_1, shift_1;
    int32_t mult_2, shift_2;
} kiln_act_prelu_params_t;

void kiln_prelu_s8(const kiln_act_prelu_params_t *p, const int8_t *in,
                   const int8_t *alpha, int8_t *out);

/* LOGISTIC and TANH, int8 (output scale 1/256, zero point -128 for
 * LOGISTIC; 1/128 and 0 for TANH, as the converter always produces).
 * x = q - in_zp is saturated outside (-radius, radius); inside it becomes a
 * Q4.27 value requantize(x, mult, left_shift) and the function is computed
 * in fixed point (gemmlowp's logistic / tanh: exp on negative values,
 * Newton-Raphson reciprocal). With r = (double)in_scale * 2^27:
 *   (m, left_shift) = frexp(r); mult = round_half_away(m * 2^31)
 *   radius = floor(15 * 2^27 / 2^left_shift)   (in double). */
typedef struct {
    uint32_t n;
    int32_t in_zp;
    int32_t radius;
    int32_t mult, left_shift;
} kiln_act_sigmoid_s8_params_t;

void kiln_logistic_s8(const kiln_act_sigmoid_s8_params_t *p, const int8_t *in, int8_t *out);
void kiln_tanh_s8(const kiln_act_sigmoid_s8_params_t *p, const int8_t *in, int8_t *out);

/* HARD_SWISH, int8: x * relu6(x + 3) / 6 in 16-bit fixed point. With
 *   hires = f32(in_scale / 128)
 *   (m, out_exp)     = QM((double)f32(hires / out_scale))   (out_exp <= 0)
 *   (m', relu_exp)   = QM((double)f32(hires / f32(3 / 32768)))
 * the 16-bit multipliers are the Q31 ones rounded to their top half:
 *   out_mult  = m  >= 2^31 - 1 - 2^15 ? 32767 : (m  + 2^15) >> 16
 *   relu_mult = m' >= 2^31 - 1 - 2^15 ? 32767 : (m' + 2^15) >> 16
 * The generator accepts -31 <= out_exp <= 0 and relu_exp <= 30. Right
 * shifts by 16 or more give the sign (+-1), as the reference's int16 mask
 * does. */
typedef struct {
    uint32_t n;
    int32_t in_zp, out_zp;
    int32_t out_mult, out_exp;
    int32_t relu_mult, relu_exp;
} kiln_act_hard_swish_s8_params_t;

void kiln_hard_swish_s8(const kiln_act_hard_swish_s8_params_t *p, const int8_t *in, int8_t *out);

/* A table activation (GELU): out[i] = table[(uint8_t)in[i]], the 256 outputs
 * built at compile time exactly as TensorFlow Lite's kernel preparation builds
 * them (its int8 GELU is this lookup, its float arithmetic done once per
 * value). In place is fine. */
typedef struct {
    uint32_t n;
    const int8_t *table;
} kiln_act_lut_s8_params_t;

void kiln_lut_s8(const kiln_act_lut_s8_params_t *p, const int8_t *in, int8_t *out);

/* Float activations over n values; alpha is LEAKY_RELU's coefficient and
 * lo/hi the RELU/RELU6 bounds (other kernels ignore them).
 *   kiln_relu_f32:       x < lo ? lo : (x > hi ? hi : x)   (RELU: hi = FLT_MAX)
 *   kiln_leaky_relu_f32: x > 0 ? x : x * alpha
 *   kiln_logistic_f32:   x > 16.619047f ? 1 : (x < -9 ? exp(x) : 1 / (1 + exp(-x)))
 *   kiln_tanh_f32:       tanh(x)
 *   kiln_hard_swish_f32: x * min(6, max(0, x + 3)) / 6
 *   kiln_elu_f32:        x < 0 ? expm1(x) : x
 *   kiln_gelu_f32:       x / 2 * erfc(-x / sqrt 2), or with approximate
 *                        x / 2 * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 x^3)))
 * exp, expm1 and tanh come from kiln_expf and kiln_expm1f (no libm); erfc is
 * a Chebyshev fit of relative error below 1.2e-7 (Numerical Recipes' erfcc). */
typedef struct {
    uint32_t n;
    float alpha;
    float lo, hi;
    uint32_t approximate;        /* GELU: the tanh form */
} kiln_act_f32_params_t;

void kiln_relu_f32(const kiln_act_f32_params_t *p, const float *in, float *out);
void kiln_leaky_relu_f32(const kiln_act_f32_params_t *p, const float *in, float *out);
void kiln_logistic_f32(const kiln_act_f32_params_t *p, const float *in, float *out);
void kiln_tanh_f32(const kiln_act_f32_params_t *p, const float *in, float *out);
void kiln_hard_swish_f32(const kiln_act_f32_params_t *p, const float *in, float *out);
void kiln_elu_f32(const kiln_act_f32_params_t *p, const float *in, float *out);
void kiln_gelu_f32(const kiln_act_f32_params_t *p, const float *in, float *out);

/* PRELU, float: x >= 0 ? x : x * alpha, alpha broadcast as for the int8
 * kernel (the zero points and multipliers are unused). */
void kiln_prelu_f32(const kiln_act_prelu_params_t *p, const float *in,
                    const float *alpha, float *out);

/* exp(x) - 1 in single precision without libm, accurate near 0 too
 * (a series below |x| = 0.25, kiln_expf(x) - 1 elsewhere). */
float kiln_expm1f(float x);

#ifdef __cplusplus
}
#endif

#endif /* KILN_OPS_ACTIVATION_H */
