/*
 * Kiln DSP kernels: a small shim over the DSP-extension instructions.
 *
 * On an Arm target with the DSP extension (__ARM_FEATURE_DSP) each function
 * is one instruction, through ACLE <arm_acle.h> or a one-line inline asm for
 * the forms ACLE does not expose (SXTB16 with a rotation, SMMLAR, PKHBT,
 * PKHTB). Everywhere else (the host check build) each function is the exact
 * plain-C equivalent of the instruction's definition in the ARMv8-M
 * Architecture Reference Manual, so the same kernel C compiles and gives the
 * same bits on the host.
 *
 * Halfword pairs: "[lo, hi]" below means a 32-bit word holding two int16
 * lanes, lo in bits 15..0 and hi in bits 31..16.
 */
#ifndef KILN_DSP_H
#define KILN_DSP_H

#include <stdint.h>
#include <string.h>

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
#define KILN_DSP_NATIVE 1
#include <arm_acle.h>
#else
#define KILN_DSP_NATIVE 0
#endif

/* The two inline-assembly loops (conv1_pool_s8.c, conv_s8.c) need fourteen
 * registers, r7 included, which an unoptimized build keeps as its frame
 * pointer: they are compiled only in optimized builds (the firmware's -O2);
 * otherwise their C equivalents run. */
#if KILN_DSP_NATIVE && defined(__OPTIMIZE__)
#define KILN_DSP_ASM 1
#else
#define KILN_DSP_ASM 0
#endif

/* For a kernel body specialized by compile-time flags (exact records):
 * each caller gets its own copy, so a layer pays only for the checks it
 * needs. */
#if defined(__GNUC__)
#define KILN_SPECIALIZE static inline __attribute__((always_inline))
#else
#define KILN_SPECIALIZE static inline
#endif

/* The last 1 to 3 bytes at x as one word (the other lanes 0), read byte by
 * byte so that nothing past them is touched: a partial group's load. */
static inline uint32_t kiln_load_tail32(const int8_t *x, uint32_t n)
{
    uint32_t v = (uint8_t)x[0];

    if (n > 1u) {
        v |= (uint32_t)(uint8_t)x[1] << 8;
    }
    if (n > 2u) {
        v |= (uint32_t)(uint8_t)x[2] << 16;
    }
    return v;
}

/* Host helpers: the int16 lanes of a word. */
static inline int32_t kiln_lo16(uint32_t x) { return (int16_t)(x & 0xFFFFu); }
static inline int32_t kiln_hi16(uint32_t x) { return (int16_t)(x >> 16); }
static inline uint32_t kiln_pack16(int32_t lo, int32_t hi)
{
    return ((uint32_t)lo & 0xFFFFu) | ((uint32_t)hi << 16);
}

/* SXTB16: bytes 0 and 2 of x sign-extended to [b0, b2]. */
static inline uint32_t kiln_sxtb16(uint32_t x)
{
#if KILN_DSP_NATIVE
    return (uint32_t)__sxtb16((int32_t)x);
#else
    return kiln_pack16((int8_t)(x & 0xFFu), (int8_t)((x >> 16) & 0xFFu));
#endif
}

/* SXTB16 x, ROR #8: bytes 1 and 3 of x sign-extended to [b1, b3]. */
static inline uint32_t kiln_sxtb16_ror8(uint32_t x)
{
#if KILN_DSP_NATIVE
    uint32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(x));
    return r;
#else
    return kiln_pack16((int8_t)((x >> 8) & 0xFFu), (int8_t)(x >> 24));
#endif
}

/* REV16: the bytes of each halfword swapped, [b1 b0 b3 b2]. */
static inline uint32_t kiln_rev16(uint32_t x)
{
#if KILN_DSP_NATIVE
    uint32_t r;
    __asm__("rev16 %0, %1" : "=r"(r) : "r"(x));   /* GCC 12's arm_acle.h lacks __rev16 */
    return r;
#else
    return ((x & 0x00FF00FFu) << 8) | ((x >> 8) & 0x00FF00FFu);
#endif
}

