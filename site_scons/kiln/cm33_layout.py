"""Weight layouts and requantization constants of the Cortex-M33 kernels (kiln/cm33.h).

Pure NumPy, no SCons, no TensorFlow: weight re-layout (pre-widened int16,
doubled, paired in SXTB16 order), bias folding, requantization records and
the build-time proofs that the fast requantization cannot overflow. The
registry hooks (which layer gets which kernel) live in kiln.kernels_cm33.

Every function here raises Unfit (with the reason) when a layer does not
meet a kernel's conditions; the caller then falls back to the portable
kernel, which handles everything.
"""

from __future__ import annotations

import numpy as np

INT31 = 1 << 31
INT16_MAX = (1 << 15) - 1


class Unfit(Exception):
    """The layer does not meet this kernel's conditions (the message says which)."""


def max_abs_input(in_offset: int) -> int:
    """The largest |q + in_offset| over int8 q."""
    return max(abs(-128 + in_offset), abs(127 + in_offset))


def requant_records(w_rows: np.ndarray, bias: np.ndarray | None, in_offset: int,
                    mult: list[int], shift: list[int], out_zp: int) -> np.ndarray:
    """kiln_cm33_rq_t records, one per output row: [bias', mult, round, e].

    w_rows: [out][k] int8 weights (one row per output channel). Checks every
    condition of the fast requantization (kiln/cm33.h): M > 0, e >= 1, and
    that neither the doubled accumulator nor the rounding sum leaves int32 for
    any int8 input."""
    w = np.asarray(w_rows, dtype=np.int64)
    out = w.shape[0]
    b = np.zeros(out, np.int64) if bias is None else np.asarray(bias, dtype=np.int64).ravel()
    if b.size != out:
        raise Unfit(f"bias has {b.size} entries for {out} outputs")
    m = np.broadcast_to(np.asarray(mult, dtype=np.int64), (out,))
    s = np.broadcast_to(np.asarray(shift, dtype=np.int64), (out,))
    if np.any(m <= 0):
        raise Unfit("a requantization multiplier is zero")
    if np.any(s > -1):
        raise Unfit("a requantization shift is not a right shift (multiplier >= 0.5)")
    e = -s
    if np.any(e > 30):
        raise Unfit("a requantization right shift exceeds 30")
    wsum = w.sum(axis=1)
    wabs = np.abs(w).sum(axis=1)
    bound = np.abs(b) + wabs * max_abs_input(in_offset)
    raw = wabs * 128  # the bias-free accumulator the fused max compares
    if np.any(2 * bound >= INT31) or np.any(2 * raw >= INT31):
        raise Unfit("the doubled accumulator could overflow int32")
    rnd = (np.int64(1) << (e - 1)) + np.int64(out_zp) * (np.int64(1) << e)
    if np.any(bound + 2 + np.abs(rnd) >= INT31):
        raise Unfit("the requantization rounding sum could overflow int32")
    folded = 2 * (b + in_offset * wsum)
    return np.stack([folded, m, rnd, e], axis=1).astype(np.int32)


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
    """CONV_2D weights for kiln_cm33_conv_s8: ([ceil(O/2)][k_len/4][2][4] int16, k_len)."""
    w = np.asarray(w_ohwi)
    o = w.shape[0]
    rows = pad_last(w.reshape(o, -1), 4)
    k_len = rows.shape[1]
    if o % 2:
        rows = np.concatenate([rows, np.zeros((1, k_len), rows.dtype)])
    ordered = sxtb16_order(doubled_int16(rows))                 # [O][k_len]
    pairs = ordered.reshape(-1, 2, k_len // 4, 4)               # [O/2][ch][g][4]
    return np.ascontiguousarray(pairs.transpose(0, 2, 1, 3)).ravel(), k_len


def fc_blocks(out_n: int) -> list[int]:
    """Row block sizes the FC kernel walks: 4s, then a 2, then a 1."""
    blocks = [4] * (out_n // 4)
    rest = out_n % 4
    if rest >= 2:
        blocks.append(2)
    if rest % 2:
        blocks.append(1)
    return blocks


def fc_weights(w: np.ndarray) -> np.ndarray:
    """FULLY_CONNECTED weights [out][in] (in % 4 == 0) for kiln_cm33_fc_s8."""
    w = np.asarray(w)
    out_n, in_n = w.shape
    if in_n % 4:
        raise Unfit("the input size is not a multiple of 4")
    ordered = sxtb16_order(doubled_int16(w))
    parts, r = [], 0
    for b in fc_blocks(out_n):
        blk = ordered[r:r + b].reshape(b, in_n // 4, 4)         # [b][g][4]
        parts.append(blk.transpose(1, 0, 2).ravel())            # [g][b][4]
        r += b
    return np.concatenate(parts)


def conv1_records(w_ohwi: np.ndarray, rq: np.ndarray) -> np.ndarray:
    """Per-channel records of kiln_cm33_conv1_pool_s8, 9 int32 each: the weight
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


def dw_weights(w_1hwc: np.ndarray) -> np.ndarray:
    """DEPTHWISE_CONV_2D weights [1][kh][kw][C] (C % 4 == 0, multiplier 1) for
    kiln_cm33_dwconv_s8: [C/4][tap][c0 c2 c1 c3] int16, doubled."""
    w = np.asarray(w_1hwc, dtype=np.int32)
    _, kh, kw, c = w.shape
    if c % 4:
        raise Unfit("the channel count is not a multiple of 4")
    taps = (w.reshape(kh * kw, c // 4, 4) * 2)[:, :, [0, 2, 1, 3]]   # [tap][group][4]
    return np.ascontiguousarray(taps.transpose(1, 0, 2)).astype(np.int16).ravel()


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


def add_record(a_tab: np.ndarray, b_tab: np.ndarray, out_mult: int, out_shift: int,
               out_zp: int) -> tuple[int, int, int]:
    """(mult, round, e) of the ADD output requantization, with the overflow checks."""
    if out_mult <= 0 or out_shift > -1 or out_shift < -30:
        raise Unfit("the ADD output multiplier is not in the fast path's range")
    e = -out_shift
    bound = int(np.abs(a_tab).max() + np.abs(b_tab).max())
    rnd = (1 << (e - 1)) + out_zp * (1 << e)
    if bound >= INT31 or bound // 2 + 2 + abs(rnd) >= INT31:
        raise Unfit("the ADD sum could overflow int32")
    return out_mult, rnd, e
