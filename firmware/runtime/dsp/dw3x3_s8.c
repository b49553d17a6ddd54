/*
 * Kiln DSP kernel: DEPTHWISE_CONV_2D 3x3, stride 1 or 2 (kiln/dsp.h).
 *
 * Why planar: SMLAD's two products go to one accumulator, so it needs two
 * taps of one channel in one word. In NHWC a word holds four channels of one
 * tap, which leaves one multiply per MAC (dwconv_s8.c). Here each channel's
 * input is first widened into a padded int16 plane, where adjacent taps of a
 * plane row are adjacent halfwords.
 *
 * Two outputs x, x+1 of a plane row read, per kernel row, the words
 * W0 = [x, x+1] and W1 = [x+2, x+3]. With the row's weights held as the two
 * pairs P01 = [k0, k1] and P12 = [k1, k2]:
 *     out x   = SMLAD(W0, P01) + SMLABT(W1, P12)     (x k0 + x+1 k1, x+2 k2)
 *     out x+1 = SMLATB(W0, P01) + SMLAD(W1, P12)     (x+1 k0, x+2 k1 + x+3 k2)
 * so six MACs cost two loads and four multiplies, with no halfword shuffling:
 * 22 instructions per two outputs (18 MACs) with the loop. A batch of rows'
 * accumulators is then requantized in a second loop (about 6 per output),
 * where the per-channel constants stay in registers (one channel at a time).
 * Both loops, and the plane's copy, walk their rows inside the assembly: on
 * small maps (VWW's 6x6) a call per row cost as much as the row's MACs.
 *
 * The plane's padding (the input zero point, which the folded bias expects:
 * kiln/dsp.h) is written once per call: it is the same for every channel,
 * and each channel overwrites only the plane's interior. The build may hand
 * the kernel the input transposed (the strides in the parameters), so that
 * the rows are the longer side: DS-CNN's 25x5 maps become 5 rows of 25.
 */
#include "dsp_rq.h"

/* The widest plane (int16) at stride 1 with a mac_rows4() of its own. */
#define DW3X3_WIDE_MAX 64u

/* The plane's width in int16: at stride 1 each two-output step reads four
 * columns from its first, so a row of len outputs (rounded up to a pair)
 * reads len rounded up to even, plus two; at stride 2 it reads six columns
 * from its first, four further on. mac_rows and mac_rows_s2 walk the rows on
 * that assumption. */
static inline uint32_t plane_width(uint32_t pairs, uint32_t stride)
{
    const uint32_t w = 2u * stride * pairs + 2u;

    /* At stride 1 up to 64 it is rounded up to a multiple of 8: mac_rows4()
     * is compiled for those widths (its row offsets are immediates). */
    return stride == 1u && w <= DW3X3_WIDE_MAX ? (w + 7u) & ~7u : w;
}

/* The plane's rows: output row y reads plane rows stride * y .. + 2. */
static inline uint32_t plane_rows(uint32_t rows, uint32_t stride)
{
    return stride * (rows - 1u) + 3u;
}

/* The channel's input rows into the plane: nrows rows of n elements, the
 * elements `step` bytes apart and the rows `srow` bytes apart in the input,
 * `pw` int16 apart in the plane. */
#if KILN_DSP_ASM
/* Per four elements: four LDRSB, two PKHBT, two STR (unaligned when the
 * padding is one column: STRD could not be) and the loop: 13; then the row's
 * last n % 4 one at a time. */
static void copy_rows(int16_t *d, const int8_t *src, int32_t step, int32_t srow, uint32_t n,
                      uint32_t nrows, uint32_t pw)
{
    const uint32_t quads = n / 4u, tail = n % 4u, pw2 = 2u * pw;
    int16_t *db = d;
    const int8_t *sb = src;
    uint32_t a, b, c, e, k;

    __asm__ volatile(
        "1:\n\t"
        "mov    %[s], %[sb]\n\t"
        "mov    %[d], %[db]\n\t"
        "ldr    %[k], %[quads]\n\t"
        "cmp    %[k], #0\n\t"
        "beq    3f\n\t"
        "2:\n\t"
        "ldrsb  %[a], [%[s]]\n\t"
        "ldrsb  %[b], [%[s], %[st]]\n\t"
        "add    %[s], %[s], %[st], lsl #1\n\t"
        "ldrsb  %[c], [%[s]]\n\t"
        "ldrsb  %[e], [%[s], %[st]]\n\t"
        "add    %[s], %[s], %[st], lsl #1\n\t"
        "pkhbt  %[a], %[a], %[b], lsl #16\n\t"
        "pkhbt  %[c], %[c], %[e], lsl #16\n\t"
        "str    %[a], [%[d]], #4\n\t"
        "str    %[c], [%[d]], #4\n\t"
        "subs   %[k], %[k], #1\n\t"
        "bne    2b\n\t"
        "3:\n\t"
        "ldr    %[k], %[tail]\n\t"
        "cmp    %[k], #0\n\t"
        "beq    5f\n\t"
        "4:\n\t"
        "ldrsb  %[a], [%[s]]\n\t"
        "add    %[s], %[s], %[st]\n\t"
        "strh   %[a], [%[d]], #2\n\t"
        "subs   %[k], %[k], #1\n\t"
        "bne    4b\n\t"
        "5:\n\t"
        "ldr    %[k], %[srow]\n\t"
        "add    %[sb], %[sb], %[k]\n\t"
        "ldr    %[k], %[pw2]\n\t"
        "add    %[db], %[db], %[k]\n\t"
        "ldr    %[k], %[rows]\n\t"
        "subs   %[k], %[k], #1\n\t"
        "str    %[k], %[rows]\n\t"
        "bne    1b\n\t"
        : [a] "=&r"(a), [b] "=&r"(b), [c] "=&r"(c), [e] "=&r"(e), [k] "=&r"(k), [s] "=&r"(src),
          [d] "=&r"(d), [sb] "+r"(sb), [db] "+r"(db), [rows] "+m"(nrows)
        : [st] "r"(step), [quads] "m"(quads), [tail] "m"(tail), [srow] "m"(srow), [pw2] "m"(pw2)
        : "cc", "memory");
}
#else
static void copy_rows(int16_t *d, const int8_t *src, int32_t step, int32_t srow, uint32_t n,
                      uint32_t nrows, uint32_t pw)
{
    uint32_t y, i;

    for (y = 0; y < nrows; y++, src += srow, d += pw) {
        for (i = 0; i < n; i++) {
            d[i] = src[(int32_t)i * step];
        }
    }
}
#endif

