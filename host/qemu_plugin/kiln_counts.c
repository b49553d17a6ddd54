/*
 * Kiln's QEMU plugin: the cost figures beside instruction counts.
 *
 * Counts, for an Armv7-M / Armv8-M guest: instructions, memory reads and
 * writes (one per access as QEMU performs them: an LDM of four registers is
 * four; read or write is decided by decoding the instruction, because QEMU
 * 7.2's inline memory callbacks do not filter by direction), taken branches (a translation block that does not start where the
 * previous one fell through: branches, calls, returns, exceptions), and
 * multiplies in three classes (32-bit results, 64-bit results, divides),
 * decoded from the instruction encodings of the Armv8-M ARM.
 *
 * Arguments: mark=0xADDR (the function whose every call takes a snapshot of
 * all counters: the firmware's kiln_cost_now, called before and after each
 * layer) and out=PATH (where the snapshots go, one line each, at exit).
 * host/cycles.py builds it, runs it and turns the snapshots into per-layer
 * figures and a cycle estimate.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qemu_plugin_api.h"

KILN_PLUGIN_EXPORT int qemu_plugin_version = 1;

enum { INSNS, READS, WRITES, TAKEN, MUL, MULL, DIV, N_COUNTERS };

static uint64_t counters[N_COUNTERS];
static uint64_t mark_addr = UINT64_MAX;
static uint64_t fallthrough = UINT64_MAX;   /* where the last executed block ends */
static uint64_t *snaps;
static size_t n_snaps, cap_snaps;
static char out_path[4096];

/* The width of a Thumb instruction from its first halfword: 4 bytes when
 * bits 15:11 are 0b11101, 0b11110 or 0b11111. Not the size QEMU reports:
 * QEMU 7.2 gives 6 for a 32-bit instruction whose successor would cross the
 * page (it appends the halfword it peeked at), which hid a hot SMLAD at a
 * page's 0xffa from the multiply count. */
static size_t thumb_size(const uint8_t *b, size_t reported)
{
    const unsigned hw1 = (unsigned)b[0] | ((unsigned)b[1] << 8);

    return (hw1 >> 11) >= 0x1Du && reported >= 4u ? 4u : 2u;
}

/* 1 when a Thumb instruction writes memory (STR*, STM, PUSH, STRD, STREX,
 * VSTR, VSTM), by the L bit of the load/store encodings; everything else's
 * accesses count as reads. */
static int is_store(const uint8_t *b, size_t size)
{
    const unsigned hw1 = (unsigned)b[0] | ((unsigned)b[1] << 8);

    if (size == 2) {
        if ((hw1 & 0xF000u) == 0x5000u) {
            return ((hw1 >> 9) & 7u) <= 2u;                 /* STR, STRH, STRB (register) */
        }
        if ((hw1 & 0xE000u) == 0x6000u || (hw1 & 0xE000u) == 0x8000u || (hw1 & 0xF000u) == 0xC000u) {
            return !(hw1 & 0x0800u);                        /* immediate, SP-relative, STM: L = 0 */
        }
        return (hw1 & 0xFE00u) == 0xB400u;                  /* PUSH */
    }
    if ((hw1 & 0xFE00u) == 0xE800u || (hw1 & 0xFE00u) == 0xF800u || (hw1 & 0xFE00u) == 0xEC00u) {
        return !(hw1 & 0x0010u);                            /* multiple/dual, single, VLDR/VSTR: L = 0 */
    }
    return 0;
}

/* The multiply class of one Thumb instruction (-1: not a multiply). */
static int multiply_class(const uint8_t *b, size_t size)
{
    const unsigned hw1 = (unsigned)b[0] | ((unsigned)b[1] << 8);

    if (size == 2) {
        return (hw1 & 0xFFC0u) == 0x4340u ? MUL : -1;     /* MULS */
    }
    if (size == 4) {
        const unsigned hw2 = (unsigned)b[2] | ((unsigned)b[3] << 8);
        if ((hw1 & 0xFF80u) == 0xFB00u) {
            return MUL;      /* MUL, MLA, MLS, SMLA<xy>, SMLAD, SMUAD, SMMLA(R), ... */
        }
        if ((hw1 & 0xFF80u) == 0xFB80u) {
            const unsigned op1 = (hw1 >> 4) & 7u;
            if ((op1 == 1u || op1 == 3u) && (hw2 & 0xF0u) == 0xF0u) {
                return DIV;  /* SDIV, UDIV */
            }
            return MULL;     /* SMULL, UMULL, SMLAL*, UMLAL, UMAAL, SMLALD, ... */
        }
    }
    return -1;
}

