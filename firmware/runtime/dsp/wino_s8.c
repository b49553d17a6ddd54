/*
 * Kiln DSP kernel: CONV_2D 3x3, stride 1, dilation 1, by Winograd's minimal
 * filtering F(2x2, 3x3) in exact integer arithmetic (kiln/dsp.h).
 *
 * Why: a 2x2 output tile of one output channel costs, per input channel,
 * 16 products in the transformed domain against 36 directly. The 16
 * positions of a transformed tile are 16 independent dot products over the
 * input channels, which run on the same two-pixel, two-channel SMLAD step as
 * kiln_dsp_conv_s8 (here two tiles and two output channels).
 *
 * The arithmetic (all of it integer, so the result is the direct
 * convolution's accumulator bit for bit):
 *   V = B^T d B   d: a tile's 4x4 input patch of one channel (int8, the
 *                 padding cells the zero point), |V| <= 4 * 128: int16;
 *   U = (2G) g (2G)^T   g: the 3x3 filter, built at compile time (twice
 *                 the textbook G, whose halves would not be integers),
 *                 |U| <= 9 * 127: int16;
 *   Y = A^T (sum over input channels of U . V) A = 4 * (the 2x2 tile of the
 *                 direct correlation), each sum taken modulo 2^32: the true
 *                 value fits (the build checks |4 * acc| < 2^31), so the
 *                 wrapped one is it.
 *   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1], A^T = [1 1 1 0; 0 1 -1 -1],
 *   2G = [2 0 0; 1 1 1; 1 -1 1; 0 0 2].
 * The doubled accumulator the records expect is then Y / 2 (exact: Y is a
 * multiple of 4) plus the record's bias, requantized as in kiln_dsp_conv_s8.
 *
 * Input transform: four channels at a time from one word per cell, widened
 * into the SXTB16 pairs [c0, c2] and [c1, c3], each 4x4 block of pairs
 * transformed with SADD16/SSUB16 (both lanes at once). Tiles past an odd
 * output edge compute outputs that are not stored; their missing input cells
 * read the zero point like the padding.
 */
#include "dsp_rq.h"
#include "mac2x2_asm.h"

/* B^T down one column of t (rows t0 .. t3) into the column's four positions
 * of v, q[0], q[rs], q[2 rs], q[3 rs]: both int16 lanes at once. */
static inline void v_column(uint32_t t0, uint32_t t1, uint32_t t2, uint32_t t3, uint32_t *q, uint32_t rs)
{
    q[0] = kiln_ssub16(t0, t2);
    q[rs] = kiln_sadd16(t1, t2);
    q[2u * rs] = kiln_ssub16(t2, t1);
    q[3u * rs] = kiln_ssub16(t1, t3);
    /* The next column's loads stay after these stores: hoisted above them,
     * GCC keeps all 16 cells live and spills (57 stack accesses a group). */
    __asm__ volatile("" ::: "memory");
}

/* One SXTB16 lane (`odd`) of a group of four channels: V = B^T d B, the
 * patch's cells d[r][j] at c[j] + off + r * row (rows `row` bytes apart). t =
 * d B along each row is made a column at a time and goes straight down its
 * column through B^T. No intermediate is stored: each column loads its
 * eight cells again (a load costs what a store and its reload would), so
 * that few values are live. v: position (i, j) at (4 i + j) * xs. */
KILN_SPECIALIZE void group_lane(const int8_t *const *c, uint32_t off, uint32_t row, uint32_t xs, uint32_t *v,
                                const int odd)
{
#define KILN_WINO_D(R, J) (odd ? kiln_sxtb16_ror8(kiln_load32(c[J] + off + (R) * row)) \
                               : kiln_sxtb16(kiln_load32(c[J] + off + (R) * row)))
