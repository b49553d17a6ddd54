/*
 * Kiln runtime: recurrent operators (UNIDIRECTIONAL_SEQUENCE_LSTM, SVDF).
 *
 * Every invocation starts from zero state: the kernel itself resets its
 * state tensors (hidden state to its zero point, cell state to 0) before the
 * first time step, so a retried INFER gives the same answer and no state
 * leaks from one sample to the next. docs/ops/recurrent.md has the recipes.
 */
#ifndef KILN_OPS_RECURRENT_H
#define KILN_OPS_RECURRENT_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Gate order of every 4-entry array below (TFLite's input order). */
enum { KILN_LSTM_INPUT = 0, KILN_LSTM_FORGET = 1, KILN_LSTM_CELL = 2, KILN_LSTM_OUTPUT = 3 };

/* UNIDIRECTIONAL_SEQUENCE_LSTM, int8 activations, int8 weights, int32
 * biases, int16 cell state (tflite-micro's integer LSTM). Input
 * [batches][steps][n_input] ([steps][batches][n_input] when time_major),
 * output likewise with n_cell; hidden state [batches][n_cell] int8, cell
 * state [batches][n_cell] int16 with scale 2^cell_scale_power.
 * Per batch and time step, with x the step's input row and h the hidden row:
 *   gate k (forget, input, cell, then after the cell update output):
 *     a = clamp16(requantize(sum (x + in_offset) * w_in[k] + bias[k],
 *                            in_mult[k], in_shift[k]))
 *     r = clamp16(requantize(sum (h + hidden_offset) * w_rec[k],
 *                            rec_mult[k], rec_shift[k]))
 *     g = clamp16(a + r), then sigmoid (cell gate: tanh) on int16 Q3.12 to
 *     Q0.15; the multipliers are QM(in_scale * w_scale / 2^-12) (and
 *     hidden_scale for w_rec), computed in double as for FULLY_CONNECTED.
 *   cell: c = clamp16(requantize(forget * c, fc_mult, fc_shift))
 *         c = clamp16(c + clamp16(requantize(input * cellgate, ic_mult, ic_shift)))
 *         then clamp to [-cell_clip, cell_clip] when cell_clip > 0
 *         (fc: QM(2^-15), ic: QM(2^-30 / cell_scale), cell_clip =
 *         (int16)min(max(clip / cell_scale, -32768), 32767)).
 *   hidden: h = clamp8(requantize(tanh_c(c) * output, hid_mult, hid_shift)
 *         + hidden_zp), hid = QM(2^-30 / hidden_scale); the row is copied to
 *         the output. tanh_c scales its input by (x * tanh_mult + round) >>
 *         tanh_shift: with k = 12 + cell_scale_power, 3 << k and 0 for
 *         k >= 0, else 3 and -k.
 * sigmoid and tanh are the reference's int16 interpolation in the 256-entry
 * table round(65536 / (1 + exp(-i / 24))). scratch: 4 * n_cell int16. */
typedef struct {
    uint32_t batches, steps, n_input, n_cell;
    uint32_t time_major;
    int32_t in_offset, hidden_offset, hidden_zp;
    int32_t in_mult[4], in_shift[4], rec_mult[4], rec_shift[4];
    int32_t fc_mult, fc_shift, ic_mult, ic_shift, hid_mult, hid_shift;
    int32_t tanh_mult, tanh_shift;
    int32_t cell_clip;
    const int8_t *w_in[4];     /* [n_cell][n_input] */
    const int8_t *w_rec[4];    /* [n_cell][n_cell] */
    const int32_t *bias[4];    /* [n_cell] */
} kiln_lstm_s8_params_t;

void kiln_lstm_s8(const kiln_lstm_s8_params_t *p, const int8_t *in, int8_t *hidden,
                  int16_t *cell, int16_t *scratch, int8_t *out);

/* The float32 LSTM, the same steps in float: gate = act(sum x * w_in[k]
 * + bias[k] + sum h * w_rec[k]) (each sum from 0 in index order, the
 * reference's fully connected), c = forget * c + input * cellgate, clamped to
 * [-cell_clip, cell_clip] when cell_clip > 0, h = tanh(c) * output.
 * scratch: 4 * n_cell floats. */
typedef struct {
    uint32_t batches, steps, n_input, n_cell;
    uint32_t time_major;
    float cell_clip;
    const float *w_in[4];
    const float *w_rec[4];
    const float *bias[4];
} kiln_lstm_f32_params_t;

void kiln_lstm_f32(const kiln_lstm_f32_params_t *p, const float *in, float *hidden,
                   float *cell, float *scratch, float *out);

/* SVDF (inputs: input [batches][n_input], weights_feature
 * [n_filter][n_input], weights_time [n_filter][n_memory], optional bias
 * [n_unit], activation state [batches][n_filter * n_memory]; n_unit =
 * n_filter / rank). The state is reset first (int16: 0, int8: its zero point,
 * float: 0), so of the
 * reference's shifted memory only the newest column, written by this invoke,
 * is not the reset value:
 *   state[b][f][n_memory - 1] = clamp16(state_zp + requantize(
 *       sum (in - in_zp) * w_feature[f], mult1, shift1))
 *   t[b][f] = sum_m w_time[f][m] * (state[b][f][m] - state_zp)   (int32, wrapping)
 *   out[b][u] = clamp8(requantize(bias[u] + sum_r t[b][u * rank + r], mult2,
 *       shift2) + out_zp)
 * mult1 = QM((double)(float)(in_scale * wf_scale / state_scale)), mult2 =
 * QM((double)(float)(state_scale * wt_scale / out_scale)) (float arithmetic,
 * as the reference); the int8 path applies no fused activation (neither does
 * the reference's). scratch: batches * (n_filter + n_unit) int32. */
typedef struct {
    uint32_t batches, n_input, n_filter, n_memory, rank, n_unit;
    int32_t in_zp, state_zp, out_zp;
    int32_t mult1, shift1, mult2, shift2;
} kiln_svdf_s8_params_t;

void kiln_svdf_s8(const kiln_svdf_s8_params_t *p, const int8_t *in, const int8_t *w_feature,
                  const int16_t *w_time, const int32_t *bias, int16_t *state, int32_t *scratch,
                  int8_t *out);
/* The same with int8 time weights and an int8 state (clamped to int8, reset
 * to its zero point): tflite-micro's other integer SVDF. */
void kiln_svdf_s8_s8state(const kiln_svdf_s8_params_t *p, const int8_t *in,
                          const int8_t *w_feature, const int8_t *w_time, const int32_t *bias,
                          int8_t *state, int32_t *scratch, int8_t *out);

/* The float32 SVDF, the same steps in float (each sum from 0 in index order,
 * the output from the bias, then the fused activation as a clamp to
 * [act_min, act_max]). scratch: batches * n_filter floats. */
typedef struct {
    uint32_t batches, n_input, n_filter, n_memory, rank, n_unit;
    float act_min, act_max;
} kiln_svdf_f32_params_t;

void kiln_svdf_f32(const kiln_svdf_f32_params_t *p, const float *in, const float *w_feature,
                   const float *w_time, const float *bias, float *state, float *scratch,
                   float *out);

#ifdef __cplusplus
}
#endif

#endif /* KILN_OPS_RECURRENT_H */