/* SXTAB16: [acc.lo + b0, acc.hi + b2], each lane wrapping modulo 2^16. */
static inline uint32_t kiln_sxtab16(uint32_t acc, uint32_t x)
{
#if KILN_DSP_NATIVE
    return (uint32_t)__sxtab16((int32_t)acc, (int32_t)x);
#else
    return kiln_pack16(kiln_lo16(acc) + (int8_t)(x & 0xFFu),
                       kiln_hi16(acc) + (int8_t)((x >> 16) & 0xFFu));
#endif
}

/* SXTAB16 acc, x, ROR #8: [acc.lo + b1, acc.hi + b3]. */
static inline uint32_t kiln_sxtab16_ror8(uint32_t acc, uint32_t x)
{
#if KILN_DSP_NATIVE
    uint32_t r;
    __asm__("sxtab16 %0, %1, %2, ror #8" : "=r"(r) : "r"(acc), "r"(x));
    return r;
#else
    return kiln_pack16(kiln_lo16(acc) + (int8_t)((x >> 8) & 0xFFu),
                       kiln_hi16(acc) + (int8_t)(x >> 24));
#endif
}

/* SMLAD: acc + x.lo * y.lo + x.hi * y.hi, wrapping modulo 2^32. */
static inline int32_t kiln_smlad(uint32_t x, uint32_t y, int32_t acc)
{
#if KILN_DSP_NATIVE
    return __smlad((int16x2_t)x, (int16x2_t)y, acc);
#else
    return (int32_t)((uint32_t)acc + (uint32_t)(kiln_lo16(x) * kiln_lo16(y))
                     + (uint32_t)(kiln_hi16(x) * kiln_hi16(y)));
#endif
}

/* SMUAD: x.lo * y.lo + x.hi * y.hi (wraps only for -32768^2 twice). */
static inline int32_t kiln_smuad(uint32_t x, uint32_t y)
{
#if KILN_DSP_NATIVE
    return __smuad((int16x2_t)x, (int16x2_t)y);
#else
    return (int32_t)((uint32_t)(kiln_lo16(x) * kiln_lo16(y))
                     + (uint32_t)(kiln_hi16(x) * kiln_hi16(y)));
#endif
}

/* SMLABB / SMLATT: acc + one lane product (the same lane of both). */
static inline int32_t kiln_smlabb(uint32_t x, uint32_t y, int32_t acc)
{
#if KILN_DSP_NATIVE
    return __smlabb((int32_t)x, (int32_t)y, acc);
#else
    return (int32_t)((uint32_t)acc + (uint32_t)(kiln_lo16(x) * kiln_lo16(y)));
#endif
}

static inline int32_t kiln_smlatt(uint32_t x, uint32_t y, int32_t acc)
{
#if KILN_DSP_NATIVE
    return __smlatt((int32_t)x, (int32_t)y, acc);
#else
    return (int32_t)((uint32_t)acc + (uint32_t)(kiln_hi16(x) * kiln_hi16(y)));
#endif
}

/* SMLABT / SMLATB: acc + x.lo * y.hi, acc + x.hi * y.lo. */
static inline int32_t kiln_smlabt(uint32_t x, uint32_t y, int32_t acc)
{
#if KILN_DSP_NATIVE
    return __smlabt((int32_t)x, (int32_t)y, acc);
#else
    return (int32_t)((uint32_t)acc + (uint32_t)(kiln_lo16(x) * kiln_hi16(y)));
#endif
}

static inline int32_t kiln_smlatb(uint32_t x, uint32_t y, int32_t acc)
{
#if KILN_DSP_NATIVE
    return __smlatb((int32_t)x, (int32_t)y, acc);
#else
    return (int32_t)((uint32_t)acc + (uint32_t)(kiln_hi16(x) * kiln_lo16(y)));
#endif
}

/* SADD16 / SSUB16: [x.lo +- y.lo, x.hi +- y.hi], each lane wrapping modulo
 * 2^16 (the GE flags they set are not used). */
static inline uint32_t kiln_sadd16(uint32_t x, uint32_t y)
{
#if KILN_DSP_NATIVE
    return (uint32_t)__sadd16((int16x2_t)x, (int16x2_t)y);
#else
    return kiln_pack16(kiln_lo16(x) + kiln_lo16(y), kiln_hi16(x) + kiln_hi16(y));
#endif
}

