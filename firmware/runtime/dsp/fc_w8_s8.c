/*
 * Kiln DSP kernel: FULLY_CONNECTED with int8 weights in flash, the
 * size layout (kiln/dsp.h, OPTIMIZE=size or a model that would not fit).
 *
 * The row blocks and the input's widening are those of fc_s8.c; the weights
 * stay as the model stores them, four per word ([group][row][k0 k1 k2 k3]),
 * and SXTB16 / SXTB16 ROR #8 widen them into the same lanes ([k0, k2],
 * [k1, k3]) as the input word. That costs two SXTB16 per weight word (per
 * 4 inputs and 6 rows: 1 + 2 + 3 LDRD + 12 SXTB16 + 12 SMLAD = 30 for 24
 * MACs, against 18 with pre-widened weights) and halves the layer's flash.
 *
 * The accumulator is not doubled here (the weights are not): the record's
 * doubled bias is added to 2 * acc before the requantization. The build's
 * bound on the doubled accumulator (dsp_layout.requant_records) covers it.
 */
#include "fc_walk.h"

static inline int8_t out_q(const kiln_dsp_fc_params_t *p, const kiln_dsp_rq_t *r, int32_t acc)
{
    /* acc2 = bias' + 2 * acc: wrapping arithmetic, proven in range at build time */
    int32_t q = kiln_dsp_rq((int32_t)((uint32_t)r->bias + ((uint32_t)acc << 1)), r, p->exact);
    if (p->clamp) {
        q = kiln_dsp_clamp(q, p->act_min, p->act_max);
    }
    return (int8_t)q;
}

/* One row's weight word into its accumulator: lanes [k0, k2] and [k1, k3]. */
#define KILN_FC8_ROW(acc, wv)                                      \
    do {                                                           \
        acc = kiln_smlad(lo, kiln_sxtb16(wv), acc);                \
        acc = kiln_smlad(hi, kiln_sxtb16_ror8(wv), acc);           \
    } while (0)

#define KILN_FC8_GROUP4(V)                                         \
    do {                                                           \
        const uint32_t lo = kiln_sxtb16(V), hi = kiln_sxtb16_ror8(V); \
        uint32_t w0, w1;                                           \
        KILN_LDRD_INC(w, w0, w1);                                  \
        KILN_FC8_ROW(a0, w0);                                      \
        KILN_FC8_ROW(a1, w1);                                      \
        KILN_LDRD_INC(w, w0, w1);                                  \
        KILN_FC8_ROW(a2, w0);                                      \
        KILN_FC8_ROW(a3, w1);                                      \
    } while (0)

/* A block of 6 rows: per group 3 LDRD, 12 SXTB16 and 12 SMLAD beside the
 * input's load and widening. */
static const uint32_t *rows6(const kiln_dsp_fc_params_t *p, const int8_t *x, const uint32_t *w,
                             const kiln_dsp_rq_t *r, int8_t *o)
{
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0;
    const int8_t *end = x + (p->in_n & ~3u);
    uint32_t v, w0, w1;

#define KILN_FC8_GROUP6(V)                                         \
    do {                                                           \
        const uint32_t lo = kiln_sxtb16(V), hi = kiln_sxtb16_ror8(V); \
        KILN_LDRD_INC(w, w0, w1);                                  \
        KILN_FC8_ROW(a0, w0);                                      \
        KILN_FC8_ROW(a1, w1);                                      \
        KILN_LDRD_INC(w, w0, w1);                                  \
        KILN_FC8_ROW(a2, w0);                                      \
        KILN_FC8_ROW(a3, w1);                                      \
        KILN_LDRD_INC(w, w0, w1);                                  \
        KILN_FC8_ROW(a4, w0);                                      \
        KILN_FC8_ROW(a5, w1);                                      \
    } while (0)
    for (; x != end; x += 4) {
        v = kiln_load32(x);
        KILN_FC8_GROUP6(v);
    }
    if (p->in_n & 3u) {
        v = kiln_load_tail32(x, p->in_n & 3u);
        KILN_FC8_GROUP6(v);
    }
#undef KILN_FC8_GROUP6
    o[0] = out_q(p, &r[0], a0);
    o[1] = out_q(p, &r[1], a1);
    o[2] = out_q(p, &r[2], a2);
    o[3] = out_q(p, &r[3], a3);
    o[4] = out_q(p, &r[4], a4);
    o[5] = out_q(p, &r[5], a5);
    return w;
}

static const uint32_t *rows4(const kiln_dsp_fc_params_t *p, const int8_t *x, const uint32_t *w,
                             const kiln_dsp_rq_t *r, int8_t *o)
{
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    const int8_t *end = x + (p->in_n & ~3u);

    for (; x != end; x += 4) {
        const uint32_t v = kiln_load32(x);
        KILN_FC8_GROUP4(v);
    }
    if (p->in_n & 3u) {
        const uint32_t v = kiln_load_tail32(x, p->in_n & 3u);
        KILN_FC8_GROUP4(v);
    }
    o[0] = out_q(p, &r[0], a0);
    o[1] = out_q(p, &r[1], a1);
    o[2] = out_q(p, &r[2], a2);
    o[3] = out_q(p, &r[3], a3);
    return w;
}

static const uint32_t *rows2(const kiln_dsp_fc_params_t *p, const int8_t *x, const uint32_t *w,
                             const kiln_dsp_rq_t *r, int8_t *o)
{
    int32_t a0 = 0, a1 = 0;
    const int8_t *end = x + (p->in_n & ~3u);
    uint32_t v, w0, w1;

    for (; x != end; x += 4) {
        v = kiln_load32(x);
        const uint32_t lo = kiln_sxtb16(v), hi = kiln_sxtb16_ror8(v);
        KILN_LDRD_INC(w, w0, w1);
        KILN_FC8_ROW(a0, w0);
        KILN_FC8_ROW(a1, w1);
    }
    if (p->in_n & 3u) {
        v = kiln_load_tail32(x, p->in_n & 3u);
        const uint32_t lo = kiln_sxtb16(v), hi = kiln_sxtb16_ror8(v);
        KILN_LDRD_INC(w, w0, w1);
        KILN_FC8_ROW(a0, w0);
        KILN_FC8_ROW(a1, w1);
    }
    o[0] = out_q(p, &r[0], a0);
    o[1] = out_q(p, &r[1], a1);
    return w;
}

static const uint32_t *rows1(const kiln_dsp_fc_params_t *p, const int8_t *x, const uint32_t *w,
                             const kiln_dsp_rq_t *r, int8_t *o)
{
    int32_t a0 = 0;
    const int8_t *end = x + (p->in_n & ~3u);
    uint32_t v, wv;

    for (; x != end; x += 4) {
        v = kiln_load32(x);
        const uint32_t lo = kiln_sxtb16(v), hi = kiln_sxtb16_ror8(v);
        wv = *w++;
        KILN_FC8_ROW(a0, wv);
    }
    if (p->in_n & 3u) {
        v = kiln_load_tail32(x, p->in_n & 3u);
        const uint32_t lo = kiln_sxtb16(v), hi = kiln_sxtb16_ror8(v);
        wv = *w++;
        KILN_FC8_ROW(a0, wv);
    }
    o[0] = out_q(p, &r[0], a0);
    return w;
}

void kiln_dsp_fc_w8_s8(const kiln_dsp_fc_params_t *p, const int8_t *in, int8_t *out)
{
    kiln_dsp_fc_walk(p, in, out, p->w8, rows6, rows4, rows2, rows1);
}
