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

#endif /* KILN_DSP_MAC2X2_ASM_H */