static inline uint32_t kiln_ssub16(uint32_t x, uint32_t y)
{
#if KILN_DSP_NATIVE
    return (uint32_t)__ssub16((int16x2_t)x, (int16x2_t)y);
#else
    return kiln_pack16(kiln_lo16(x) - kiln_lo16(y), kiln_hi16(x) - kiln_hi16(y));
#endif
}

/* PKHBT x, y, LSL #16: [x.lo, y.lo]. */
static inline uint32_t kiln_pkhbt16(uint32_t x, uint32_t y)
{
#if KILN_DSP_NATIVE
    uint32_t r;
    __asm__("pkhbt %0, %1, %2, lsl #16" : "=r"(r) : "r"(x), "r"(y));
    return r;
#else
    return (x & 0xFFFFu) | (y << 16);
#endif
}

/* PKHTB y, x, ASR #16: [x.hi, y.hi]. */
static inline uint32_t kiln_pkhtb16(uint32_t x, uint32_t y)
{
#if KILN_DSP_NATIVE
    uint32_t r;
    __asm__("pkhtb %0, %1, %2, asr #16" : "=r"(r) : "r"(y), "r"(x));
    return r;
#else
    return (y & 0xFFFF0000u) | (x >> 16);
#endif
}

/* SMMLAR: c + floor((a * b + 2^31) / 2^32), wrapping modulo 2^32. */
static inline int32_t kiln_smmlar(int32_t a, int32_t b, int32_t c)
{
#if KILN_DSP_NATIVE
    int32_t r;
    __asm__("smmlar %0, %1, %2, %3" : "=r"(r) : "r"(a), "r"(b), "r"(c));
    return r;
#else
    const int64_t hi = ((int64_t)a * b + ((int64_t)1 << 31)) >> 32;
    return (int32_t)((uint32_t)c + (uint32_t)hi);
#endif
}

/* SSAT #8: x clamped to [-128, 127]. */
static inline int32_t kiln_ssat8(int32_t x)
{
#if KILN_DSP_NATIVE
    return __ssat(x, 8);
#else
    return x < -128 ? -128 : (x > 127 ? 127 : x);
#endif
}

/* Per-byte signed maximum of four int8 lanes (SSUB8 sets GE, SEL picks). */
static inline uint32_t kiln_max_s8x4(uint32_t a, uint32_t b)
{
#if KILN_DSP_NATIVE
    uint32_t r;
    /* One asm block: the GE flags SSUB8 sets must reach SEL untouched. */
    __asm__("ssub8 %0, %1, %2\n\tsel %0, %1, %2" : "=&r"(r) : "r"(a), "r"(b) : "cc");
    return r;
#else
    uint32_t r = 0;
    int i;
    for (i = 0; i < 32; i += 8) {
        const int8_t x = (int8_t)((a >> i) & 0xFFu);
        const int8_t y = (int8_t)((b >> i) & 0xFFu);
        r |= (uint32_t)(uint8_t)(x >= y ? x : y) << i;
    }
    return r;
#endif
}

/* Per-byte signed minimum of four int8 lanes. */
static inline uint32_t kiln_min_s8x4(uint32_t a, uint32_t b)
{
#if KILN_DSP_NATIVE
    uint32_t r;
    __asm__("ssub8 %0, %1, %2\n\tsel %0, %2, %1" : "=&r"(r) : "r"(a), "r"(b) : "cc");
    return r;
#else
    uint32_t r = 0;
    int i;
    for (i = 0; i < 32; i += 8) {
        const int8_t x = (int8_t)((a >> i) & 0xFFu);
        const int8_t y = (int8_t)((b >> i) & 0xFFu);
        r |= (uint32_t)(uint8_t)(x >= y ? y : x) << i;
    }
    return r;
#endif
}

/* Four int8 results (each in [-128, 127]) packed into one word, q0 in the
 * low byte: three BFI, where the shifts and masks GCC writes take eight. */
