/*
 * Kiln DSP kernel: FULLY_CONNECTED with int8 weights in flash, the
 * size layout (kiln/dsp.h, OPTIMIZE=size or a model that would not fit).
 *
 * Why not widen each weight word with two SXTB16: that costs 2 instructions
 * per 4 weights that the int16 speed layout does not pay, and every weight
 * is read once. Here a word costs one SXTB16, so the size layout runs
 * about as fast as the speed layout with half its flash.
 *
 * The arithmetic. A weight word holds k0 k1 k2 k3 with bytes 0 and 2 stored
 * plus 128 (dsp_layout.fc_weights8), so read whole its signed halfwords are
 * [256 k1 + k0 + 128, 256 k3 + k2 + 128]; SXTB16 ROR #8 gives [k1, k3].
 * Each input word x0 x1 x2 x3 is split once per batch row (split_input) into
 *   Y = [x0, x2]                          (SXTB16)
 *   Z = [x1 - 128 - 256 x0, x3 - 128 - 256 x2]
 * whose lanes lie in [-32768, 32767] for every int8 input, so the 16-bit
 * lanes hold them exactly; as bytes they are [x1 ^ 0x80, ~x0, x3 ^ 0x80, ~x2],
 * that is REV16 and one EOR. Then
 *   SMLAD(word, Y) + SMLAD(SXTB16 ROR #8 (word), Z)
 *     = x0 k0 + x1 k1 + x2 k2 + x3 k3 + 128 (x0 + x2) - 128 (k1 + k3).
 * The first excess depends on the input only: every accumulator starts at
 * -128 * (the inputs at even positions), computed once per batch row. The
 * second depends on the row only: its record's bias carries it
 * (dsp_layout.fc_records8). Per 4 inputs and 6 rows: 1 LDRD, 2 LDM,
 * 6 SXTB16 and 12 SMLAD = 21 instructions for 24 MACs, against 18 with
 * pre-widened weights.
 *
 * The accumulator is not doubled here (the weights are not): the record's
 * doubled bias is added to 2 * acc before the requantization, in wrapping
 * arithmetic. The partial sums may wrap; the final one is the true
 * accumulator less the row's term, and the build's bound on the doubled
 * accumulator with its bias (dsp_layout.requant_records) covers the sum.
 *
 * Scratch (p->split, arena): word 0 the accumulators' start, then [Y, Z] per
 * group of 4 inputs; a last partial group reads as zeros, which meet the
 * zero weights the layout pads with.
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

/* One batch row's input into p->split; word 0 gets -128 * (x0 + x2 + ...).
 * Per group: LDR, SXTB16, REV16, EOR, STRD, SMLAD and the loop's two. */
static void split_input(const int8_t *x, uint32_t in_n, uint32_t *split)
{
    uint32_t *yz = split + 1;
    const int8_t *end = x + (in_n & ~3u);
    int32_t even = 0;
    uint32_t flip = 0xFF80FF80u, ones = 0x00010001u, v, y;

    /* in registers: neither is an immediate the EOR or SMLAD could take */
    __asm__("" : "+r"(flip), "+r"(ones));
    for (; x != end; x += 4) {
        v = kiln_load32(x);
        y = kiln_sxtb16(v);
        KILN_STRD_INC(yz, y, kiln_rev16(v) ^ flip);
        even = kiln_smlad(y, ones, even);
    }
    if (in_n & 3u) {
        v = kiln_load_tail32(x, in_n & 3u);
        y = kiln_sxtb16(v);
        KILN_STRD_INC(yz, y, kiln_rev16(v) ^ flip);
        even = kiln_smlad(y, ones, even);
    }
    split[0] = 0u - ((uint32_t)even << 7);
}

/* One row's weight word into its accumulator. */
#define KILN_FC8_ROW(acc, wv) acc = kiln_smlad(kiln_sxtb16_ror8(wv), z, kiln_smlad(wv, y, acc))

/* Two rows' weight words (one LDRD) into their accumulators. */
#define KILN_FC8_ROW_PAIR(accA, accB)                              \
    do {                                                           \
        uint32_t w0, w1;                                           \
        KILN_LDRD_INC(w, w0, w1);                                  \
        KILN_FC8_ROW(accA, w0);                                    \
        KILN_FC8_ROW(accB, w1);                                    \
    } while (0)

/* One group of 4 inputs for a block of 6 rows (accumulators a[]). */
#define KILN_FC8_GROUP6()                                          \
    do {                                                           \
        uint32_t y, z;                                             \
        KILN_LDRD_INC(yz, y, z);                                   \
        KILN_FC8_ROW_PAIR(a[0], a[1]);                             \
        KILN_FC8_ROW_PAIR(a[2], a[3]);                             \
        KILN_FC8_ROW_PAIR(a[4], a[5]);                             \
    } while (0)

#if KILN_DSP_ASM
/* Pairs of groups for a block of 6 rows on the target (fc_walk.h's loop).
 * Registers: r0-r5 the accumulators, r6-r7 the group's Y and Z, r8-r10
 * three rows' weight words, r11 one word's SXTB16 ROR #8, r12 the split
 * input, lr the weights. */
