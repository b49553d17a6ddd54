/*
 * Kiln DSP kernels: the two-pixel, two-channel SMLAD step in assembly, shared
 * by kiln_dsp_conv_s8 (conv_s8.c) and kiln_dsp_wino_s8 (wino_s8.c).
 */
#ifndef KILN_DSP_MAC2X2_ASM_H
#define KILN_DSP_MAC2X2_ASM_H

/* One group of four K elements: LDM of the four activation words (pixels
 * A, B: [A k0 k2] [A k1 k3] [B k0 k2] [B k1 k3]) from r12 and of the four
 * weight words (channels c, c+1, likewise) from lr, 8 SMLAD into r0-r3
 * (a0 a1 b0 b1: pixel A channel c, A c+1, B c, B c+1). Ten 32-bit
 * instructions, 40 bytes: conv_s8.c computes entry points into an unrolled
 * run of groups from that size. */
#define KILN_CONV_GROUP_ASM \
        "ldmia.w r12!, {r4-r7}\n\t" \
        "ldmia.w lr!, {r8-r11}\n\t" \
        KILN_CONV_SMLAD_ASM

/* The group's 8 SMLAD, activations in r4-r7 and weights in r8-r11. */
#define KILN_CONV_SMLAD_ASM \
        "smlad  r0, r4, r8, r0\n\t" \
        "smlad  r1, r4, r10, r1\n\t" \
        "smlad  r2, r6, r8, r2\n\t" \
        "smlad  r3, r6, r10, r3\n\t" \
        "smlad  r0, r5, r9, r0\n\t" \
        "smlad  r1, r5, r11, r1\n\t" \
        "smlad  r2, r7, r9, r2\n\t" \
        "smlad  r3, r7, r11, r3\n\t"

/* A run of sixteen groups (labels 20 .. 30), K groups a multiple of four
 * elements, r12 and lr advancing through them. A count that is not a
 * multiple of sixteen enters the run part-way through an address computed
 * once per call (KILN_MAC_ENTRY_SETUP_ASM, with the "m" operands [back] =
 * kiln_mac_back(groups) and [entry]; KILN_MAC_ENTRY_ASM jumps there); a
 * count of at most sixteen needs no end test, others test r12 against the
 * "m" operand [kend] once per sixteen groups (KILN_MAC_TEST_ASM, or TEST
 * built on it). KILN_MAC_RUN_VARIANTS instantiates the four combinations. */
#define KILN_MAC_RUN16_ASM \
        "20:\n\t" \
        KILN_CONV_GROUP_ASM KILN_CONV_GROUP_ASM KILN_CONV_GROUP_ASM KILN_CONV_GROUP_ASM \
        KILN_CONV_GROUP_ASM KILN_CONV_GROUP_ASM KILN_CONV_GROUP_ASM KILN_CONV_GROUP_ASM \
        KILN_CONV_GROUP_ASM KILN_CONV_GROUP_ASM KILN_CONV_GROUP_ASM KILN_CONV_GROUP_ASM \
        KILN_CONV_GROUP_ASM KILN_CONV_GROUP_ASM KILN_CONV_GROUP_ASM KILN_CONV_GROUP_ASM \
        "30:\n\t"
#define KILN_MAC_ENTRY_SETUP_ASM \
        "adr    r4, 30f\n\t" \
        "ldr    r5, %[back]\n\t" \
        "sub    r4, r4, r5\n\t" \
        "orr    r4, r4, #1\n\t" \
        "str    r4, %[entry]\n\t"
#define KILN_MAC_ENTRY_ASM "ldr    r4, %[entry]\n\tbx     r4\n\t"
#define KILN_MAC_TEST_ASM "ldr    r4, %[kend]\n\tcmp    r12, r4\n\tbne    20b\n\t"
#define KILN_MAC_RUN_VARIANTS(CALL, groups, TEST) \
    do { \
        if ((groups) <= 16u) { \
            if ((groups) == 16u) { \
                CALL("", ""); \
            } else { \
                CALL(KILN_MAC_ENTRY_ASM, ""); \
            } \
        } else if ((groups) % 16u == 0) { \
            CALL("", TEST); \
        } else { \
            CALL(KILN_MAC_ENTRY_ASM, TEST); \
        } \
    } while (0)

/* The clobbers of an assembly block that takes every register but lr (an
 * operand) and sp. */
#define KILN_MAC_CLOBBERS \
    "r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11", "r12", "cc", "memory"

/* The bytes from a run's entry to its end: the last groups % 16 groups. */
static inline uint32_t kiln_mac_back(uint32_t groups)
{
    return 40u * (groups % 16u);
}

#endif /* KILN_DSP_MAC2X2_ASM_H */
