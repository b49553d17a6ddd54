"""Weight layouts and requantization constants of the DSP kernels (kiln/dsp.h).

Pure NumPy, no SCons, no TensorFlow: weight re-layout (pre-widened int16,
doubled, paired in SXTB16 order), bias folding, requantization records and
the build-time proofs that the fast requantization cannot overflow. The
registry hooks (which layer gets which kernel) live in kiln.kernels_dsp.

Every function here raises Unfit (with the reason) when a layer does not
meet a kernel's conditions; the caller then falls back to the portable
kernel, which handles everything.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

INT31 = 1 << 31
INT16_MAX = (1 << 15) - 1


class Unfit(Exception):
    """The layer does not meet this kernel's conditions (the message says which)."""


def max_abs_input(in_offset: int) -> int:
    """The largest |q + in_offset| over int8 q."""
    return max(abs(-128 + in_offset), abs(127 + in_offset))


#: The shift field of an exact record (kiln/dsp.h, "Exact records") is this flag
#: with the zero point in bits 15..8 and TFLite's shift in bits 7..0.
EXACT_FLAG = -(1 << 31)


def exact_shift_field(shift: int, out_zp: int) -> int:
    """The negative shift field that marks an exact record (decoded by rq_exact.c)."""
    return EXACT_FLAG | ((out_zp & 0xFF) << 8) | (shift & 0xFF)


def requant_records(w_rows: np.ndarray, bias: np.ndarray | None, in_offset: int,
                    mult: list[int], shift: list[int], out_zp: int) -> np.ndarray:
    """kiln_dsp_rq_t records, one per output row: [bias', mult, round, e].

    w_rows: [out][k] int8 weights (one row per output channel). A channel gets
    the four-instruction record when the fast requantization (kiln/dsp.h)
    provably gives the reference's bits: M > 0, e in 1..30, and neither the
    doubled accumulator nor the rounding sum can leave int32 for any int8
    input. A zero multiplier gets the fast record that always gives the zero
    point. Every other channel gets an exact record (a negative shift field);
    `has_exact` tells the kernels to look for them. Unfit only when even the
    exact record's sums could leave int32."""
    w = np.asarray(w_rows, dtype=np.int64)
    out = w.shape[0]
    b = np.zeros(out, np.int64) if bias is None else np.asarray(bias, dtype=np.int64).ravel()
    if b.size != out:
        raise Unfit(f"bias has {b.size} entries for {out} outputs")
    m = np.broadcast_to(np.asarray(mult, dtype=np.int64), (out,))
    s = np.broadcast_to(np.asarray(shift, dtype=np.int64), (out,))
    if np.any(m < 0):
        raise Unfit("a requantization multiplier is negative")
    wsum = w.sum(axis=1)
    span = np.abs(w).sum(axis=1) * max_abs_input(in_offset)   # |sum w * (x + offset)|
    raw = np.abs(w).sum(axis=1) * 128  # the bias-free accumulator the fused max compares
    if np.any(2 * span >= INT31) or np.any(2 * raw >= INT31):
        raise Unfit("the doubled bias-free accumulator could overflow int32")
    e = np.clip(-s, 1, 30)
    bound = np.abs(b) + span
    rnd = (np.int64(1) << (e - 1)) + np.int64(out_zp) * (np.int64(1) << e)
    fast = (s <= -1) & (-s <= 30) & (2 * bound < INT31) & (bound + 2 + np.abs(rnd) < INT31)
    records = []
    for c in range(out):
        if m[c] == 0:
            records.append((0, 0, 1 + 2 * out_zp, 1))
        elif fast[c]:
            records.append((2 * (b[c] + in_offset * wsum[c]), m[c], rnd[c], e[c]))
        elif bound[c] >= INT31:
            raise Unfit("the accumulator with its bias could overflow int32")
        else:
            records.append((2 * in_offset * wsum[c], m[c], b[c],
                            exact_shift_field(int(s[c]), out_zp)))
    return np.asarray(records, dtype=np.int64).astype(np.int32)


