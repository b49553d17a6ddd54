"""The DSP kernels' arithmetic, checked on the host:

* the four-instruction requantization (kiln/dsp.h) against the portable
  kiln_requantize() of kiln/quant.h, compiled from the real headers, on
  random and edge-case accumulators, multipliers and shifts;
* the DSP shim's plain-C instructions (the host path) against their
  definitions computed independently in NumPy;
* the build-time layouts, and the records of every kind of channel real
  training leaves behind (zero multipliers, multipliers of 0.5 or more,
  huge biases over near-zero filters) through the kernels' requantization
  against the reference arithmetic.
"""

from __future__ import annotations

import ctypes
import subprocess
import zlib

import numpy as np
import pytest
from kiln import dsp_layout as lay
from kiln import quantmath as qm
from support import ROOT

RUNTIME = ROOT / "firmware" / "runtime"

HARNESS = r"""
#include <stdint.h>
#include "kiln/quant.h"
#include "dsp_rq.h"

/* fast[i] = the dsp sequence, ref[i] = the portable one, for each case. */
void rq_both(int n, const int32_t *acc, const int32_t *mult, const int32_t *e,
             const int32_t *zp, int32_t *fast, int32_t *ref)
{
    for (int i = 0; i < n; i++) {
        const int32_t round = (1 << (e[i] - 1)) + zp[i] * (1 << e[i]);
        fast[i] = kiln_dsp_requant((int32_t)((uint32_t)acc[i] * 2u), mult[i], round, e[i]);
        ref[i] = kiln_clamp_s32(kiln_requantize(acc[i], mult[i], -e[i]) + zp[i], -128, 127);
    }
}

/* As rq_both under a clamp whose lower bound is the zero point (ReLU), fast[i]
 * with kiln_dsp_requant_floor. */
void rq_floor(int n, const int32_t *acc, const int32_t *mult, const int32_t *e,
              const int32_t *zp, int32_t *fast, int32_t *ref)
{
    for (int i = 0; i < n; i++) {
        const int32_t round = (1 << (e[i] - 1)) + zp[i] * (1 << e[i]);
        const int32_t acc2 = (int32_t)((uint32_t)acc[i] * 2u);
        fast[i] = kiln_clamp_s32(kiln_dsp_requant_floor(acc2, mult[i], round, e[i]), zp[i], 127);
        ref[i] = kiln_clamp_s32(kiln_requantize(acc[i], mult[i], -e[i]) + zp[i], zp[i], 127);
    }
}

/* out[i] = the kernels' requantization of acc2[i] under record rec[i] (the
 * layer-wide `exact` flag set, as a layer with exact records has it). */
void rq_records(int n, const kiln_dsp_rq_t *rec, const int32_t *acc2, int32_t *out)
{
    for (int i = 0; i < n; i++) {
        out[i] = kiln_dsp_rq(acc2[i], &rec[i], 1);
    }
}

void dsp_ops(int n, const uint32_t *a, const uint32_t *b, const int32_t *c, uint32_t *out)
{
    for (int i = 0; i < n; i++, out += 9) {
        out[0] = kiln_sxtb16(a[i]);
        out[1] = kiln_sxtb16_ror8(a[i]);
        out[2] = (uint32_t)kiln_smlad(a[i], b[i], c[i]);
        out[3] = kiln_max_s8x4(a[i], b[i]);
        out[4] = kiln_min_s8x4(a[i], b[i]);
        out[5] = kiln_pkhbt16(a[i], b[i]);
        out[6] = kiln_pkhtb16(a[i], b[i]);
        out[7] = (uint32_t)kiln_smmlar((int32_t)a[i], (int32_t)b[i], c[i]);
        out[8] = kiln_sxtab16(b[i], a[i]);
    }
}
"""


@pytest.fixture(scope="module")
def lib(tmp_path_factory):
    """The harness above as a host shared library."""
    d = tmp_path_factory.mktemp("dsprq")
    (d / "h.c").write_text(HARNESS)
    so = d / "h.so"
    subprocess.run(["cc", "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-shared", "-fPIC",
                    f"-I{RUNTIME / 'include'}", f"-I{RUNTIME / 'dsp'}", str(d / "h.c"),
                    str(RUNTIME / "dsp" / "rq_exact.c"), "-o", str(so)],
                   check=True)
    return ctypes.CDLL(str(so))