/* Four channels' input rows into four planes (pcells int16 apart) at once:
 * one word of the input holds the four channels of an element. */
#if KILN_DSP_ASM
/* Per two elements of four channels: two LDR, four SXTB16, four PKH, four
 * STR and the loop: 17 for 8 plane cells, against 26 for copy_rows; and a
 * row's set-up is paid once for four channels (on VWW's 6x6 maps it cost as
 * much as its six elements). */
static void copy_rows4(int16_t *d, const int8_t *src, int32_t step, int32_t srow, uint32_t n,
                       uint32_t nrows, uint32_t pw, uint32_t pcells)
{
    const uint32_t pairs = n / 2u, odd = n % 2u, pw2 = 2u * pw, pb = 2u * pcells;
    int16_t *db = d, *d0, *d2;
    const int8_t *sb = src, *s;
    uint32_t a, b, t0, t1, x, k;

    __asm__ volatile(
        "1:\n\t"
        "mov    %[s], %[sb]\n\t"
        "mov    %[d0], %[db]\n\t"
        "add    %[d2], %[db], %[pb], lsl #1\n\t"
        "ldr    %[k], %[pairs]\n\t"
        "cmp    %[k], #0\n\t"
        "beq    3f\n\t"
        "2:\n\t"
        "ldr    %[a], [%[s]]\n\t"
        "ldr    %[b], [%[s], %[st]]\n\t"
        "add    %[s], %[s], %[st], lsl #1\n\t"
        "sxtb16 %[t0], %[a]\n\t"                /* [a0, a2] */
        "sxtb16 %[a], %[a], ror #8\n\t"         /* [a1, a3] */
        "sxtb16 %[t1], %[b]\n\t"
        "sxtb16 %[b], %[b], ror #8\n\t"
        "pkhbt  %[x], %[t0], %[t1], lsl #16\n\t"  /* [a0, b0] */
        "pkhtb  %[t1], %[t1], %[t0], asr #16\n\t" /* [a2, b2] */
        "pkhbt  %[t0], %[a], %[b], lsl #16\n\t"   /* [a1, b1] */
        "pkhtb  %[b], %[b], %[a], asr #16\n\t"    /* [a3, b3] */
        "str    %[t0], [%[d0], %[pb]]\n\t"
        "str    %[x], [%[d0]], #4\n\t"
        "str    %[b], [%[d2], %[pb]]\n\t"
        "str    %[t1], [%[d2]], #4\n\t"
        "subs   %[k], %[k], #1\n\t"
        "bne    2b\n\t"
        "3:\n\t"
        "ldr    %[k], %[odd]\n\t"
        "cmp    %[k], #0\n\t"
        "beq    4f\n\t"
        "ldr    %[a], [%[s]]\n\t"
        "sxtb16 %[t0], %[a]\n\t"
        "sxtb16 %[a], %[a], ror #8\n\t"
        "strh   %[t0], [%[d0]]\n\t"
        "strh   %[a], [%[d0], %[pb]]\n\t"
        "lsr    %[t0], %[t0], #16\n\t"
        "lsr    %[a], %[a], #16\n\t"
        "strh   %[t0], [%[d2]]\n\t"
        "strh   %[a], [%[d2], %[pb]]\n\t"
        "4:\n\t"
        "ldr    %[k], %[srow]\n\t"
        "add    %[sb], %[sb], %[k]\n\t"
        "ldr    %[k], %[pw2]\n\t"
        "add    %[db], %[db], %[k]\n\t"
        "ldr    %[k], %[rows]\n\t"
        "subs   %[k], %[k], #1\n\t"
        "str    %[k], %[rows]\n\t"
        "bne    1b\n\t"
        : [a] "=&r"(a), [b] "=&r"(b), [t0] "=&r"(t0), [t1] "=&r"(t1), [x] "=&r"(x), [k] "=&r"(k),
          [s] "=&r"(s), [d0] "=&r"(d0), [d2] "=&r"(d2), [sb] "+r"(sb), [db] "+r"(db),
          [rows] "+m"(nrows)
        : [st] "r"(step), [pb] "r"(pb), [pairs] "m"(pairs), [odd] "m"(odd), [srow] "m"(srow),
          [pw2] "m"(pw2)
        : "cc", "memory");
}
#else
static void copy_rows4(int16_t *d, const int8_t *src, int32_t step, int32_t srow, uint32_t n,
                       uint32_t nrows, uint32_t pw, uint32_t pcells)
{
    uint32_t k;

    for (k = 0; k < 4u; k++) {
        copy_rows(d + k * pcells, src + k, step, srow, n, nrows, pw);
    }
}
#endif