/* Column J of t from cells d[r][A] and d[r][B]: OP(d[r][A], d[r][B]). */
#define KILN_WINO_T(OP, A, B, J) \
    v_column(OP(KILN_WINO_D(0u, A), KILN_WINO_D(0u, B)), OP(KILN_WINO_D(1u, A), KILN_WINO_D(1u, B)), \
             OP(KILN_WINO_D(2u, A), KILN_WINO_D(2u, B)), OP(KILN_WINO_D(3u, A), KILN_WINO_D(3u, B)), \
             v + (J) * xs, 4u * xs)
    v += odd;
    KILN_WINO_T(kiln_ssub16, 0u, 2u, 0u);        /* d0 - d2 */
    KILN_WINO_T(kiln_sadd16, 1u, 2u, 1u);        /* d1 + d2 */
    KILN_WINO_T(kiln_ssub16, 2u, 1u, 2u);        /* d2 - d1 */
    KILN_WINO_T(kiln_ssub16, 1u, 3u, 3u);        /* d1 - d3 */
#undef KILN_WINO_T
#undef KILN_WINO_D
}

/* One group of four channels, both lanes, into v (see group_lane). */
static inline void group_in(const int8_t *const *c, uint32_t off, uint32_t row, uint32_t xs, uint32_t *v)
{
    group_lane(c, off, row, xs, v, 0);
    group_lane(c, off, row, xs, v, 1);
}

/* Tile (ty, tx)'s input patch, transformed, into slot `slot` (0 or 1) of v:
 * [16 positions][in_c/4 groups][2 slots][2 pairs]. A patch inside the input
 * is read where it is; one touching the padding (or past an odd output
 * edge) is gathered group by group into a local 4x4 patch of words, the
 * missing cells read from the zero row. */
static void tile_in(const kiln_dsp_wino_params_t *p, const int8_t *in, uint32_t ty, uint32_t tx,
                    uint32_t *v, uint32_t slot)
{
    const int32_t y0 = 2 * (int32_t)ty - p->g.pad_top, x0 = 2 * (int32_t)tx - p->g.pad_left;
    const uint32_t in_c = p->g.in_c, groups = in_c / 4u, xs = 4u * groups;
    const uint32_t row = (uint32_t)p->g.in_w * in_c;
    uint32_t g;

    v += 2u * slot;
    if (y0 >= 0 && x0 >= 0 && (uint32_t)y0 + 4u <= p->g.in_h && (uint32_t)x0 + 4u <= p->g.in_w) {
        const int8_t *b = in + (uint32_t)y0 * row + (uint32_t)x0 * in_c;
        const int8_t *const col[4] = {b, b + in_c, b + 2u * in_c, b + 3u * in_c};
        for (g = 0; g < groups; g++, v += 4) {
            group_in(col, 4u * g, row, xs, v);
        }
        return;
    }
    {
        const int8_t *cell[16];                    /* [4 rows][4 columns] */
        uint32_t patch[16];
        const int8_t *const col[4] = {(const int8_t *)(void *)&patch[0], (const int8_t *)(void *)&patch[1],
                                      (const int8_t *)(void *)&patch[2], (const int8_t *)(void *)&patch[3]};
        uint32_t r, c, k;
        for (r = 0; r < 4u; r++) {
            const int32_t y = y0 + (int32_t)r;
            for (c = 0; c < 4u; c++) {
                const int32_t x = x0 + (int32_t)c;
                const int inside = y >= 0 && y < (int32_t)p->g.in_h && x >= 0 && x < (int32_t)p->g.in_w;
                cell[4u * r + c] = inside ? in + (uint32_t)y * row + (uint32_t)x * in_c : p->zrow;
            }
        }
        for (g = 0; g < groups; g++, v += 4) {
            for (k = 0; k < 16u; k++) {
                patch[k] = kiln_load32(cell[k] + 4u * g);
            }
            group_in(col, 0u, 16u, xs, v);   /* the patch's rows are 16 bytes apart */
        }
    }
}

/* One channel pair's 16 dot products over the input channels for both
 * slots: m[16][4] = (slot 0 channel c, slot 0 c + 1, slot 1 c, slot 1 c + 1).
 * Returns the weights after the pair. */
#if KILN_DSP_ASM
/* On the target: the positions' loop in assembly around kiln_dsp_conv_s8's
 * run of sixteen groups (mac2x2_asm.h, entered part-way when the count is
 * not a multiple of sixteen). Per position: four MOVS, the groups at 10
 * instructions each, and 8 to 13 for the entry, the end tests and the
 * store; the pointers that move per position live on the stack ("m"
 * operands), every register being taken. With an end test, kend moves on
 * by a position's groups (gbytes) each time. */