/* Every executed block: a taken branch when it does not start where the last
 * one fell through; a snapshot when it is the marked function. */
static void block_exec(unsigned int vcpu, void *udata)
{
    const uint64_t *tb = (const uint64_t *)udata;   /* [start, end] */

    (void)vcpu;
    if (fallthrough != UINT64_MAX && tb[0] != fallthrough) {
        counters[TAKEN]++;
    }
    fallthrough = tb[1];
    if (tb[0] == mark_addr) {
        if (n_snaps == cap_snaps) {
            cap_snaps = cap_snaps ? 2 * cap_snaps : 1024;
            snaps = realloc(snaps, cap_snaps * N_COUNTERS * sizeof *snaps);
            if (!snaps) {
                abort();
            }
        }
        memcpy(&snaps[n_snaps * N_COUNTERS], counters, sizeof counters);
        n_snaps++;
    }
}

static void block_translated(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    const size_t n = qemu_plugin_tb_n_insns(tb);
    uint64_t *range = malloc(2 * sizeof *range);   /* lives as long as the block: never freed */
    size_t i;

    (void)id;
    if (!range || n == 0) {
        abort();
    }
    range[0] = qemu_plugin_tb_vaddr(tb);
    for (i = 0; i < n; i++) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        const uint8_t *bytes = qemu_plugin_insn_data(insn);
        const size_t size = thumb_size(bytes, qemu_plugin_insn_size(insn));
        const int cls = multiply_class(bytes, size);

        qemu_plugin_register_vcpu_insn_exec_inline(insn, QEMU_PLUGIN_INLINE_ADD_U64, &counters[INSNS], 1);
        qemu_plugin_register_vcpu_mem_inline(insn, QEMU_PLUGIN_MEM_RW, QEMU_PLUGIN_INLINE_ADD_U64,
                                             &counters[is_store(bytes, size) ? WRITES : READS], 1);
        if (cls >= 0) {
            qemu_plugin_register_vcpu_insn_exec_inline(insn, QEMU_PLUGIN_INLINE_ADD_U64, &counters[cls], 1);
        }
        if (i + 1 == n) {
            range[1] = qemu_plugin_insn_vaddr(insn) + size;
        }
    }
    qemu_plugin_register_vcpu_tb_exec_cb(tb, block_exec, QEMU_PLUGIN_CB_NO_REGS, range);
}

static void at_exit(qemu_plugin_id_t id, void *udata)
{
    FILE *f = fopen(out_path, "w");
    size_t s, c;

    (void)id;
    (void)udata;
    if (!f) {
        qemu_plugin_outs("kiln_counts: cannot write the output file\n");
        return;
    }
    fprintf(f, "# insns reads writes taken mul mull div\n");
    for (s = 0; s <= n_snaps; s++) {   /* the snapshots, then the totals */
        const uint64_t *v = s < n_snaps ? &snaps[s * N_COUNTERS] : counters;
        for (c = 0; c < N_COUNTERS; c++) {
            fprintf(f, c ? " %llu" : "%llu", (unsigned long long)v[c]);
        }
        fputc('\n', f);
    }
    fclose(f);
}

KILN_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc,
                                           char **argv)
{
    int i;

    (void)info;
    for (i = 0; i < argc; i++) {
        if (strncmp(argv[i], "mark=", 5) == 0) {
            mark_addr = strtoull(argv[i] + 5, NULL, 0) & ~1ull;   /* a Thumb symbol's bit 0 */
        } else if (strncmp(argv[i], "out=", 4) == 0) {
            snprintf(out_path, sizeof out_path, "%s", argv[i] + 4);
        }
    }
    if (!out_path[0]) {
        qemu_plugin_outs("kiln_counts: needs out=PATH\n");
        return -1;
    }
    qemu_plugin_register_vcpu_tb_trans_cb(id, block_translated);
    qemu_plugin_register_atexit_cb(id, at_exit, NULL);
    return 0;
}