#if KILN_DSP_ASM
/* The channel's six weight pairs pinned to r0-r5, where the MAC loops'
 * assembly reads them. */
#define KILN_DW3_WEIGHT_REGS(w) \
    register uint32_t k0 __asm__("r0") = (w)[0]; \
    register uint32_t k1 __asm__("r1") = (w)[1]; \
    register uint32_t k2 __asm__("r2") = (w)[2]; \
    register uint32_t k3 __asm__("r3") = (w)[3]; \
    register uint32_t k4 __asm__("r4") = (w)[4]; \
    register uint32_t k5 __asm__("r5") = (w)[5]
#endif

/* The accumulators of nrows output rows, two outputs per step, into acc
 * (rows of 2 * pairs int32). rows: the plane row under kernel row 0 at the
 * first row's first output (the plane is 2 * pairs + 2 wide); w: the
 * channel's six weight pairs. */
#if KILN_DSP_ASM
/* Registers: r0-r5 the weight pairs, r6-r8 the three plane rows, r9 r10 the
 * accumulators, r11 the loaded word, r12 the accumulator row, lr the row's
 * end. The bias pair comes from the stack (LDRD): no register is left for
 * it. At a row's end the plane pointers skip the two columns past it. */
static void mac_rows(const int16_t *rows, const uint32_t *w, int32_t bias, int32_t *acc,
                     uint32_t pairs, uint32_t nrows)
{
    const uint32_t pw = plane_width(pairs, 1u);
    KILN_DW3_WEIGHT_REGS(w);
    register const int16_t *p0 __asm__("r6") = rows;
    register const int16_t *p1 __asm__("r7") = rows + pw;
    register const int16_t *p2 __asm__("r8") = rows + 2u * pw;
    register int32_t *dst __asm__("r12") = acc;
    const int32_t bb[2] = {bias, bias};
    const uint32_t row_bytes = 8u * pairs;
    const int32_t *row_end = acc + 2u * pairs, *end = acc + 2u * pairs * nrows;

    __asm__ volatile(
        "ldr    lr, %[rend]\n\t"
        "1:\n\t"
        "ldrd   r9, r10, %[bb]\n\t"
        "ldr    r11, [r6], #4\n\t"
        "smlad  r9, r11, r0, r9\n\t"
        "smlatb r10, r11, r0, r10\n\t"
        "ldr    r11, [r6]\n\t"
        "smlabt r9, r11, r1, r9\n\t"
        "smlad  r10, r11, r1, r10\n\t"
        "ldr    r11, [r7], #4\n\t"
        "smlad  r9, r11, r2, r9\n\t"
        "smlatb r10, r11, r2, r10\n\t"
        "ldr    r11, [r7]\n\t"
        "smlabt r9, r11, r3, r9\n\t"
        "smlad  r10, r11, r3, r10\n\t"
        "ldr    r11, [r8], #4\n\t"
        "smlad  r9, r11, r4, r9\n\t"
        "smlatb r10, r11, r4, r10\n\t"
        "ldr    r11, [r8]\n\t"
        "smlabt r9, r11, r5, r9\n\t"
        "smlad  r10, r11, r5, r10\n\t"
        "strd   r9, r10, [r12], #8\n\t"
        "cmp    r12, lr\n\t"
        "bne    1b\n\t"
        "add    r6, r6, #4\n\t"
        "add    r7, r7, #4\n\t"
        "add    r8, r8, #4\n\t"
        "ldr    r11, %[rb]\n\t"
        "add    lr, lr, r11\n\t"
        "ldr    r11, %[end]\n\t"
        "cmp    r12, r11\n\t"
        "bne    1b\n\t"
        : "+r"(p0), "+r"(p1), "+r"(p2), "+r"(dst)
        : "r"(k0), "r"(k1), "r"(k2), "r"(k3), "r"(k4), "r"(k5), [bb] "m"(bb), [rend] "m"(row_end),
          [rb] "m"(row_bytes), [end] "m"(end)
        : "r9", "r10", "r11", "lr", "cc", "memory");
}
#else
/* The same arithmetic in C (the host check build and unoptimized builds). */
static void mac_rows(const int16_t *rows, const uint32_t *w, int32_t bias, int32_t *acc,
                     uint32_t pairs, uint32_t nrows)
{
    const uint32_t pw = plane_width(pairs, 1u);
    uint32_t y, i, r;

    for (y = 0; y < nrows; y++, rows += pw) {
        for (i = 0; i < pairs; i++, acc += 2) {
            int32_t a0 = bias, a1 = bias;
            for (r = 0; r < 3u; r++) {
                const int16_t *x = rows + r * pw + 2u * i;
                const uint32_t w0 = kiln_load32(x), w1 = kiln_load32(x + 2);
                a0 = kiln_smlabt(w1, w[2u * r + 1u], kiln_smlad(w0, w[2u * r], a0));
                a1 = kiln_smlad(w1, w[2u * r + 1u], kiln_smlatb(w0, w[2u * r], a1));
            }
            acc[0] = a0;
            acc[1] = a1;
        }
    }
}
#endif