#define KILN_WINO_GEMM_ASM(ENTRY, TEST) \
        KILN_MAC_ENTRY_SETUP_ASM \
        "ldr    r12, %[v]\n\t" \
        "1:\n\t" \
        "movs   r0, #0\n\t" \
        "movs   r1, #0\n\t" \
        "movs   r2, #0\n\t" \
        "movs   r3, #0\n\t" \
        ENTRY \
        "\n" \
        KILN_MAC_RUN16_ASM \
        TEST \
        "ldr    r5, %[m]\n\t" \
        "stmia  r5!, {r0-r3}\n\t" \
        "str    r5, %[m]\n\t" \
        "ldr    r6, %[mend]\n\t" \
        "cmp    r5, r6\n\t" \
        "bne    1b\n\t"
#define KILN_WINO_TEST_ASM \
        KILN_MAC_TEST_ASM \
        "ldr    r5, %[gbytes]\n\t" \
        "add    r4, r4, r5\n\t" \
        "str    r4, %[kend]\n\t"

static const uint32_t *gemm_pair(const uint32_t *v, const uint32_t *w, uint32_t groups, int32_t *m)
{
    register const uint32_t *wp __asm__("lr") = w;
    const uint32_t gbytes = 16u * groups, back = kiln_mac_back(groups);
    const uint32_t *kend = v + 4u * groups;
    const int32_t *mend = m + 64;
    uint32_t entry;

#define KILN_WINO_CALL(ENTRY, TEST) \
        __asm__ volatile(KILN_WINO_GEMM_ASM(ENTRY, TEST) \
        : "+r"(wp), [kend] "+m"(kend), [m] "+m"(m), [entry] "=m"(entry) \
        : [v] "m"(v), [gbytes] "m"(gbytes), [mend] "m"(mend), [back] "m"(back) \
        : KILN_MAC_CLOBBERS)
    KILN_MAC_RUN_VARIANTS(KILN_WINO_CALL, groups, KILN_WINO_TEST_ASM);
#undef KILN_WINO_CALL
    return wp;
}
#undef KILN_WINO_GEMM_ASM
#undef KILN_WINO_TEST_ASM
#else
static const uint32_t *gemm_pair(const uint32_t *v, const uint32_t *w, uint32_t groups, int32_t *m)
{
    uint32_t xi, g;

    for (xi = 0; xi < 16u; xi++, m += 4) {
        int32_t a0 = 0, a1 = 0, b0 = 0, b1 = 0;
        for (g = 0; g < groups; g++, v += 4, w += 4) {
            a0 = kiln_smlad(v[1], w[1], kiln_smlad(v[0], w[0], a0));
            a1 = kiln_smlad(v[1], w[3], kiln_smlad(v[0], w[2], a1));
            b0 = kiln_smlad(v[3], w[1], kiln_smlad(v[2], w[0], b0));
            b1 = kiln_smlad(v[3], w[3], kiln_smlad(v[2], w[2], b1));
        }
        m[0] = a0;
        m[1] = a1;
        m[2] = b0;
        m[3] = b1;
    }
    return w;
}
#endif

/* Column k of m (see gemm_pair) through A^T . A: y = the 2x2 tile, row-major,
 * times 4, modulo 2^32. */
static inline void output_transform(const int32_t *m, uint32_t k, uint32_t *y)
{
    uint32_t s0[4], s1[4], j;

    for (j = 0; j < 4u; j++) {
        const uint32_t m0 = (uint32_t)m[4u * j + k], m1 = (uint32_t)m[4u * (4u + j) + k];
        const uint32_t m2 = (uint32_t)m[4u * (8u + j) + k], m3 = (uint32_t)m[4u * (12u + j) + k];
        s0[j] = m0 + m1 + m2;
        s1[j] = m1 - m2 - m3;
    }
    y[0] = s0[0] + s0[1] + s0[2];
    y[1] = s0[1] - s0[2] - s0[3];
    y[2] = s1[0] + s1[1] + s1[2];
    y[3] = s1[1] - s1[2] - s1[3];
}

/* Tile (ty, tx)'s outputs of channel c from column k of m: the ones inside
 * the output. */