static inline const uint32_t *mac6_pairs(const uint32_t *yz, const uint32_t *w, uint32_t pairs,
                                         int32_t *acc)
{
    const uint32_t *end = yz + 4u * pairs;

#define KILN_FC8_ROWS3_ASM(A, B, C)               \
        "ldmia  lr!, {r8-r10}\n\t"                \
        "sxtb16 r11, r8, ror #8\n\t"              \
        "smlad  " A ", r8, r6, " A "\n\t"         \
        "smlad  " A ", r11, r7, " A "\n\t"        \
        "sxtb16 r11, r9, ror #8\n\t"              \
        "smlad  " B ", r9, r6, " B "\n\t"         \
        "smlad  " B ", r11, r7, " B "\n\t"        \
        "sxtb16 r11, r10, ror #8\n\t"             \
        "smlad  " C ", r10, r6, " C "\n\t"        \
        "smlad  " C ", r11, r7, " C "\n\t"
#define KILN_FC8_GROUP6_ASM                       \
        "ldrd   r6, r7, [r12], #8\n\t"            \
        KILN_FC8_ROWS3_ASM("r0", "r1", "r2")      \
        KILN_FC8_ROWS3_ASM("r3", "r4", "r5")
    KILN_FC6_PAIRS_ASM(KILN_FC8_GROUP6_ASM, acc, yz, w, end);
#undef KILN_FC8_GROUP6_ASM
#undef KILN_FC8_ROWS3_ASM
    return w;
}
#endif

/* The blocks of rows: x is p->split, as split_input left it. The smaller
 * blocks keep their accumulators in scalars (an array would live on the
 * stack). */
static const uint32_t *rows6(const kiln_dsp_fc_params_t *p, const int8_t *x, const uint32_t *w,
                             const kiln_dsp_rq_t *r, int8_t *o)
{
    const uint32_t *yz = (const uint32_t *)(const void *)x;
    uint32_t n = (p->in_n + 3u) / 4u, i;
    int32_t a[6];

    for (i = 0; i < 6u; i++) {
        a[i] = (int32_t)yz[0];
    }
    yz++;
    if (n & 1u) {
        KILN_FC8_GROUP6();
    }
    n /= 2u;
#if KILN_DSP_ASM
    if (n) {
        w = mac6_pairs(yz, w, n, a);
    }
#else
    for (; n; n--) {
        KILN_FC8_GROUP6();
        KILN_FC8_GROUP6();
    }
#endif
    for (i = 0; i < 6u; i++) {
        o[i] = out_q(p, &r[i], a[i]);
    }
    return w;
}

static const uint32_t *rows4(const kiln_dsp_fc_params_t *p, const int8_t *x, const uint32_t *w,
                             const kiln_dsp_rq_t *r, int8_t *o)
{
    const uint32_t *yz = (const uint32_t *)(const void *)x;
    int32_t a0 = (int32_t)*yz++, a1 = a0, a2 = a0, a3 = a0;
    uint32_t n, y, z;

    for (n = (p->in_n + 3u) / 4u; n; n--) {
        KILN_LDRD_INC(yz, y, z);
        KILN_FC8_ROW_PAIR(a0, a1);
        KILN_FC8_ROW_PAIR(a2, a3);
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
    const uint32_t *yz = (const uint32_t *)(const void *)x;
    int32_t a0 = (int32_t)*yz++, a1 = a0;
    uint32_t n, y, z;

    for (n = (p->in_n + 3u) / 4u; n; n--) {
        KILN_LDRD_INC(yz, y, z);
        KILN_FC8_ROW_PAIR(a0, a1);
    }
    o[0] = out_q(p, &r[0], a0);
    o[1] = out_q(p, &r[1], a1);
    return w;
}

static const uint32_t *rows1(const kiln_dsp_fc_params_t *p, const int8_t *x, const uint32_t *w,
                             const kiln_dsp_rq_t *r, int8_t *o)
{
    const uint32_t *yz = (const uint32_t *)(const void *)x;
    int32_t a0 = (int32_t)*yz++;
    uint32_t n, y, z;

    for (n = (p->in_n + 3u) / 4u; n; n--) {
        KILN_LDRD_INC(yz, y, z);
        const uint32_t w0 = *w++;
        KILN_FC8_ROW(a0, w0);
    }
    o[0] = out_q(p, &r[0], a0);
    return w;
}

void kiln_dsp_fc_w8_s8(const kiln_dsp_fc_params_t *p, const int8_t *in, int8_t *out)
{
    uint32_t b;

    for (b = 0; b < p->batches; b++) {
        split_input(in, p->in_n, p->split);
        kiln_dsp_fc_blocks(p, (const int8_t *)(const void *)p->split, out, p->w8, rows6, rows4,
                           rows2, rows1);
        in += p->in_n;
        out += p->out_n;
    }
}