def _ptr(a: np.ndarray):
    return a.ctypes.data_as(ctypes.c_void_p)


def _run_rq(lib, acc, mult, e, zp, floor: bool = False) -> tuple[np.ndarray, np.ndarray]:
    acc, mult, e, zp = (np.ascontiguousarray(v, dtype=np.int32) for v in (acc, mult, e, zp))
    fast, ref = np.empty_like(acc), np.empty_like(acc)
    run = lib.rq_floor if floor else lib.rq_both
    run(len(acc), _ptr(acc), _ptr(mult), _ptr(e), _ptr(zp), _ptr(fast), _ptr(ref))
    return fast, ref


def test_fast_requantization_equals_portable_on_random_cases(lib) -> None:
    rng = np.random.default_rng(1)
    n = 1_000_000
    e = rng.integers(1, 21, n)
    zp = rng.integers(-128, 128, n)
    mult = rng.integers(1 << 30, (1 << 31) - 1, n, endpoint=True)
    # Accumulators at every magnitude, up to the build-time bound |2*acc| < 2^31.
    acc = (rng.integers(-(1 << 30) + 1, 1 << 30, n) >> rng.integers(0, 30, n)).astype(np.int64)
    ok = np.abs(acc) + 2 + (1 << (e - 1)) + np.abs(zp) * (1 << e) < (1 << 31)  # the build's check
    fast, ref = _run_rq(lib, acc[ok], mult[ok], e[ok], zp[ok])
    bad = np.flatnonzero(fast != ref)
    assert bad.size == 0, f"{bad.size} mismatches, first acc={acc[ok][bad[0]]}"
    assert len(np.unique(ref)) == 256  # every int8 output was exercised


def test_fast_requantization_on_rounding_ties_and_edges(lib) -> None:
    """Accumulators where either rounding step sits exactly on a tie, or the
    doubling product is negative and rounds to zero."""
    cases = []
    rng = np.random.default_rng(2)
    for e in range(1, 21):
        for mult in (1 << 30, (1 << 30) + 1, 1518500250, (1 << 31) - 1):
            for k in range(-40, 41):
                # y = SRDHM(acc, mult) near k * 2^(e-1): ties of the final shift
                target = k * (1 << (e - 1))
                acc0 = (target << 31) // mult
                for d in (-2, -1, 0, 1, 2):
                    cases.append((acc0 + d, mult, e, int(rng.integers(-128, 128))))
            for acc in (-1, 0, 1, -2, 2, (1 << 29), -(1 << 29), (1 << 30) - 1, -(1 << 30) + 1):
                cases.append((acc, mult, e, 0))
    acc, mult, e, zp = (np.array(c, dtype=np.int64) for c in zip(*cases, strict=True))
    keep = np.abs(acc) + 2 + (1 << (e - 1)) + np.abs(zp) * (1 << e) < (1 << 31)
    fast, ref = _run_rq(lib, acc[keep], mult[keep], e[keep], zp[keep])
    assert np.array_equal(fast, ref)