KILN_SPECIALIZE void store_tile(const kiln_dsp_wino_params_t *p, const int32_t *m, uint32_t k,
                                uint32_t ty, uint32_t tx, uint32_t c, int8_t *out, int clamp, int exact)
{
    const kiln_dsp_rq_t *r = &p->rq[c];
    uint32_t y[4], i;

    output_transform(m, k, y);
    for (i = 0; i < 4u; i++) {
        const uint32_t yy = 2u * ty + i / 2u, xx = 2u * tx + i % 2u;
        if (yy < p->g.out_h && xx < p->g.out_w) {
            int32_t q = kiln_dsp_rq(((int32_t)y[i] >> 1) + r->bias, r, exact);
            if (clamp) {
                q = kiln_dsp_clamp(q, p->act_min, p->act_max);
            }
            out[(yy * p->g.out_w + xx) * p->g.out_c + c] = (int8_t)q;
        }
    }
}

/* The common case's four outputs of a whole tile (no clamp, no exact
 * record): o is the tile's top-left output of the channel, rows `row` bytes
 * apart, columns `oc`. */
static inline void store4(const int32_t *m, uint32_t k, int8_t *o, uint32_t row, uint32_t oc,
                          const kiln_dsp_rq_t *r)
{
    const int32_t b = r->bias, mu = r->mult, rd = r->round, e = r->shift;
    uint32_t y[4];

    output_transform(m, k, y);
    o[0] = (int8_t)kiln_dsp_requant(((int32_t)y[0] >> 1) + b, mu, rd, e);
    o[oc] = (int8_t)kiln_dsp_requant(((int32_t)y[1] >> 1) + b, mu, rd, e);
    o[row] = (int8_t)kiln_dsp_requant(((int32_t)y[2] >> 1) + b, mu, rd, e);
    o[row + oc] = (int8_t)kiln_dsp_requant(((int32_t)y[3] >> 1) + b, mu, rd, e);
}

/* Every tile, two at a time, for output channels c_lo .. c_hi - 1 (c_lo
 * even) whose transformed weights start at w, with the activation clamp and
 * the exact records known at compile time. */
KILN_SPECIALIZE void body(const kiln_dsp_wino_params_t *p, const int8_t *in, int8_t *out,
                          const int16_t *wc, uint32_t c_lo, uint32_t c_hi, int clamp, int exact)
{
    const uint32_t tiles_w = (p->g.out_w + 1u) / 2u, tiles = ((p->g.out_h + 1u) / 2u) * tiles_w;
    const uint32_t groups = p->g.in_c / 4u, oc = p->g.out_c, row = (uint32_t)p->g.out_w * oc;
    uint32_t *v = (uint32_t *)(void *)p->v;
    uint32_t t, c;

    for (t = 0; t < tiles; t += 2u) {
        const uint32_t tb = t + 1u < tiles ? t + 1u : t;   /* an odd last tile twice, stored once */
        const uint32_t ay = t / tiles_w, ax = t - ay * tiles_w, by = tb / tiles_w, bx = tb - by * tiles_w;
        int8_t *const oa = out + (2u * ay * p->g.out_w + 2u * ax) * oc;
        int8_t *const ob = out + (2u * by * p->g.out_w + 2u * bx) * oc;
        /* the common case stores two whole tiles without bounds checks */
        const int fast = !clamp && !exact && tb != t && oc % 2u == 0 && 2u * ay + 1u < p->g.out_h &&
                         2u * by + 1u < p->g.out_h && 2u * ax + 1u < p->g.out_w && 2u * bx + 1u < p->g.out_w;
        const uint32_t *w = (const uint32_t *)(const void *)wc;

        if (p->vall) {
            v = (uint32_t *)(void *)p->v + 16u * p->g.in_c * (t / 2u);   /* made by all_tiles_in() */
        } else {
            tile_in(p, in, ay, ax, v, 0u);
            tile_in(p, in, by, bx, v, 1u);
        }
        for (c = c_lo; c < c_hi; c += 2u) {
            w = gemm_pair(v, w, groups, p->m);
            if (fast) {
                const kiln_dsp_rq_t *r = &p->rq[c];
                store4(p->m, 0u, oa + c, row, oc, r);
                store4(p->m, 1u, oa + c + 1, row, oc, r + 1);
                store4(p->m, 2u, ob + c, row, oc, r);
                store4(p->m, 3u, ob + c + 1, row, oc, r + 1);
                continue;
            }
            store_tile(p, p->m, 0u, ay, ax, c, out, clamp, exact);
            if (c + 1u < oc) {
                store_tile(p, p->m, 1u, ay, ax, c + 1u, out, clamp, exact);
            }
            if (tb != t) {
                store_tile(p, p->m, 2u, by, bx, c, out, clamp, exact);
                if (c + 1u < oc) {
                    store_tile(p, p->m, 3u, by, bx, c + 1u, out, clamp, exact);
                }
            }
        }
    }
}

