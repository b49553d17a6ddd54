/*
 * Kiln Cortex-M33 kernel: FULLY_CONNECTED (kiln/cm33.h).
 *
 * Rows in blocks of 4 (then 2, then 1): each loaded input word (4 int8) is
 * widened once with SXTB16 / SXTB16 ROR #8 and multiplied into every row of
 * the block, whose pre-widened weights sit next to each other in flash
 * ([group][row][2 pairs]). Per 4 inputs and 4 rows: 1 load + 2 SXTB16 +
 * 8 weight words + 8 SMLAD for 16 MACs.
 *
 * Why int16 weights in flash: they cost twice the bytes of int8 weights but
 * save two SXTB16 per weight word on every inference; the U585 has 2 MB of
 * flash and the models here need far less.
 *
 * An input length that is not a multiple of 4 ends with one partial group:
 * its 1 to 3 bytes are read one by one (never past the row) into a word
 * whose missing lanes meet the zero weights the layout pads with.
 *
 * Assumes: weights and records as in kiln/cm33.h.
 */
#include "fc_walk.h"

static inline int8_t out_q(const kiln_cm33_fc_params_t *p, const kiln_cm33_rq_t *r, int32_t acc)
{
    int32_t q = kiln_cm33_rq(acc, r, p->exact);
    if (p->clamp) {
        q = kiln_cm33_clamp(q, p->act_min, p->act_max);
    }
    return (int8_t)q;
}

/* One group of 4 inputs (the word v) for a block of 4 rows: 2 SXTB16,
 * 4 LDRD, 8 SMLAD. */
#define KILN_FC_GROUP4_V(v)                                 \
    do {                                                    \
        const uint32_t lo = kiln_sxtb16(v), hi = kiln_sxtb16_ror8(v); \
        uint32_t w0, w1;                                    \
        KILN_LDRD_INC(w, w0, w1);                           \
        a0 = kiln_smlad(lo, w0, a0);                        \
        a0 = kiln_smlad(hi, w1, a0);                        \
        KILN_LDRD_INC(w, w0, w1);                           \
        a1 = kiln_smlad(lo, w0, a1);                        \
        a1 = kiln_smlad(hi, w1, a1);                        \
        KILN_LDRD_INC(w, w0, w1);                           \
        a2 = kiln_smlad(lo, w0, a2);                        \
        a2 = kiln_smlad(hi, w1, a2);                        \
        KILN_LDRD_INC(w, w0, w1);                           \
        a3 = kiln_smlad(lo, w0, a3);                        \
        a3 = kiln_smlad(hi, w1, a3);                        \
    } while (0)

#define KILN_FC_GROUP4()                                    \
    do {                                                    \
        const uint32_t v4 = kiln_load32(x);                 \
        x += 4;                                             \
        KILN_FC_GROUP4_V(v4);                               \
    } while (0)

static const uint32_t *rows4(const kiln_cm33_fc_params_t *p, const int8_t *x, const uint32_t *w,
                             const kiln_cm33_rq_t *r, int8_t *o)
{
    int32_t a0 = r[0].bias, a1 = r[1].bias, a2 = r[2].bias, a3 = r[3].bias;
    uint32_t n = p->in_n / 4u;

    if (n & 1u) {
        KILN_FC_GROUP4();
    }
    for (n /= 2u; n; n--) {
        KILN_FC_GROUP4();
        KILN_FC_GROUP4();
    }
    if (p->in_n & 3u) {
        const uint32_t v = kiln_load_tail32(x, p->in_n & 3u);
        KILN_FC_GROUP4_V(v);
    }
    o[0] = out_q(p, &r[0], a0);
    o[1] = out_q(p, &r[1], a1);
    o[2] = out_q(p, &r[2], a2);
    o[3] = out_q(p, &r[3], a3);
    return w;
}

static const uint32_t *rows2(const kiln_cm33_fc_params_t *p, const int8_t *x, const uint32_t *w,
                             const kiln_cm33_rq_t *r, int8_t *o)
{
    int32_t a0 = r[0].bias, a1 = r[1].bias;
    const int8_t *end = x + (p->in_n & ~3u);
    uint32_t v, w0, w1;

#define KILN_FC_GROUP2(V)                                   \
    do {                                                    \
        const uint32_t lo = kiln_sxtb16(V), hi = kiln_sxtb16_ror8(V); \
        KILN_LDRD_INC(w, w0, w1);                           \
        a0 = kiln_smlad(lo, w0, a0);                        \
        a0 = kiln_smlad(hi, w1, a0);                        \
        KILN_LDRD_INC(w, w0, w1);                           \
        a1 = kiln_smlad(lo, w0, a1);                        \
        a1 = kiln_smlad(hi, w1, a1);                        \
    } while (0)
    for (; x != end; x += 4) {
        v = kiln_load32(x);
        KILN_FC_GROUP2(v);
    }
    if (p->in_n & 3u) {
        v = kiln_load_tail32(x, p->in_n & 3u);
        KILN_FC_GROUP2(v);
    }
#undef KILN_FC_GROUP2
    o[0] = out_q(p, &r[0], a0);
    o[1] = out_q(p, &r[1], a1);
    return w;
}

static const uint32_t *rows1(const kiln_cm33_fc_params_t *p, const int8_t *x, const uint32_t *w,
                             const kiln_cm33_rq_t *r, int8_t *o)
{
    int32_t a0 = r[0].bias;
    const int8_t *end = x + (p->in_n & ~3u);
    uint32_t v, w0, w1;

    for (; x != end; x += 4) {
        v = kiln_load32(x);
        KILN_LDRD_INC(w, w0, w1);
        a0 = kiln_smlad(kiln_sxtb16(v), w0, a0);
        a0 = kiln_smlad(kiln_sxtb16_ror8(v), w1, a0);
    }
    if (p->in_n & 3u) {
        v = kiln_load_tail32(x, p->in_n & 3u);
        KILN_LDRD_INC(w, w0, w1);
        a0 = kiln_smlad(kiln_sxtb16(v), w0, a0);
        a0 = kiln_smlad(kiln_sxtb16_ror8(v), w1, a0);
    }
    o[0] = out_q(p, &r[0], a0);
    return w;
}

void kiln_cm33_fc_s8(const kiln_cm33_fc_params_t *p, const int8_t *in, int8_t *out)
{
    kiln_cm33_fc_walk(p, in, out, p->w, rows4, rows2, rows1);
}