/* mac_rows with four outputs per step, for a plane rb bytes wide (a
 * compile-time constant: the plane rows are immediate offsets from one
 * pointer, which frees the registers of two more accumulators). Outputs
 * x .. x+3 read, per kernel row, W0 = [x, x+1], W1 = [x+2, x+3] and
 * W2 = [x+4, x+5]:
 *     out x   = SMLAD(W0, P01) + SMLABT(W1, P12)
 *     out x+1 = SMLATB(W0, P01) + SMLAD(W1, P12)
 *     out x+2 = SMLAD(W1, P01) + SMLABT(W2, P12)
 *     out x+3 = SMLATB(W1, P01) + SMLAD(W2, P12)
 * 39 instructions per four outputs (36 MACs) against 44; a row's odd pair
 * takes mac_rows' two-output step. */
#if KILN_DSP_ASM
#define KILN_DW4_ROW_ASM(OFF0, OFF4, OFF8, PA, PB) \
        "ldr    r11, [r6, " OFF0 "]\n\t" \
        "smlad  r7, r11, " PA ", r7\n\t" \
        "smlatb r8, r11, " PA ", r8\n\t" \
        "ldr    r11, [r6, " OFF4 "]\n\t" \
        "smlabt r7, r11, " PB ", r7\n\t" \
        "smlad  r8, r11, " PB ", r8\n\t" \
        "smlad  r9, r11, " PA ", r9\n\t" \
        "smlatb r10, r11, " PA ", r10\n\t" \
        "ldr    r11, [r6, " OFF8 "]\n\t" \
        "smlabt r9, r11, " PB ", r9\n\t" \
        "smlad  r10, r11, " PB ", r10\n\t"

/* The two-output step of mac_rows on the same registers (r9, r10). */
#define KILN_DW2_ROW_ASM(OFF0, OFF4, PA, PB) \
        "ldr    r11, [r6, " OFF0 "]\n\t" \
        "smlad  r9, r11, " PA ", r9\n\t" \
        "smlatb r10, r11, " PA ", r10\n\t" \
        "ldr    r11, [r6, " OFF4 "]\n\t" \
        "smlabt r9, r11, " PB ", r9\n\t" \
        "smlad  r10, r11, " PB ", r10\n\t"

KILN_SPECIALIZE void mac_rows4(const int16_t *rows, const uint32_t *w, int32_t bias, int32_t *acc,
                               uint32_t pairs, uint32_t nrows, const uint32_t rb)
{
    KILN_DW3_WEIGHT_REGS(w);
    register const int16_t *pl __asm__("r6") = rows;
    register int32_t *dst __asm__("r12") = acc;
    const int32_t bb[2] = {bias, bias};
    const uint32_t row_bytes = 8u * pairs, half = pairs % 2u, skip = rb - 4u * pairs;
    const int32_t *qend = acc + 4u * (pairs / 2u), *end = acc + 2u * pairs * nrows;

    __asm__ volatile(
        "ldr    lr, %[qend]\n\t"
        "1:\n\t"
        "cmp    r12, lr\n\t"
        "beq    3f\n\t"
        "2:\n\t"
        "ldrd   r7, r8, %[bb]\n\t"
        "ldrd   r9, r10, %[bb]\n\t"
        KILN_DW4_ROW_ASM("%[o10]", "%[o14]", "%[o18]", "r2", "r3")
        KILN_DW4_ROW_ASM("%[o20]", "%[o24]", "%[o28]", "r4", "r5")
        KILN_DW4_ROW_ASM("#0", "#4", "#8", "r0", "r1")
        "add    r6, r6, #8\n\t"
        "stmia  r12!, {r7-r10}\n\t"
        "cmp    r12, lr\n\t"
        "bne    2b\n\t"
        "3:\n\t"
        "ldr    r11, %[half]\n\t"
        "cmp    r11, #0\n\t"
        "beq    4f\n\t"
        "ldrd   r9, r10, %[bb]\n\t"
        KILN_DW2_ROW_ASM("#0", "#4", "r0", "r1")
        KILN_DW2_ROW_ASM("%[o10]", "%[o14]", "r2", "r3")
        KILN_DW2_ROW_ASM("%[o20]", "%[o24]", "r4", "r5")
        "add    r6, r6, #4\n\t"
        "strd   r9, r10, [r12], #8\n\t"
        "4:\n\t"
        "ldr    r11, %[skip]\n\t"
        "add    r6, r6, r11\n\t"
        "ldr    r11, %[rb]\n\t"
        "add    lr, lr, r11\n\t"
        "ldr    r11, %[end]\n\t"
        "cmp    r12, r11\n\t"
        "bne    1b\n\t"
        : "+r"(pl), "+r"(dst)
        : "r"(k0), "r"(k1), "r"(k2), "r"(k3), "r"(k4), "r"(k5), [bb] "m"(bb), [qend] "m"(qend),
          [rb] "m"(row_bytes), [end] "m"(end), [half] "m"(half), [skip] "m"(skip),
          [o10] "i"(rb), [o14] "i"(rb + 4u), [o18] "i"(rb + 8u),
          [o20] "i"(2u * rb), [o24] "i"(2u * rb + 4u), [o28] "i"(2u * rb + 8u)
        : "r7", "r8", "r9", "r10", "r11", "lr", "cc", "memory");
}
#undef KILN_DW4_ROW_ASM
#undef KILN_DW2_ROW_ASM