static void body_exact(const kiln_dsp_wino_params_t *p, const int8_t *in, int8_t *out,
                       const int16_t *w, uint32_t c_lo, uint32_t c_hi)
{
    body(p, in, out, w, c_lo, c_hi, p->clamp, 1);
}

/* Output channels c_lo .. c_hi - 1 from their transformed weights w. */
static void channels(const kiln_dsp_wino_params_t *p, const int8_t *in, int8_t *out, const int16_t *w,
                     uint32_t c_lo, uint32_t c_hi)
{
    if (p->exact) {
        body_exact(p, in, out, w, c_lo, c_hi);
    } else if (p->clamp) {
        body(p, in, out, w, c_lo, c_hi, 1, 0);
    } else {
        body(p, in, out, w, c_lo, c_hi, 0, 0);
    }
}

void kiln_dsp_wino_s8(const kiln_dsp_wino_params_t *p, const int8_t *in, int8_t *out)
{
    memset(p->zrow, p->pad_value, p->g.in_c);
    channels(p, in, out, p->w, 0u, p->g.out_c);
}

/* (2G) x . (2G)^T's four outputs for inputs x0, x1, x2 along one axis:
 * [2 x0, x0 + x1 + x2, x0 - x1 + x2, 2 x2], on both int16 lanes. */
#define KILN_WINO_G2(X0, X1, X2, Y0, Y1, Y2, Y3) do { \
        const uint32_t x0_ = (X0), x1_ = (X1), x2_ = (X2), s_ = kiln_sadd16(x0_, x2_); \
        (Y0) = kiln_sadd16(x0_, x0_); \
        (Y1) = kiln_sadd16(s_, x1_); \
        (Y2) = kiln_ssub16(s_, x1_); \
        (Y3) = kiln_sadd16(x2_, x2_); \
    } while (0)

/* U = (2G) g (2G)^T of one int16 lane of four input channels (the SXTB16
 * lane `odd` of each tap's word; taps `st` bytes apart in wo, row-major) into
 * the 16 positions of u (words `ps` apart), both lanes of the word at once,
 * a column of U at a time from that column of g (2G)^T. |U| <= 9 * 128 and
 * every partial sum is smaller: no lane overflows. */
KILN_SPECIALIZE void transform_lane(const int8_t *wo, uint32_t st, uint32_t *u, uint32_t ps, const int odd)
{
#define KILN_WINO_TAP(T) (odd ? kiln_sxtb16_ror8(kiln_load32(wo + (T) * st)) \
                              : kiln_sxtb16(kiln_load32(wo + (T) * st)))