static inline uint32_t kiln_pack_s8x4(int32_t q0, int32_t q1, int32_t q2, int32_t q3)
{
#if KILN_DSP_NATIVE
    uint32_t r = (uint32_t)q0;
    __asm__("bfi %0, %1, #8, #24\n\tbfi %0, %2, #16, #16\n\tbfi %0, %3, #24, #8"
            : "+&r"(r) : "r"(q1), "r"(q2), "r"(q3));
    return r;
#else
    return ((uint32_t)q0 & 0xFFu) | (((uint32_t)q1 & 0xFFu) << 8) |
           (((uint32_t)q2 & 0xFFu) << 16) | ((uint32_t)q3 << 24);
#endif
}

/* A byte replicated into the four lanes of a word (the clamp bounds of
 * kiln_max_s8x4 / kiln_min_s8x4). */
static inline uint32_t kiln_splat_s8x4(int32_t x)
{
    return (uint32_t)(uint8_t)x * 0x01010101u;
}

/* A float activation clamp as TFLite's reference writes it: max, then min,
 * each a comparison (a NaN stays one; VMAXNM would not keep it). */
static inline float kiln_clamp_f(float v, float lo, float hi)
{
    v = v < lo ? lo : v;
    return v > hi ? hi : v;
}

/* acc + a * b with the product and the sum each rounded to single
 * precision: VMLA.F32 on a core with a single-precision FPU (it is not a
 * fused multiply-add), the same two roundings in plain C elsewhere. GCC
 * would emit VMUL and VADD, or with contraction allowed the fused VFMA,
 * which rounds once and so differs from TFLite's reference. */
static inline float kiln_vmla(float acc, float a, float b)
{
#if defined(__ARM_FP) && (__ARM_FP & 4)
    __asm__("vmla.f32 %0, %1, %2" : "+t"(acc) : "t"(a), "t"(b));
    return acc;
#else
    const float product = a * b;
    return acc + product;
#endif
}

/* A 32-bit load or store at any byte address (LDR/STR take unaligned
 * addresses on ARMv8-M Mainline; memcpy of 4 bytes compiles to one). */
#if defined(__GNUC__)
/* The builtin, because -ffreestanding turns a plain memcpy into a call. */
#define KILN_MEMCPY __builtin_memcpy
#else
#define KILN_MEMCPY memcpy
#endif

static inline uint32_t kiln_load32(const void *p)
{
    uint32_t v;
    KILN_MEMCPY(&v, p, sizeof v);
    return v;
}

static inline void kiln_store32(void *p, uint32_t v)
{
    KILN_MEMCPY(p, &v, sizeof v);
}

/* Four bytes of v, each looked up in a 256-entry table indexed by the byte
 * (int8 or uint8 alike): four UBFX + LDRB and three ORR. */
static inline uint32_t kiln_lut4(const uint8_t *t, uint32_t v)
{
    return (uint32_t)t[v & 0xFFu] | (uint32_t)t[(v >> 8) & 0xFFu] << 8 |
           (uint32_t)t[(v >> 16) & 0xFFu] << 16 | (uint32_t)t[v >> 24] << 24;
}

/* LDRD with post-increment: a = p[0], b = p[1], p += 2 (p a const
 * uint32_t pointer, 4-byte aligned). One instruction for two words and the
 * pointer update; GCC does not form LDRD from two loads on this core. */
#if KILN_DSP_NATIVE
#define KILN_LDRD_INC(p, a, b) \
    __asm__ volatile("ldrd %0, %1, [%2], #8" : "=r"(a), "=r"(b), "+r"(p) : : "memory")
#else
#define KILN_LDRD_INC(p, a, b) \
    do { (a) = (p)[0]; (b) = (p)[1]; (p) += 2; } while (0)
#endif

/* p[0] = a, p[1] = b, p += 2 (a uint32_t pointer, 4-byte aligned): STRD with
 * write-back, which GCC does not form either. */
#if KILN_DSP_NATIVE
#define KILN_STRD_INC(p, a, b) \
    __asm__ volatile("strd %1, %2, [%0], #8" : "+r"(p) : "r"(a), "r"(b) : "memory")
#else
#define KILN_STRD_INC(p, a, b) \
    do { (p)[0] = (a); (p)[1] = (b); (p) += 2; } while (0)
#endif

#endif /* KILN_DSP_H */