/* mac_rows4() for the plane's width pw (int16), or mac_rows(). */
static void mac_rows_s1(const int16_t *rows, const uint32_t *w, int32_t bias, int32_t *acc,
                        uint32_t pairs, uint32_t nrows, uint32_t pw)
{
    switch (pw) {
    case 8u: mac_rows4(rows, w, bias, acc, pairs, nrows, 16u); break;
    case 16u: mac_rows4(rows, w, bias, acc, pairs, nrows, 32u); break;
    case 24u: mac_rows4(rows, w, bias, acc, pairs, nrows, 48u); break;
    case 32u: mac_rows4(rows, w, bias, acc, pairs, nrows, 64u); break;
    case 40u: mac_rows4(rows, w, bias, acc, pairs, nrows, 80u); break;
    case 48u: mac_rows4(rows, w, bias, acc, pairs, nrows, 96u); break;
    case 56u: mac_rows4(rows, w, bias, acc, pairs, nrows, 112u); break;
    case 64u: mac_rows4(rows, w, bias, acc, pairs, nrows, 128u); break;
    default: mac_rows(rows, w, bias, acc, pairs, nrows); break;
    }
}
#else
static void mac_rows_s1(const int16_t *rows, const uint32_t *w, int32_t bias, int32_t *acc,
                        uint32_t pairs, uint32_t nrows, uint32_t pw)
{
    (void)pw;
    mac_rows(rows, w, bias, acc, pairs, nrows);
}
#endif

/* mac_rows at stride 2: output x reads plane columns 2x .. 2x + 2, so two
 * outputs read, per kernel row, the words W0 = [4i, 4i+1], W1 = [4i+2, 4i+3]
 * and W2 = [4i+4, 4i+5] (the next step's W0), with the same weight pairs:
 *     out x   = SMLAD(W0, P01) + SMLABT(W1, P12)     (4i k0 + 4i+1 k1, 4i+2 k2)
 *     out x+1 = SMLAD(W1, P01) + SMLABT(W2, P12)
 * 25 instructions per two outputs (18 MACs), and output rows two plane rows
 * apart. The kernel copies four inputs per output into the plane, which the
 * NHWC kernel (3.5 to 4.4 instructions per MAC here) does not. */