/* Column C of U from column C of g (2G)^T (R0, R1, R2 down the kernel rows). */
#define KILN_WINO_COLUMN(R0, R1, R2, C) \
    KILN_WINO_G2(R0, R1, R2, u[(C) * ps], u[(4u + (C)) * ps], u[(8u + (C)) * ps], u[(12u + (C)) * ps])
    uint32_t a0, a1, a2, b0, b1, b2;

    /* g (2G)^T's columns: 2 k0, k0 + k1 + k2, k0 - k1 + k2, 2 k2 of each kernel
     * row. Each column's taps are loaded after the stores before it (u may
     * alias the weights for all the compiler knows), so few values are live. */
    a0 = KILN_WINO_TAP(0u);
    a1 = KILN_WINO_TAP(3u);
    a2 = KILN_WINO_TAP(6u);
    KILN_WINO_COLUMN(kiln_sadd16(a0, a0), kiln_sadd16(a1, a1), kiln_sadd16(a2, a2), 0u);
    b0 = KILN_WINO_TAP(2u);
    b1 = KILN_WINO_TAP(5u);
    b2 = KILN_WINO_TAP(8u);
    KILN_WINO_COLUMN(kiln_sadd16(b0, b0), kiln_sadd16(b1, b1), kiln_sadd16(b2, b2), 3u);
    a0 = kiln_sadd16(a0, b0);                  /* columns 1 and 2 share k0 + k2 */
    a1 = kiln_sadd16(a1, b1);
    a2 = kiln_sadd16(a2, b2);
    b0 = KILN_WINO_TAP(1u);
    b1 = KILN_WINO_TAP(4u);
    b2 = KILN_WINO_TAP(7u);
    KILN_WINO_COLUMN(kiln_sadd16(a0, b0), kiln_sadd16(a1, b1), kiln_sadd16(a2, b2), 1u);
    KILN_WINO_COLUMN(kiln_ssub16(a0, b0), kiln_ssub16(a1, b1), kiln_ssub16(a2, b2), 2u);
#undef KILN_WINO_COLUMN
#undef KILN_WINO_TAP
}
#undef KILN_WINO_G2

/* Channel pairs j0 .. j0 + n - 1's U, from the int8 kernel, into p->u in
 * kiln_dsp_wino_s8's weight layout: per output channel and group of four
 * input channels, nine word loads (one a tap), each widened by SXTB16 into
 * the lanes [i0, i2] and [i1, i3] that the layout holds. */
static void transform_pairs(const kiln_dsp_wino_params_t *p, uint32_t j0, uint32_t n)
{
    const uint32_t in_c = p->g.in_c, groups = in_c / 4u, ps = 4u * groups;
    uint32_t *u = (uint32_t *)(void *)p->u;
    uint32_t j, h, g;

    for (j = 0; j < n; j++, u += 16u * ps) {
        for (h = 0; h < 2u; h++) {
            const int8_t *wo = p->w8 + (2u * (j0 + j) + h) * 9u * in_c;
            for (g = 0; g < groups; g++) {
                transform_lane(wo + 4u * g, in_c, u + 4u * g + 2u * h, ps, 0);
                transform_lane(wo + 4u * g, in_c, u + 4u * g + 2u * h + 1u, ps, 1);
            }
        }
    }
}

/* Every tile pair's transformed inputs into p->v, one after another (what
 * body() reads when p->vall is set). */
static void all_tiles_in(const kiln_dsp_wino_params_t *p, const int8_t *in)
{
    const uint32_t tiles_w = (p->g.out_w + 1u) / 2u, tiles = ((p->g.out_h + 1u) / 2u) * tiles_w;
    uint32_t t;

    for (t = 0; t < tiles; t += 2u) {
        const uint32_t tb = t + 1u < tiles ? t + 1u : t;
        uint32_t *v = (uint32_t *)(void *)p->v + 16u * p->g.in_c * (t / 2u);
        tile_in(p, in, t / tiles_w, t % tiles_w, v, 0u);
        tile_in(p, in, tb / tiles_w, tb % tiles_w, v, 1u);
    }
}

/* The size layout: int8 weights in flash, U made at run time a block of
 * channel pairs at a time (p->block pairs into p->u), every tile per block.
 * Each weight's U is made once per inference; the inputs' transforms are
 * made once too when p->vall keeps them all, else again per block. */
void kiln_dsp_wino_w8_s8(const kiln_dsp_wino_params_t *p, const int8_t *in, int8_t *out)
{
    const uint32_t pairs = (p->g.out_c + 1u) / 2u;
    uint32_t j;

    memset(p->zrow, p->pad_value, p->g.in_c);
    if (p->vall) {
        all_tiles_in(p, in);
    }
    for (j = 0; j < pairs; j += p->block) {
        const uint32_t n = pairs - j < p->block ? pairs - j : p->block;
        const uint32_t c_hi = 2u * (j + n) < p->g.out_c ? 2u * (j + n) : p->g.out_c;
        transform_pairs(p, j, n);
        channels(p, in, out, p->u, 2u * j, c_hi);
    }
}