def test_floor_requantization_equals_portable_under_a_relu_clamp(lib) -> None:
    """Without the rounding term of negative accumulators (kiln_dsp_requant_floor), the
    clamp at the zero point still gives the portable outputs: random cases and the
    negative accumulators nearest zero, where the term could matter."""
    rng = np.random.default_rng(4)
    n = 400_000
    e = rng.integers(1, 21, n)
    zp = rng.integers(-128, 128, n)
    mult = rng.integers(1 << 30, (1 << 31) - 1, n, endpoint=True)
    acc = (rng.integers(-(1 << 30) + 1, 1 << 30, n) >> rng.integers(0, 30, n)).astype(np.int64)
    acc[: n // 4] = -rng.integers(1, 1 << 12, n // 4)
    ok = np.abs(acc) + 2 + (1 << (e - 1)) + np.abs(zp) * (1 << e) < (1 << 31)
    fast, ref = _run_rq(lib, acc[ok], mult[ok], e[ok], zp[ok], floor=True)
    assert np.array_equal(fast, ref)
    assert (ref > zp[ok]).any() and (ref == zp[ok]).any()


def _s16(x: np.ndarray) -> np.ndarray:
    return x.astype(np.uint16).astype(np.int16).astype(np.int64)


def test_dsp_shim_host_path_matches_the_instruction_definitions(lib) -> None:
    rng = np.random.default_rng(3)
    n = 20000
    a = rng.integers(0, 1 << 32, n, dtype=np.uint64).astype(np.uint32)
    b = rng.integers(0, 1 << 32, n, dtype=np.uint64).astype(np.uint32)
    c = rng.integers(-(1 << 31), 1 << 31, n).astype(np.int32)
    out = np.empty((n, 9), np.uint32)
    lib.dsp_ops(n, _ptr(a), _ptr(b), _ptr(c), _ptr(out))
    bytes_a = a.view(np.int8).reshape(n, 4).astype(np.int64)
    bytes_b = b.view(np.int8).reshape(n, 4).astype(np.int64)

    def pack(lo, hi):
        return ((lo & 0xFFFF) | ((hi & 0xFFFF) << 16)).astype(np.uint32)

    assert np.array_equal(out[:, 0], pack(bytes_a[:, 0], bytes_a[:, 2]))
    assert np.array_equal(out[:, 1], pack(bytes_a[:, 1], bytes_a[:, 3]))
    a64, b64 = a.astype(np.int64), b.astype(np.int64)
    smlad = (c.astype(np.int64) + _s16(a64 & 0xFFFF) * _s16(b64 & 0xFFFF)
             + _s16(a64 >> 16) * _s16(b64 >> 16)) & 0xFFFFFFFF
    assert np.array_equal(out[:, 2], smlad.astype(np.uint32))
    lanes = np.ascontiguousarray(out[:, 3:5]).view(np.int8).reshape(n, 2, 4)
    assert np.array_equal(lanes[:, 0], np.maximum(bytes_a, bytes_b))
    assert np.array_equal(lanes[:, 1], np.minimum(bytes_a, bytes_b))
    assert np.array_equal(out[:, 5], ((a64 & 0xFFFF) | ((b64 & 0xFFFF) << 16)).astype(np.uint32))
    assert np.array_equal(out[:, 6], ((a64 >> 16) | (b64 & 0xFFFF0000)).astype(np.uint32))
    prod = [(int(x) * int(y) + (1 << 31)) >> 32 for x, y in zip(a.view(np.int32), b.view(np.int32),
                                                                 strict=True)]
    smmlar = (c.astype(np.int64) + np.array(prod, dtype=np.int64)) & 0xFFFFFFFF
    assert np.array_equal(out[:, 7], smmlar.astype(np.uint32))
    sxtab = pack(_s16(b64 & 0xFFFF) + bytes_a[:, 0], _s16(b64 >> 16) + bytes_a[:, 2])
    assert np.array_equal(out[:, 8], sxtab)


# ---- build-time layouts --------------------------------------------------------

def test_sxtb16_order_matches_the_widened_word() -> None:
    v = np.arange(8)
    assert lay.sxtb16_order(v).tolist() == [0, 2, 1, 3, 4, 6, 5, 7]


def test_fc_blocks_cover_every_row() -> None:
    for n in range(1, 30):
        blocks = lay.fc_blocks(n)
        assert sum(blocks) == n and all(b in (1, 2, 4, 6) for b in blocks)
        assert blocks == sorted(blocks, reverse=True) and blocks.count(6) == n // 6
        assert all(blocks.count(b) <= 1 for b in (1, 2, 4))


def test_records_fold_the_input_offset_and_double() -> None:
    w = np.array([[1, -2, 3], [4, 5, -6]])
    rq = lay.requant_records(w, np.array([10, -20]), 128, [1 << 30, 1 << 30], [-3, -5], -7)
    assert rq[:, 0].tolist() == [2 * (10 + 128 * 2), 2 * (-20 + 128 * 3)]
    assert rq[:, 2].tolist() == [4 - 7 * 8, 16 - 7 * 32]
    assert rq[:, 3].tolist() == [3, 5]


def _layer_cases(rng: np.random.Generator, kind: str) -> tuple:
    """One layer's (weights [out][k], bias, in_offset, mult, shift, out_zp) of a kind real
    training produces."""
    out, k = 24, int(rng.integers(1, 300))
    w = rng.integers(-127, 128, (out, k))
    bias = rng.integers(-5000, 5000, out)
    reals = rng.uniform(2.0 ** -12, 0.45, out)
    if kind == "zero_filters":
        w[::3] = 0
        reals[::3] = 0.0
    elif kind == "large_multipliers":
        reals[::2] = rng.uniform(0.5, 3.0, out)[::2]
    elif kind == "tiny_multipliers":
        reals[::2] = rng.uniform(2.0 ** -40, 2.0 ** -31, out)[::2]
    elif kind == "huge_bias":
        w[::2] = rng.integers(-2, 3, (out, k))[::2]
        bias[::2] = rng.integers(-(1 << 31) + (1 << 21), (1 << 31) - (1 << 21), out)[::2]
    mult, shift = qm.quantize_multipliers(reals)
    return w, bias, int(rng.integers(-127, 129)), mult, shift, int(rng.integers(-128, 128))


@pytest.mark.parametrize("kind", ["ordinary", "zero_filters", "large_multipliers",
                                  "tiny_multipliers", "huge_bias"])
def test_records_of_trained_layers_requantize_like_the_reference(lib, kind: str) -> None:
    """Whatever the channel, the record the build writes makes the kernels'
    requantization (fast or exact) give the reference's int8 output, on
    random inputs and on the extreme ones."""
    rng = np.random.default_rng(zlib.crc32(kind.encode()))
    w, bias, off, mult, shift, zp = _layer_cases(rng, kind)
    rec = lay.requant_records(w, bias, off, mult, shift, zp)
    if kind != "ordinary":
        assert lay.has_exact(rec) or kind == "zero_filters"
    xs = np.concatenate([rng.integers(-128, 128, (40, w.shape[1])),
                         np.full((1, w.shape[1]), -128), np.full((1, w.shape[1]), 127),
                         np.where(w >= 0, 127, -128)[:1], np.where(w >= 0, -128, 127)[:1]])
    recs, acc2s, want = [], [], []
    for x in xs:
        for c in range(w.shape[0]):
            acc2s.append(int(rec[c, 0]) + 2 * int(np.dot(w[c], x)))
            recs.append(rec[c])
            acc = int(bias[c]) + int(np.dot(w[c], x + off))
            want.append(min(max(lay.requantize(acc, int(mult[c]), int(shift[c])) + zp, -128), 127))
    acc2 = np.array(acc2s, dtype=np.int64)
    assert np.all(np.abs(acc2) < (1 << 31))
    recs_a = np.ascontiguousarray(np.array(recs, dtype=np.int32))
    acc2 = acc2.astype(np.int32)
    got = np.empty_like(acc2)
    lib.rq_records(len(acc2), _ptr(recs_a), _ptr(acc2), _ptr(got))
    assert np.array_equal(got, np.array(want, dtype=np.int32))


def test_records_refuse_only_what_int32_cannot_hold() -> None:
    """A bias that already overflows the reference's int32 sum is the one
    thing no record can take."""
    with pytest.raises(lay.Unfit, match="could overflow"):
        lay.requant_records(np.full((1, 9), 127), np.array([(1 << 31) - 100]), 128, [1 << 30], [-3], 0)


def _reference_rescale(x: int, mult: int, shift: int) -> int:
    """TFLite's rescaling of an ADD input, written out here from the spec
    (doubling high multiply rounding half away, then a rounding right shift)."""
    x <<= max(shift, 0)
    ab = x * mult
    nudged = ab + ((1 << 30) if ab >= 0 else 1 - (1 << 30))
    high = abs(nudged) >> 31
    high = high if nudged >= 0 else -high
    right = max(-shift, 0)
    mask = (1 << right) - 1
    threshold = (mask >> 1) + (1 if high < 0 else 0)
    return (high >> right) + (1 if (high & mask) > threshold else 0)


def test_add_tables_reproduce_the_reference_rescaling() -> None:
    """The table holds each int8 input's rescaled value, doubled (the kernel
    adds two halves), for every input value."""
    cases = ((5, 20, 1518500250, -1), (-3, 20, 1 << 30, 0), (128, 20, 2147483647, -5))
    for offset, left, mult, shift in cases:
        tab = lay.add_tables(offset, left, mult, shift)
        for q in range(-128, 128):
            assert tab[q + 128] == 2 * _reference_rescale((q + offset) << left, mult, shift), (q, offset)
