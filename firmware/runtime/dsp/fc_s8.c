/*
 * Kiln DSP kernel: FULLY_CONNECTED (kiln/dsp.h).
 *
 * Rows in blocks of 6 (then 4, 2, 1: fc_walk.h): each loaded input word
 * (4 int8) is widened once with SXTB16 / SXTB16 ROR #8 and multiplied into
 * every row of the block, whose pre-widened weights sit next to each other
 * in flash ([group][row][2 pairs]). Per 4 inputs and 6 rows on the target:
 * 1 load + 2 SXTB16 + 3 LDM of 4 weight words + 12 SMLAD = 18 instructions
 * for 24 MACs (0.81 per MAC with the loop), against 13 for 16 with 4 rows.
 *
 * Why int16 weights in flash: they cost twice the bytes of int8 weights but
 * save two SXTB16 per weight word on every inference; the U585 has 2 MB of
 * flash and the models here need far less.
 *
 * An input length that is not a multiple of 4 ends with one partial group:
 * its 1 to 3 bytes are read one by one (never past the row) into a word
 * whose missing lanes meet the zero weights the layout pads with.
 *
 * Assumes: weights and records as in kiln/dsp.h.
 */
#include "fc_walk.h"

static inline int8_t out_q(const kiln_dsp_fc_params_t *p, const kiln_dsp_rq_t *r, int32_t acc)
{
    int32_t q = kiln_dsp_rq(acc, r, p->exact);
    if (p->clamp) {
        q = kiln_dsp_clamp(q, p->act_min, p->act_max);
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

/* One group of 4 inputs (the word v) for a block of 6 rows, in C. */
#define KILN_FC_GROUP6_V(v)                                 \
    do {                                                    \
        const uint32_t lo = kiln_sxtb16(v), hi = kiln_sxtb16_ror8(v); \
        uint32_t w0, w1;                                    \
        KILN_LDRD_INC(w, w0, w1);                           \
        a[0] = kiln_smlad(hi, w1, kiln_smlad(lo, w0, a[0])); \
        KILN_LDRD_INC(w, w0, w1);                           \
        a[1] = kiln_smlad(hi, w1, kiln_smlad(lo, w0, a[1])); \
        KILN_LDRD_INC(w, w0, w1);                           \
        a[2] = kiln_smlad(hi, w1, kiln_smlad(lo, w0, a[2])); \
        KILN_LDRD_INC(w, w0, w1);                           \
        a[3] = kiln_smlad(hi, w1, kiln_smlad(lo, w0, a[3])); \
        KILN_LDRD_INC(w, w0, w1);                           \
        a[4] = kiln_smlad(hi, w1, kiln_smlad(lo, w0, a[4])); \
        KILN_LDRD_INC(w, w0, w1);                           \
        a[5] = kiln_smlad(hi, w1, kiln_smlad(lo, w0, a[5])); \
    } while (0)

#if KILN_DSP_ASM
/* One group of 4 inputs on the target (fc_walk.h's loop), the first four
 * rows of a block: r0-r3 their accumulators, r6-r7 the widened input word,
 * r8-r11 two rows' weight words, r12 the input, lr the weights. */
#define KILN_FC4_GROUP_ASM                  \
        "ldr    r6, [r12], #4\n\t"          \
        "sxtb16 r7, r6, ror #8\n\t"         \
        "sxtb16 r6, r6\n\t"                 \
        "ldmia  lr!, {r8-r11}\n\t"          \
        "smlad  r0, r6, r8, r0\n\t"         \
        "smlad  r0, r7, r9, r0\n\t"         \
        "smlad  r1, r6, r10, r1\n\t"        \
        "smlad  r1, r7, r11, r1\n\t"        \
        "ldmia  lr!, {r8-r11}\n\t"          \
        "smlad  r2, r6, r8, r2\n\t"         \
        "smlad  r2, r7, r9, r2\n\t"         \
        "smlad  r3, r6, r10, r3\n\t"        \
        "smlad  r3, r7, r11, r3\n\t"

/* The same for a block of 6 rows: rows 4 and 5 in r4, r5. */
#define KILN_FC6_GROUP_ASM                  \
        KILN_FC4_GROUP_ASM                  \
        "ldmia  lr!, {r8-r11}\n\t"          \
        "smlad  r4, r6, r8, r4\n\t"         \
        "smlad  r4, r7, r9, r4\n\t"         \
        "smlad  r5, r6, r10, r5\n\t"        \
        "smlad  r5, r7, r11, r5\n\t"

/* Pairs of groups for a block of rows (a 4-row block's r4, r5 ride along
 * untouched); returns the next block's weights. */
#define KILN_FC_PAIRS_FN(NAME, GROUP_ASM)                                                   \
    static inline const uint32_t *NAME(const int8_t *x, const uint32_t *w, uint32_t pairs,  \
                                       int32_t *acc)                                        \
    {                                                                                       \
        const int8_t *end = x + 8u * pairs;                                                 \
        KILN_FC6_PAIRS_ASM(GROUP_ASM, acc, x, w, end);                                      \
        return w;                                                                           \
    }
KILN_FC_PAIRS_FN(mac6_pairs, KILN_FC6_GROUP_ASM)
KILN_FC_PAIRS_FN(mac4_pairs, KILN_FC4_GROUP_ASM)
#undef KILN_FC_PAIRS_FN
#undef KILN_FC6_GROUP_ASM
#undef KILN_FC4_GROUP_ASM
#endif

static const uint32_t *rows6(const kiln_dsp_fc_params_t *p, const int8_t *x, const uint32_t *w,
                             const kiln_dsp_rq_t *r, int8_t *o)
{
    int32_t a[6];
    uint32_t n = p->in_n / 4u, i;

    for (i = 0; i < 6u; i++) {
        a[i] = r[i].bias;
    }
    if (n & 1u) {
        const uint32_t v = kiln_load32(x);
        x += 4;
        KILN_FC_GROUP6_V(v);
    }
    n /= 2u;
#if KILN_DSP_ASM
    if (n) {
        w = mac6_pairs(x, w, n, a);
        x += 8u * n;
    }
#else
    for (; n; n--, x += 4) {
        uint32_t v = kiln_load32(x);
        x += 4;
        KILN_FC_GROUP6_V(v);
        v = kiln_load32(x);
        KILN_FC_GROUP6_V(v);
    }
#endif
    if (p->in_n & 3u) {
        const uint32_t v = kiln_load_tail32(x, p->in_n & 3u);
        KILN_FC_GROUP6_V(v);
    }
    for (i = 0; i < 6u; i++) {
        o[i] = out_q(p, &r[i], a[i]);
    }
    return w;
}

static const uint32_t *rows4(const kiln_dsp_fc_params_t *p, const int8_t *x, const uint32_t *w,
                             const kiln_dsp_rq_t *r, int8_t *o)
{
    int32_t a0 = r[0].bias, a1 = r[1].bias, a2 = r[2].bias, a3 = r[3].bias;
    uint32_t n = p->in_n / 4u;

    if (n & 1u) {
        KILN_FC_GROUP4();
    }
#if KILN_DSP_ASM
    if (n >= 2u) {
        int32_t a[6] = {a0, a1, a2, a3, 0, 0};
        w = mac4_pairs(x, w, n / 2u, a);
        x += 8u * (n / 2u);
        a0 = a[0]; a1 = a[1]; a2 = a[2]; a3 = a[3];
    }
#else
    for (n /= 2u; n; n--) {
        KILN_FC_GROUP4();
        KILN_FC_GROUP4();
    }
#endif
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

static const uint32_t *rows2(const kiln_dsp_fc_params_t *p, const int8_t *x, const uint32_t *w,
                             const kiln_dsp_rq_t *r, int8_t *o)
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

static const uint32_t *rows1(const kiln_dsp_fc_params_t *p, const int8_t *x, const uint32_t *w,
                             const kiln_dsp_rq_t *r, int8_t *o)
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

void kiln_dsp_fc_s8(const kiln_dsp_fc_params_t *p, const int8_t *in, int8_t *out)
{
    kiln_dsp_fc_walk(p, in, out, p->w, rows6, rows4, rows2, rows1);
}