def matmul_record(depth: int, lhs_offset: int, rhs_offset: int, mult: int, shift: int,
                  out_zp: int) -> np.ndarray:
    """kiln_dsp_matmul_s8's one record (bias 0: both operands carry their offsets): the
    fast step (output_record) where it provably gives the reference's bits, else an
    exact record. Unfit when the doubled accumulator could leave int32."""
    bound2 = 2 * depth * max_abs_input(lhs_offset) * max_abs_input(rhs_offset)
    if bound2 >= INT31:
        raise Unfit("the doubled accumulator could overflow int32")
    if mult < 0:
        raise Unfit("a requantization multiplier is negative")
    if mult == 0:
        return np.array([0, 0, 1 + 2 * out_zp, 1], dtype=np.int32)
    try:
        m, rnd, e = output_record(bound2, mult, shift, out_zp)
    except Unfit:
        return np.array([0, mult, 0, exact_shift_field(shift, out_zp)], dtype=np.int32)
    return np.array([0, m, rnd, e], dtype=np.int32)


def has_exact(records: np.ndarray) -> int:
    """1 when some record is exact (the kernels' `exact` field), else 0."""
    return int(np.any(np.asarray(records)[:, 3] < 0))


def sxtb16_order(v: np.ndarray) -> np.ndarray:
    """Last axis (a multiple of 4) reordered k0 k2 k1 k3 per group of four: the
    int16 lanes SXTB16 / SXTB16 ROR #8 make of a loaded word."""
    v = np.asarray(v)
    shape = v.shape
    g = v.reshape(*shape[:-1], shape[-1] // 4, 4)
    return g[..., [0, 2, 1, 3]].reshape(shape)


def pad_last(v: np.ndarray, multiple: int) -> np.ndarray:
    """Zero-pad the last axis to a multiple of `multiple`."""
    v = np.asarray(v)
    extra = (-v.shape[-1]) % multiple
    if not extra:
        return v
    pad = [(0, 0)] * (v.ndim - 1) + [(0, extra)]
    return np.pad(v, pad)


def doubled_int16(w: np.ndarray) -> np.ndarray:
    """int8 weights as int16 times two (the accumulator is kept doubled)."""
    return (np.asarray(w, dtype=np.int32) * 2).astype(np.int16)


def conv_weights(w_ohwi: np.ndarray) -> tuple[np.ndarray, int]:
    """CONV_2D weights for kiln_dsp_conv_s8: ([ceil(O/2)][k_len/4][2][4] int16, k_len):
    the size layout's words (conv_weights8) as the kernel widens them, doubled and in
    SXTB16 order, so that both layouts hold the same weights at the same place."""
    w8, k_len = conv_weights8(w_ohwi)
    return widened(w8), k_len


def conv_narrow_weights(w_ohwi: np.ndarray) -> np.ndarray:
    """kiln_dsp_conv_narrow_s8's weights from OHWI int8 (in_c a multiple of 4): per tap
    and group of four input channels, each output channel's doubled int16 pairs
    [k0, k2], [k1, k3] in turn, as int16 values in memory order."""
    w = sxtb16_order(doubled_int16(w_ohwi))            # [O][KH][KW][C], k0 k2 k1 k3 per group
    o, kh, kw, c = w.shape
    return w.reshape(o, kh, kw, c // 4, 4).transpose(1, 2, 3, 0, 4).ravel()


def tap_sums(w_ohwi: np.ndarray) -> np.ndarray:
    """[KH][KW][O] twice each tap's weight sum over the input channels: what a tap in
    the padding, reading the zero point z, adds to the doubled accumulator (times z)."""
    return (2 * np.asarray(w_ohwi, dtype=np.int64).sum(axis=3)).transpose(1, 2, 0).ravel()


#: A channel pair's words in kiln_dsp_conv_s8's weight stream besides its K groups: the
#: four accumulators' biases before them (c, c+1, c, c+1: one LDM) and its two records
#: (kiln_dsp_rq_t) after. KILN_CONV_PAIR_EXTRA in kiln/dsp.h.
CONV_PAIR_EXTRA_WORDS = 12
#: The record of a zero channel that pads a pair or a group (never stored): zero
#: multiplier and bias, whose requantization is the zero point 0.
FILLER_RECORD = (0, 0, 1, 1)


def conv_stream(w_ohwi: np.ndarray, rq: np.ndarray) -> np.ndarray:
    """CONV_2D weights and records for kiln_dsp_conv_s8 as one int32 stream, per channel
    pair: [bias c, bias c+1, bias c, bias c+1], the pair's K groups as conv_weights holds
    them (two int16 a word), then the records of c and c+1: the assembly reads it with one
    pointer."""
    w16, k_len = conv_weights(w_ohwi)
    pairs = (len(w_ohwi) + 1) // 2
    u = np.asarray(w16, dtype=np.int16).view(np.uint16).astype(np.uint32).reshape(-1, 2)
    words = (u[:, 0] | (u[:, 1] << 16)).view(np.int32).reshape(pairs, k_len)
    recs = np.asarray(rq, dtype=np.int32).reshape(-1, 4)
    if len(recs) % 2:
        recs = np.concatenate([recs, np.array([FILLER_RECORD], np.int32)])
    recs = recs.reshape(pairs, 8)
    return np.ascontiguousarray(np.concatenate([recs[:, [0, 4, 0, 4]], words, recs], axis=1)).ravel()


def widened(w8: np.ndarray) -> np.ndarray:
    """A size-layout int8 array (groups of four: k0 k1 k2 k3) as its kernel widens it at
    run time, and as the speed layout stores it: int16, doubled, each group [k0, k2] [k1, k3]."""
    return sxtb16_order(doubled_int16(np.asarray(w8).ravel()))


def conv_weights8(w_ohwi: np.ndarray) -> tuple[np.ndarray, int]:
    """CONV_2D weights for kiln_dsp_conv_w8_s8, the size layout: int8 as stored,
    [ceil(O/2)][k_len/4][2][4] (an odd last channel and the K tail zero). Each word
    widens (SXTB16, doubled) into the two words conv_weights holds at the same place."""
    w = np.asarray(w_ohwi, dtype=np.int8)
    return channel_pair_groups(w.reshape(w.shape[0], -1))


def channel_pair_groups(rows: np.ndarray) -> tuple[np.ndarray, int]:
    """Per-channel rows [O][K] in the order the two-channel SMLAD step reads them:
    ([ceil(O/2)][k_len/4][2 channels][4], k_len), K zero-padded to k_len, a multiple of 4,
    and an odd last channel all zeros."""
    rows = pad_last(np.asarray(rows), 4)
    o, k_len = rows.shape
    if o % 2:
        rows = np.concatenate([rows, np.zeros((1, k_len), rows.dtype)])
    pairs = rows.reshape(-1, 2, k_len // 4, 4)                  # [O/2][ch][g][4]
    return np.ascontiguousarray(pairs.transpose(0, 2, 1, 3)).ravel(), k_len


#: Winograd F(2x2, 3x3): twice the textbook G (so that U is integer) and B^T.
WINO_G2 = np.array([[2, 0, 0], [1, 1, 1], [1, -1, 1], [0, 0, 2]], dtype=np.int64)


def wino_weights(w_ohwi: np.ndarray) -> np.ndarray:
    """CONV_2D 3x3 weights for kiln_dsp_wino_s8: U = (2G) g (2G)^T per output and input
    channel, int16 [ceil(O/2)][16 positions][I/4][2 channels][2 pairs] in SXTB16 order
    (|U| <= 9 * 127)."""
    w = np.asarray(w_ohwi, dtype=np.int64)
    u = np.einsum("ia,oabc,jb->oijc", WINO_G2, w, WINO_G2)       # [O][4][4][I]
    words, _ = channel_pair_groups(u.reshape(w.shape[0], -1))
    return sxtb16_order(words).astype(np.int16)


def wino_weights8(w_ohwi: np.ndarray) -> np.ndarray:
    """CONV_2D 3x3 weights for kiln_dsp_wino_w8_s8 (the size layout), which makes U at
    run time: int8 OHWI as the model holds them, an odd last channel all zeros."""
    w = np.asarray(w_ohwi, dtype=np.int8)
    if len(w) % 2:
        w = np.concatenate([w, np.zeros((1, *w.shape[1:]), np.int8)])
    return np.ascontiguousarray(w).ravel()


def wino_fits(w_ohwi: np.ndarray) -> bool:
    """Whether kiln_dsp_wino_s8's transformed tile, 4 * the accumulator without its bias,
    stays inside int32 for every input (activations in [-128, 127])."""
    w = np.abs(np.asarray(w_ohwi, dtype=np.int64)).reshape(len(w_ohwi), -1)
    return 4 * 128 * int(w.sum(axis=1).max(initial=0)) < 2**31


@dataclass(frozen=True)
class SparseBlocks:
    """A layer's weights in the block-sparse layout of kiln_dsp_conv_sparse_s8 and
    kiln_dsp_fc_sparse_s8: the blocks (one K group of 4 for one channel pair) that
    hold a nonzero weight, as int8 in the dense layout's order, and where each pair's are."""

    w8: np.ndarray           # [nonzero blocks][2][4] int8
    nz_start: np.ndarray     # [pairs + 1] uint32: pair j's blocks are nz_idx[nz_start[j]:nz_start[j+1]]
    nz_idx: np.ndarray       # [nonzero blocks] uint16: their K group numbers
    blocks: int              # all blocks, zero or not

    @property
    def density(self) -> float:
        """The share of blocks kept (1.0: dense)."""
        return len(self.nz_idx) / self.blocks if self.blocks else 1.0


def sparse_blocks(w_rows: np.ndarray) -> SparseBlocks:
    """The block-sparse layout of int8 weights [O][K] (a conv's OHWI flattened, or FC rows)."""
    w8, k_len = conv_weights8(np.asarray(w_rows).reshape(len(w_rows), -1))
    blocks = w8.reshape(-1, k_len // 4, 2, 4)                   # [pair][group][ch][4]
    keep = np.any(blocks != 0, axis=(2, 3))                     # [pair][group]
    counts = keep.sum(axis=1)
    starts = np.concatenate([[0], np.cumsum(counts)]).astype(np.uint32)
    idx = np.concatenate([np.nonzero(row)[0] for row in keep]).astype(np.uint16) if keep.size else \
        np.zeros(0, np.uint16)
    return SparseBlocks(np.ascontiguousarray(blocks[keep]), starts, idx, int(keep.size))


#: Arena bytes kiln_dsp_conv_w8_s8 widens weights into at a time (a chunk of output
#: channel pairs): the receptive fields are gathered once per chunk, so a chunk of 8 or
#: more pairs keeps that repeated work under 1/16 of an instruction per MAC.
CONV_W8_CHUNK_BYTES = 8192


def conv_w8_chunk_pairs(out_c: int, k_len: int) -> int:
    """Output channel pairs kiln_dsp_conv_w8_s8 widens at a time into conv_stream's form
    (conv_w8_pair_bytes each)."""
    return max(1, min((out_c + 1) // 2, CONV_W8_CHUNK_BYTES // conv_w8_pair_bytes(k_len)))


def conv_w8_pair_bytes(k_len: int) -> int:
    """Arena bytes of one channel pair widened by kiln_dsp_conv_w8_s8: its K groups and
    the stream's biases and records."""
    return 4 * (k_len + CONV_PAIR_EXTRA_WORDS)


def fc_blocks(out_n: int) -> list[int]:
    """Row block sizes the FC kernels walk (fc_walk.h): 6s, then at most one 4, 2 and 1."""
    blocks = [6] * (out_n // 6)
    rest = out_n % 6
    for b in (4, 2, 1):
        if rest >= b:
            blocks.append(b)
            rest -= b
    return blocks


def fc_weights(w: np.ndarray) -> np.ndarray:
    """FULLY_CONNECTED weights [out][in] for kiln_dsp_fc_s8: the row blocks widened."""
    return widened(fc_row_blocks(w))


def fc_row_blocks(w: np.ndarray) -> np.ndarray:
    """FULLY_CONNECTED weights [out][in] as int8 in the row blocks the FC kernels walk
    ([g][b][4] per block of b rows, in padded with zeros to a multiple of 4)."""
    w = pad_last(np.asarray(w, dtype=np.int8), 4)
    out_n, in_n = w.shape
    parts, r = [], 0
    for b in fc_blocks(out_n):
        parts.append(w[r:r + b].reshape(b, in_n // 4, 4).transpose(1, 0, 2).ravel())
        r += b
    return np.concatenate(parts)


#: What kiln_dsp_fc_w8_s8 adds to the even bytes of each weight word (and to each
#: input it reads through SMLAD as the low byte of a halfword): fc_w8_s8.c.
FC8_EVEN_BIAS = 128


def fc_weights8(w: np.ndarray) -> np.ndarray:
    """FULLY_CONNECTED weights [out][in] for kiln_dsp_fc_w8_s8, the size layout: the row
    blocks of fc_row_blocks, one byte a weight, with bytes 0 and 2 of each word stored
    plus 128 (as unsigned bytes). The kernel reads each word twice through SMLAD: whole,
    as the halfwords [256 k1 + k0 + 128, 256 k3 + k2 + 128], and as SXTB16 ROR #8's
    [k1, k3]; fc_w8_s8.c gives the arithmetic."""
    words = fc_row_blocks(w).view(np.uint8).reshape(-1, 4).copy()
    words[:, 0::2] ^= 0x80
    return words.ravel().view(np.int8)


def fc_records8(rq: np.ndarray, w: np.ndarray) -> np.ndarray:
    """kiln_dsp_fc_w8_s8's records: requant_records' with the doubled-accumulator term
    raised by 2 * 128 * (the row's weights at odd input positions), which the kernel's
    accumulator lacks (fc_w8_s8.c). Taken modulo 2^32, as the kernel adds it."""
    rq = np.array(rq, dtype=np.int64)
    odd = pad_last(np.asarray(w, dtype=np.int64), 4)[:, 1::2].sum(axis=1)
    rq[:, 0] += 2 * FC8_EVEN_BIAS * odd
    rq[:, 0] = (rq[:, 0] + 2**31) % 2**32 - 2**31
    return rq.astype(np.int32)


def conv1_records(w_ohwi: np.ndarray, rq: np.ndarray) -> np.ndarray:
    """Per-channel records of kiln_dsp_conv1_pool_s8, 9 int32 each: the weight
    pairs [w00,w02] [w10,w12] [w20,w22] [w01,w11] [0,w21] (int16, doubled),
    then the requantization record."""
    w = np.asarray(w_ohwi, dtype=np.int32)
    if w.shape[1:] != (3, 3, 1):
        raise Unfit("not a 3x3 kernel over one input channel")
    k = w[:, :, :, 0] * 2
    z = np.zeros(w.shape[0], np.int32)
    cols = [k[:, 0, 0], k[:, 0, 2], k[:, 1, 0], k[:, 1, 2], k[:, 2, 0], k[:, 2, 2],
            k[:, 0, 1], k[:, 1, 1], z, k[:, 2, 1]]
    pairs = np.stack(cols, axis=1).astype(np.int16).view(np.int32)   # [out][5]
    return np.concatenate([pairs, np.asarray(rq, dtype=np.int32)], axis=1).ravel()


def dw_weights(w_1hwc: np.ndarray, mult: int = 1) -> np.ndarray:
    """DEPTHWISE_CONV_2D weights [1][kh][kw][C * mult] for kiln_dsp_dwconv_s8:
    [mult][ceil(C/4)][tap][c0 c2 c1 c3] int16, doubled, the channels past C zero
    (dw_weights8 widened)."""
    return widened(dw_weights8(w_1hwc, mult))


def dw3x3_weights(w_1hwc: np.ndarray, transposed: bool) -> np.ndarray:
    """DEPTHWISE_CONV_2D 3x3 weights [1][3][3][C] for kiln_dsp_dw3x3_s8: per channel, with
    k the kernel in plane orientation (transposed when the plane is), the doubled int16
    pairs [k00, k01] [k01, k02] [k10, k11] [k11, k12] [k20, k21] [k21, k22] (12 int16)."""
    k = dw3x3_weights8(w_1hwc, transposed).reshape(-1, 3, 3).astype(np.int32) * 2   # [C][3][3]
    pairs = [(a, b) for a in range(3) for b in range(2)]            # [k_a,b, k_a,b+1]
    out = np.stack([np.stack([k[:, a, b], k[:, a, b + 1]], axis=1) for a, b in pairs], axis=1)
    return out.astype(np.int16).ravel()                            # [C][6][2]


def dw3x3_weights8(w_1hwc: np.ndarray, transposed: bool) -> np.ndarray:
    """The same weights for kiln_dsp_dw3x3_w8_s8, the size layout: per channel the 9 int8
    k[a][b] in plane orientation, which the kernel widens into dw3x3_weights' pairs."""
    k = np.asarray(w_1hwc, dtype=np.int8)[0]                       # [3][3][C]
    if transposed:
        k = k.transpose(1, 0, 2)
    return np.ascontiguousarray(k.transpose(2, 0, 1)).ravel()      # [C][3][3]


#: The largest int16 plane kiln_dsp_dw3x3_s8 widens a channel into (arena bytes).
DW3X3_MAX_PLANE_BYTES = 32768
#: The arena bytes of accumulator rows kiln_dsp_dw3x3_s8 requantizes at a time (at least
#: one row): a batch of rows per call of its assembly loops, whose set-up would otherwise
#: cost as much as a small map's row.
DW3X3_ACC_BYTES = 2048
#: The most arena bytes kiln_dsp_dw3x3_s8's four planes may take: four channels copied per
#: pass (one input word each) cost about 2 instructions a cell against 3.25, and a small
#: map's row set-up is shared by four channels. Larger maps keep one plane. VWW's 48x48
#: layers fit (four 20 KB planes: 42K fewer instructions, 3 KB more arena than one plane).
DW3X3_FOUR_PLANES_BYTES = 24576


@dataclass(frozen=True)
class Dw3x3Plan:
    """kiln_dsp_dw3x3_s8's plane and strides for one layer (stride 1 or 2): the plane runs
    along the output's longer side, so that the two-output steps have the longest rows."""

    transposed: bool
    rows: int
    len: int
    plane_w: int
    in_rows: int
    in_len: int
    pad_r: int
    pad_c: int
    in_step: int
    in_row: int
    out_step: int
    out_row: int
    #: Output rows whose accumulators the arena scratch holds at a time.
    batch: int
    #: Planes filled per pass: 4 (four channels from one input word each) or 1.
    planes: int
    #: The convolution's stride along both axes (1 or 2).
    stride: int = 1

    @property
    def plane_bytes(self) -> int:
        """Bytes of the int16 plane: dw3x3_plane_rows rows of plane_w."""
        return 2 * dw3x3_plane_rows(self.rows, self.stride) * self.plane_w

    @property
    def scratch_bytes(self) -> int:
        """Arena bytes: the planes, then `batch` rows of int32 accumulators (each rounded
        up to a pair)."""
        return self.planes * self.plane_bytes + 4 * self.batch * (self.len + self.len % 2)

    def fields(self) -> dict[str, int]:
        """The plan's fields of kiln_dsp_dw3x3_params_t."""
        return {k: getattr(self, k) for k in ("rows", "len", "in_rows", "in_len", "pad_r", "pad_c",
                                              "in_step", "in_row", "out_step", "out_row", "batch",
                                              "planes", "stride")}


#: At stride 1 a plane up to this wide (int16) is rounded up to a multiple of 8, the widths
#: kiln_dsp_dw3x3_s8's four-output loop is compiled for (DW3X3_WIDE_MAX in dw3x3_s8.c).
DW3X3_WIDE_MAX = 64


def dw3x3_plane_width(length: int, stride: int) -> int:
    """The plane's width (int16) for rows of `length` outputs (the kernel's plane_width())."""
    w = stride * (length + length % 2) + 2
    return (w + 7) // 8 * 8 if stride == 1 and w <= DW3X3_WIDE_MAX else w


def dw3x3_plane_rows(rows: int, stride: int) -> int:
    """The plane's rows for `rows` output rows: output row y reads plane rows stride * y
    to stride * y + 2 (the kernel's plane_rows())."""
    return stride * (rows - 1) + 3


def dw3x3_plan(in_hw: tuple[int, int], out_hw: tuple[int, int], pad: tuple[int, int],
               channels: int, stride: int = 1) -> Dw3x3Plan:
    """The plan for a 3x3 depthwise layer of stride 1 or 2 (both axes): in_hw, out_hw the
    input and output (height, width), pad (top, left)."""
    (in_h, in_w), (out_h, out_w), (top, left), c = in_hw, out_hw, pad, channels
    transposed = out_h > out_w
    if transposed:
        rows, length, in_rows, in_len, pad_r, pad_c = out_w, out_h, in_w, in_h, left, top
        in_step, in_row, out_step, out_row = in_w * c, c, out_w * c, c
    else:
        rows, length, in_rows, in_len, pad_r, pad_c = out_h, out_w, in_h, in_w, top, left
        in_step, in_row, out_step, out_row = c, in_w * c, c, out_w * c
    # Each two-output step reads 2 * stride + 2 columns from its first, 2 * stride
    # further on: the last (an odd row's extra output included) reads up to column
    # stride * (len rounded up to even) + 1. (The kernel derives the same width:
    # plane_width() in dw3x3_s8.c.)
    plane_w = dw3x3_plane_width(length, stride)
    plane_rows = dw3x3_plane_rows(rows, stride)
    batch = max(1, min(rows, DW3X3_ACC_BYTES // (4 * (length + length % 2))))
    four = c % 4 == 0 and 4 * 2 * plane_rows * plane_w <= DW3X3_FOUR_PLANES_BYTES
    return Dw3x3Plan(transposed, rows, length, plane_w,
                     max(0, min(in_rows, plane_rows - pad_r)), max(0, min(in_len, plane_w - pad_c)),
                     pad_r, pad_c, in_step, in_row, out_step, out_row, batch, 4 if four else 1, stride)


def dw_weights8(w_1hwc: np.ndarray, mult: int = 1) -> np.ndarray:
    """DEPTHWISE_CONV_2D weights for kiln_dsp_dwconv_w8_s8, the size layout: int8
    [mult][ceil(C/4)][tap][c0 c1 c2 c3]; each word widens (SXTB16, doubled) into the two
    words dw_weights holds at the same place."""
    w = np.asarray(w_1hwc, dtype=np.int8)
    _, kh, kw, oc = w.shape
    c = oc // mult
    per_pass = pad_last(w.reshape(kh * kw, c, mult).transpose(2, 0, 1), 4)   # [j][tap][C4]
    g = per_pass.shape[2] // 4
    taps = per_pass.reshape(mult, kh * kw, g, 4)                              # [j][tap][group][4]
    return np.ascontiguousarray(taps.transpose(0, 2, 1, 3)).ravel()


#: The largest widened weight array kiln_dsp_dwconv_w8_s8 makes in the arena (bytes).
DW_W8_MAX_BYTES = 32768


def dw_records(rq: np.ndarray, mult: int) -> np.ndarray:
    """Depthwise records in the kernel's pass order: [mult][ceil(C/4) * 4], from
    the per-output-channel records (output channel c * mult + j); the padding
    lanes get a zero-multiplier record, never stored."""
    rq = np.asarray(rq, dtype=np.int32)
    c = rq.shape[0] // mult
    per_pass = rq.reshape(c, mult, 4).transpose(1, 0, 2)          # [j][C][4]
    extra = (-c) % 4
    if extra:
        filler = np.tile(np.array(FILLER_RECORD, np.int32), (mult, extra, 1))
        per_pass = np.concatenate([per_pass, filler], axis=1)
    return np.ascontiguousarray(per_pass).reshape(-1, 4)


# ---- exact TFLite integer arithmetic (for the ADD tables and the tests) ------

def srdhm(a: int, b: int) -> int:
    """TFLite SaturatingRoundingDoublingHighMul on Python ints."""
    if a == b == -INT31:
        return INT31 - 1
    ab = a * b
    nudge = (1 << 30) if ab >= 0 else 1 - (1 << 30)
    n = ab + nudge
    return n >> 31 if n >= 0 else -((-n) >> 31)


def rdbp(x: int, e: int) -> int:
    """TFLite RoundingDivideByPOT (ties away from zero) on Python ints."""
    mask = (1 << e) - 1
    rem = x & mask
    thr = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> e) + (1 if rem > thr else 0)


def requantize(x: int, mult: int, shift: int) -> int:
    """kiln_requantize (quant.h) on Python ints (left shift wraps to int32)."""
    left, right = max(shift, 0), max(-shift, 0)
    v = (x << left) & 0xFFFFFFFF
    v = v - (1 << 32) if v >= INT31 else v
    return rdbp(srdhm(v, mult), right)


def add_tables(offset: int, left_shift: int, mult: int, shift: int) -> np.ndarray:
    """2 * TFLite's rescaled ADD input for every int8 value q (index q + 128)."""
    vals = [2 * requantize((q + offset) << left_shift, mult, shift) for q in range(-128, 128)]
    return np.array(vals, dtype=np.int64)


def output_record(bound: int, out_mult: int, out_shift: int, out_zp: int) -> tuple[int, int, int]:
    """(mult, round, e) of an element-wise output requantization (ADD, SUB, MUL) whose
    doubled accumulator is at most `bound` in size, with the fast path's overflow checks."""
    if out_mult <= 0 or out_shift > -1 or out_shift < -30:
        raise Unfit("the output multiplier is not in the fast path's range")
    e = -out_shift
    rnd = (1 << (e - 1)) + out_zp * (1 << e)
    if bound >= INT31 or bound // 2 + 2 + abs(rnd) >= INT31:
        raise Unfit("the doubled accumulator could overflow int32")
    return out_mult, rnd, e


def dw5_weights(w: np.ndarray) -> np.ndarray:
    """kiln_dsp_dw5_s8's weights from a depthwise filter [1][kh][5][c]: per channel and
    kernel row the six doubled int16 pairs [k0, k1], [k2, k3], [k4, 0], [0, k0], [k1, k2],
    [k3, k4] (low lane first), as int16 values in memory order."""
    _, kh, kw, c = w.shape
    k = np.zeros((c, kh, 7), np.int64)            # k[.., 1 + t] = 2 * tap t; zeros either side
    k[:, :, 1:6] = np.asarray(w, np.int64)[0].transpose(2, 0, 1) * 2
    pairs = [k[:, :, 1:3], k[:, :, 3:5], k[:, :, 5:7], k[:, :, 0:2], k[:, :, 2:4], k[:, :, 4:6]]
    return np.stack(pairs, axis=2).astype(np.int16).ravel()