#if KILN_DSP_ASM
static void mac_rows_s2(const int16_t *rows, const uint32_t *w, int32_t bias, int32_t *acc,
                        uint32_t pairs, uint32_t nrows)
{
    const uint32_t pw = plane_width(pairs, 2u);
    KILN_DW3_WEIGHT_REGS(w);
    register const int16_t *p0 __asm__("r6") = rows;
    register const int16_t *p1 __asm__("r7") = rows + pw;
    register const int16_t *p2 __asm__("r8") = rows + 2u * pw;
    register int32_t *dst __asm__("r12") = acc;
    const int32_t bb[2] = {bias, bias};
    const uint32_t row_bytes = 8u * pairs, skip = 4u * pw - 8u * pairs;
    const int32_t *row_end = acc + 2u * pairs, *end = acc + 2u * pairs * nrows;

    __asm__ volatile(
        "ldr    lr, %[rend]\n\t"
        "1:\n\t"
        "ldrd   r9, r10, %[bb]\n\t"
        "ldr    r11, [r6], #4\n\t"
        "smlad  r9, r11, r0, r9\n\t"
        "ldr    r11, [r6], #4\n\t"
        "smlabt r9, r11, r1, r9\n\t"
        "smlad  r10, r11, r0, r10\n\t"
        "ldr    r11, [r6]\n\t"
        "smlabt r10, r11, r1, r10\n\t"
        "ldr    r11, [r7], #4\n\t"
        "smlad  r9, r11, r2, r9\n\t"
        "ldr    r11, [r7], #4\n\t"
        "smlabt r9, r11, r3, r9\n\t"
        "smlad  r10, r11, r2, r10\n\t"
        "ldr    r11, [r7]\n\t"
        "smlabt r10, r11, r3, r10\n\t"
        "ldr    r11, [r8], #4\n\t"
        "smlad  r9, r11, r4, r9\n\t"
        "ldr    r11, [r8], #4\n\t"
        "smlabt r9, r11, r5, r9\n\t"
        "smlad  r10, r11, r4, r10\n\t"
        "ldr    r11, [r8]\n\t"
        "smlabt r10, r11, r5, r10\n\t"
        "strd   r9, r10, [r12], #8\n\t"
        "cmp    r12, lr\n\t"
        "bne    1b\n\t"
        "ldr    r11, %[skip]\n\t"
        "add    r6, r6, r11\n\t"
        "add    r7, r7, r11\n\t"
        "add    r8, r8, r11\n\t"
        "ldr    r11, %[rb]\n\t"
        "add    lr, lr, r11\n\t"
        "ldr    r11, %[end]\n\t"
        "cmp    r12, r11\n\t"
        "bne    1b\n\t"
        : "+r"(p0), "+r"(p1), "+r"(p2), "+r"(dst)
        : "r"(k0), "r"(k1), "r"(k2), "r"(k3), "r"(k4), "r"(k5), [bb] "m"(bb), [rend] "m"(row_end),
          [rb] "m"(row_bytes), [end] "m"(end), [skip] "m"(skip)
        : "r9", "r10", "r11", "lr", "cc", "memory");
}
#else
static void mac_rows_s2(const int16_t *rows, const uint32_t *w, int32_t bias, int32_t *acc,
                        uint32_t pairs, uint32_t nrows)
{
    const uint32_t pw = plane_width(pairs, 2u);
    uint32_t y, i, r;

    for (y = 0; y < nrows; y++, rows += 2u * pw) {
        for (i = 0; i < pairs; i++, acc += 2) {
            int32_t a0 = bias, a1 = bias;
            for (r = 0; r < 3u; r++) {
                const int16_t *x = rows + r * pw + 4u * i;
                const uint32_t w0 = kiln_load32(x), w1 = kiln_load32(x + 2), w2 = kiln_load32(x + 4);
                a0 = kiln_smlabt(w1, w[2u * r + 1u], kiln_smlad(w0, w[2u * r], a0));
                a1 = kiln_smlabt(w2, w[2u * r + 1u], kiln_smlad(w1, w[2u * r], a1));
            }
            acc[0] = a0;
            acc[1] = a1;
        }
    }
}
#endif

/* nrows rows of len outputs from their accumulators (rows of len rounded up
 * to even), the outputs `step` bytes apart and the rows `orow` apart: the
 * common case (no clamp, no exact record) on the target. Its C twin is
 * rq_rows() below with neither. */
#if KILN_DSP_ASM
/* One output: SMMLAR, ADD ASR #31, SSAT with the shift (kiln_dsp_requant's
 * ASR folded into it: SSAT shifts by an immediate, so the loop is compiled
 * once per shift), STRB. Under a ReLU (`floor`) without the ADD: the rounding
 * term only negative accumulators need (kiln_dsp_requant_floor). */
#define KILN_DW_RQ_ASM(A, ADDR) \
        "smmlar %[t], " A ", %[m], %[rd]\n\t" \
        "add    %[t], %[t], " A ", asr #31\n\t" \
        "ssat   %[t], #8, %[t], asr %[e]\n\t" \
        "strb   %[t], " ADDR "\n\t"
#define KILN_DW_RQ_FLOOR_ASM(A, ADDR) \
        "smmlar %[t], " A ", %[m], %[rd]\n\t" \
        "ssat   %[t], #8, %[t], asr %[e]\n\t" \
        "strb   %[t], " ADDR "\n\t"

/* Eight outputs per step (two LDM of accumulators, two store pointers): 38
 * instructions for eight; then the row's last len % 8 one at a time. lr
 * holds the row's first output. */
#define KILN_DW_RQ_ROWS_ASM(RQ) \
        "1:\n\t" \
        "mov    %[q], lr\n\t" \
        "add    %[q2], lr, %[st], lsl #2\n\t" \
        "ldr    %[n], %[octs]\n\t" \
        "cmp    %[n], #0\n\t" \
        "beq    3f\n\t" \
        "2:\n\t" \
        "ldmia  %[acc]!, {r0-r3}\n\t" \
        RQ("r0", "[%[q]]") \
        RQ("r1", "[%[q], %[st]]") \
        "add    %[q], %[q], %[st], lsl #1\n\t" \
        RQ("r2", "[%[q]]") \
        RQ("r3", "[%[q], %[st]]") \
        "ldmia  %[acc]!, {r0-r3}\n\t" \
        RQ("r0", "[%[q2]]") \
        RQ("r1", "[%[q2], %[st]]") \
        "add    %[q2], %[q2], %[st], lsl #1\n\t" \
        RQ("r2", "[%[q2]]") \
        RQ("r3", "[%[q2], %[st]]") \
        "add    %[q], %[q2], %[st], lsl #1\n\t" \
        "add    %[q2], %[q], %[st], lsl #2\n\t" \
        "subs   %[n], %[n], #1\n\t" \
        "bne    2b\n\t" \
        "3:\n\t" \
        "ldr    %[n], %[tail]\n\t" \
        "cmp    %[n], #0\n\t" \
        "beq    5f\n\t" \
        "4:\n\t" \
        "ldr    r0, [%[acc]], #4\n\t" \
        RQ("r0", "[%[q]]") \
        "add    %[q], %[q], %[st]\n\t" \
        "subs   %[n], %[n], #1\n\t" \
        "bne    4b\n\t" \
        "5:\n\t" \
        "ldr    %[n], %[skip]\n\t" \
        "add    %[acc], %[acc], %[n]\n\t" \
        "ldr    %[n], %[orow]\n\t" \
        "add    lr, lr, %[n]\n\t" \
        "ldr    %[n], %[rows]\n\t" \
        "subs   %[n], %[n], #1\n\t" \
        "str    %[n], %[rows]\n\t" \
        "bne    1b\n\t"
