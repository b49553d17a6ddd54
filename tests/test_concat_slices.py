"""A concatenation along an outer axis disappears: its inputs become slices of its
output (kiln.ir alias_offset), their producers write straight into place, and the
model still matches tflite-micro bit for bit on the host (sanitizer build), with the
portable and the dsp kernels. A concatenation of channels (rows of several inputs
interleaved) keeps its kernel."""

from __future__ import annotations

import opmodels
import pytest
from kiln import planner
from kiln.tflite_reader import read_tflite

SAMPLES = 16


def _heads():
    """Dense branches of one input concatenated (axis 1 of (1, n)): the second slice is
    an ADD whose inputs die there (an in-place ADD would have the slice's storage start
    over an input still being read, with the first slice written into it before), and
    the concatenation is itself concatenated with a third branch (a slice of a slice)."""
    k = opmodels._keras()
    L = k.layers
    inp = k.Input(shape=(12,), batch_size=1)
    a = L.Dense(8, activation="relu")(inp)
    summed = L.Add()([L.Dense(4)(inp), L.Dense(4)(inp)])
    joined = L.Concatenate(axis=1)([a, summed])
    both = L.Concatenate(axis=1)([joined, L.Dense(3)(inp)])
    return k.Model(inp, L.Dense(4)(both))


def _rows():
    """Two convolutions of one image stacked along its height (axis 1 of NHWC, behind
    a reshape on one side), and a concatenation of channels, which keeps its copy;
    the two branches flattened and concatenated for the dense head."""
    k = opmodels._keras()
    L = k.layers
    inp = k.Input(shape=(6, 5, 3), batch_size=1)
    a = L.Conv2D(4, 3, padding="same")(inp)
    b = L.Conv2D(4, 1)(inp)
    b = L.Reshape((6, 5, 4))(L.Reshape((30, 4))(b))
    tall = L.Concatenate(axis=1)([a, b])                  # (1, 12, 5, 4): slices
    wide = L.Concatenate(axis=3)([a, b])                  # (1, 6, 5, 8): interleaved rows
    flat = L.Concatenate()([L.Flatten()(L.Conv2D(3, 1)(tall)), L.Flatten()(L.Conv2D(2, 1)(wide))])
    return k.Model(inp, L.Dense(4)(flat))


def _unaligned():
    """A first input of 6 bytes: the second slice would start off a word boundary, where
    kernels loading words with LDRD/LDM would fault, so the concatenation stays."""
    k = opmodels._keras()
    inp = k.Input(shape=(12,), batch_size=1)
    joined = k.layers.Concatenate(axis=1)([k.layers.Dense(6)(inp), k.layers.Dense(5)(inp)])
    return k.Model(inp, k.layers.Dense(4)(joined))


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("concat")
    paths = {}
    for i, (name, builder) in enumerate((("heads", _heads), ("rows", _rows), ("unaligned", _unaligned))):
        path = out / f"{name}.tflite"
        path.write_bytes(opmodels.convert(opmodels.build(builder, 40 + i), int8=True, seed=i))
        paths[name] = path
    return paths


def _concats(path) -> int:
    """CONCATENATION operators left in the simplified graph."""
    return sum(op.op == "CONCATENATION" for op in read_tflite(path).ops)


def test_outer_concatenations_become_slices(models) -> None:
    assert _concats(models["heads"]) == 0
    # the channel concatenation stays; the one along the height is gone
    assert _concats(models["rows"]) == 1
    assert _concats(models["unaligned"]) == 1


def test_the_slices_sit_side_by_side_in_the_output(models) -> None:
    """Each input's arena offset is its output's plus the bytes before it, and the
    concatenation's storage is not shared in place with anything."""
    for name in ("heads", "rows"):
        g = read_tflite(models[name])
        p = planner.plan(g)
        slices = [t for t in g.tensors if t.alias_of is not None and
                  any(s.alias_offset for s in g.tensors if s.alias_of == t.alias_of)]
        assert slices
        by_root: dict[int, list] = {}
        for t in slices:
            by_root.setdefault(t.alias_of, []).append(t)
        for root, parts in by_root.items():
            parts.sort(key=lambda t: t.alias_offset)
            assert sum(t.nbytes for t in parts) == g.tensors[root].nbytes
            at = p.offset(root)
            for t in parts:
                assert p.offset(t.index) == at and at % 4 == 0
                at += t.nbytes
            assert all(g.storage(i) != g.storage(root) and g.storage(o) != g.storage(root)
                       for _, i, o in p.inplace)


@pytest.mark.slow
@pytest.mark.parametrize("kernels", ["portable", "dsp"])
@pytest.mark.parametrize("name", ["heads", "rows", "unaligned"])
def test_models_with_slices_match_tflite_micro(models, name: str, kernels: str) -> None:
    res, used = opmodels.check_random(models[name], seed=7, samples=SAMPLES, kernels=kernels)
    assert res.ok and res.identical_samples == SAMPLES, res.summary()
    if name == "heads":
        assert not any("concat" in k for k in used)