#define KILN_DW_RQ_ROWS_OPERANDS \
        : "=&r"(a0), "=&r"(a1), "=&r"(a2), "=&r"(a3), "+r"(ob), [t] "=&r"(t), [q] "=&r"(q), \
          [q2] "=&r"(q2), [n] "=&r"(n), [acc] "+r"(acc), [rows] "+m"(nrows) \
        : [m] "r"(r->mult), [rd] "r"(r->round), [e] "i"(e), [st] "r"(step), \
          [octs] "m"(octs), [tail] "m"(tail), [skip] "m"(skip), [orow] "m"(orow) \
        : "cc", "memory"
KILN_SPECIALIZE void rq_rows_shift(const int32_t *acc, int8_t *o, int32_t step, int32_t orow, uint32_t len,
                                   uint32_t nrows, const kiln_dsp_rq_t *r, const int e,
                                   const int floor)
{
    register int32_t a0 __asm__("r0");
    register int32_t a1 __asm__("r1");
    register int32_t a2 __asm__("r2");
    register int32_t a3 __asm__("r3");
    register int8_t *ob __asm__("lr") = o;
    const uint32_t octs = len / 8u, tail = len % 8u, skip = 4u * (len % 2u);
    int8_t *q, *q2;
    uint32_t n;
    int32_t t;

    if (floor) {
        __asm__ volatile(KILN_DW_RQ_ROWS_ASM(KILN_DW_RQ_FLOOR_ASM) KILN_DW_RQ_ROWS_OPERANDS);
    } else {
        __asm__ volatile(KILN_DW_RQ_ROWS_ASM(KILN_DW_RQ_ASM) KILN_DW_RQ_ROWS_OPERANDS);
    }
}
#undef KILN_DW_RQ_ROWS_ASM
#undef KILN_DW_RQ_ROWS_OPERANDS
#undef KILN_DW_RQ_ASM
#undef KILN_DW_RQ_FLOOR_ASM

/* rq_rows_shift() for the record's shift (1 to 30: kiln/dsp.h). */
static void rq_rows_fast(const int32_t *acc, int8_t *o, int32_t step, int32_t orow, uint32_t len,
                         uint32_t nrows, const kiln_dsp_rq_t *r, int floor)
{
#define KILN_DW_RQ_CASE(E, F) \
    case E: rq_rows_shift(acc, o, step, orow, len, nrows, r, E, F); break;
#define KILN_DW_RQ_SWITCH(F) \
    switch (r->shift) { \
    KILN_DW_RQ_CASE(1, F) KILN_DW_RQ_CASE(2, F) KILN_DW_RQ_CASE(3, F) KILN_DW_RQ_CASE(4, F) \
    KILN_DW_RQ_CASE(5, F) KILN_DW_RQ_CASE(6, F) KILN_DW_RQ_CASE(7, F) KILN_DW_RQ_CASE(8, F) \
    KILN_DW_RQ_CASE(9, F) KILN_DW_RQ_CASE(10, F) KILN_DW_RQ_CASE(11, F) KILN_DW_RQ_CASE(12, F) \
    KILN_DW_RQ_CASE(13, F) KILN_DW_RQ_CASE(14, F) KILN_DW_RQ_CASE(15, F) KILN_DW_RQ_CASE(16, F) \
    KILN_DW_RQ_CASE(17, F) KILN_DW_RQ_CASE(18, F) KILN_DW_RQ_CASE(19, F) KILN_DW_RQ_CASE(20, F) \
    KILN_DW_RQ_CASE(21, F) KILN_DW_RQ_CASE(22, F) KILN_DW_RQ_CASE(23, F) KILN_DW_RQ_CASE(24, F) \
    KILN_DW_RQ_CASE(25, F) KILN_DW_RQ_CASE(26, F) KILN_DW_RQ_CASE(27, F) KILN_DW_RQ_CASE(28, F) \
    KILN_DW_RQ_CASE(29, F) \
    default: rq_rows_shift(acc, o, step, orow, len, nrows, r, 30, F); break; \
    }
    if (floor) {
        KILN_DW_RQ_SWITCH(1)
    } else {
        KILN_DW_RQ_SWITCH(0)
    }
#undef KILN_DW_RQ_SWITCH
#undef KILN_DW_RQ_CASE
}
#endif

/* The same in C: a layer with a clamp or exact records, and every layer in
 * the host check build. */
KILN_SPECIALIZE void rq_rows(const kiln_dsp_dw3x3_params_t *p, const int32_t *acc, int8_t *o,
                             uint32_t nrows, const kiln_dsp_rq_t *r, int clamp, int exact)
{
    const int32_t step = p->out_step, lo = p->act_min, hi = p->act_max;
    uint32_t y, x;

    for (y = 0; y < nrows; y++, o += p->out_row, acc += p->len % 2u) {
        for (x = 0; x < p->len; x++) {
            int32_t q = kiln_dsp_rq_floor(*acc++, r, exact, p->floor);
            if (clamp) {
                q = kiln_dsp_clamp(q, lo, hi);
            }
            o[(int32_t)x * step] = (int8_t)q;
        }
    }
}

/* The size layout's channel, 9 int8 k[a][b] (plane orientation), into the
 * six doubled pairs mac_rows takes: about 25 instructions a channel, against
 * some 900 for a 6x6 map's channel. */
static void widen_channel(uint32_t *w6, const int8_t *k)
{
    uint32_t a;

    for (a = 0; a < 3u; a++, k += 3) {
        w6[2u * a] = kiln_pack16(2 * k[0], 2 * k[1]);
        w6[2u * a + 1u] = kiln_pack16(2 * k[1], 2 * k[2]);
    }
}

/* Every plane cell the channels do not overwrite: the zero point (cells
 * int16 of consecutive planes). */
static void fill_padding(const kiln_dsp_dw3x3_params_t *p, uint32_t cells)
{
    const uint32_t v = (uint16_t)(int16_t)p->pad_value * 0x10001u;
    uint32_t *d = (uint32_t *)(void *)p->plane;
    uint32_t i;

    for (i = 0; i < cells / 2u; i++) {
        d[i] = v;
    }
}

KILN_SPECIALIZE void body(const kiln_dsp_dw3x3_params_t *p, const int8_t *in, int8_t *out, int general)
{
    const uint32_t *w = (const uint32_t *)(const void *)p->w;
    const int8_t *w8 = p->w8;
    const uint32_t stride = p->stride, pairs = (p->len + 1u) / 2u, pw = plane_width(pairs, stride);
    const uint32_t planes = p->planes, pcells = plane_rows(p->rows, stride) * pw;
    const uint32_t interior = p->pad_r * pw + p->pad_c;
    /* Rows whose outputs follow one another (the plane not transposed) and
     * whose accumulators do too (len even): one requantization run. */
    const int flat = p->out_row == (int32_t)p->len * p->out_step && p->len % 2u == 0;
    uint32_t c, k, y;

    (void)flat;
    fill_padding(p, planes * pcells);
    for (c = 0; c < p->channels; c += planes) {
        if (p->in_rows && p->in_len) {
            if (planes == 4u) {
                copy_rows4(p->plane + interior, in + c, p->in_step, p->in_row, p->in_len, p->in_rows,
                           pw, pcells);
            } else {
                copy_rows(p->plane + interior, in + c, p->in_step, p->in_row, p->in_len, p->in_rows, pw);
            }
        }
        for (k = 0; k < planes; k++) {
            const kiln_dsp_rq_t rec = p->rq[c + k];
            const int16_t *plane = p->plane + k * pcells;
            uint32_t w6[6];
            const uint32_t *wk = w;

            if (w8) {
                widen_channel(w6, w8);
                wk = w6;
                w8 += 9;
            } else {
                w += 6;
            }

            for (y = 0; y < p->rows; y += p->batch) {
                const uint32_t nb = p->rows - y < p->batch ? p->rows - y : p->batch;
                int8_t *o = out + c + k + (int32_t)y * p->out_row;
                const int16_t *rows = plane + stride * y * pw;   /* under output row y */
                if (stride == 2u) {
                    mac_rows_s2(rows, wk, rec.bias, p->acc, pairs, nb);
                } else {
                    mac_rows_s1(rows, wk, rec.bias, p->acc, pairs, nb, pw);
                }
#if KILN_DSP_ASM
                if (!general) {
                    if (flat) {
                        rq_rows_fast(p->acc, o, p->out_step, 0, nb * p->len, 1u, &rec, p->floor);
                    } else {
                        rq_rows_fast(p->acc, o, p->out_step, p->out_row, p->len, nb, &rec, p->floor);
                    }
                    continue;
                }
#else
                (void)general;
#endif
                if (p->clamp) {
                    rq_rows(p, p->acc, o, nb, &rec, 1, p->exact);
                } else {
                    rq_rows(p, p->acc, o, nb, &rec, 0, p->exact);
                }
            }
        }
    }
}

/* A separate copy for layers with a clamp or exact records: the common one
 * runs the assembly requantization and tests for neither. */
static void body_general(const kiln_dsp_dw3x3_params_t *p, const int8_t *in, int8_t *out)
{
    body(p, in, out, 1);
}

void kiln_dsp_dw3x3_s8(const kiln_dsp_dw3x3_params_t *p, const int8_t *in, int8_t *out)
{
    if (p->exact || p->clamp) {
        body_general(p, in, out);
    } else {
        body(p, in, out, 0);
    }
}

/* The same kernel: its own name marks the int8 weights (w8) to the build. */
void kiln_dsp_dw3x3_w8_s8(const kiln_dsp_dw3x3_params_t *p, const int8_t *in, int8_t *out)
{
    kiln_dsp_dw3x3_s8(p, in, out);
}
