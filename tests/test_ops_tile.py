"""TILE, which Keras 3 emits for UpSampling2D (a reshape, then a TILE of an axis of
size 1): Kiln runs it as a table copy; tflite-micro has no TILE, so the oracle runs
such a TILE as the BROADCAST_TO it is, and any other TILE with TFLite's reference
kernels. The converter also fuses the reshape back into the next MUL, which then
has rank 5: the portable binary kernels merge its loops.
"""

from __future__ import annotations

import opmodels
import pytest
from kiln import oracle
from kiln.tflite_reader import read_tflite

#: TensorFlow conversions of Keras 3 models: the full suite's.
pytestmark = pytest.mark.slow

SAMPLES = 6


def _keras3():
    """Keras 3 (tf_keras, which opmodels builds with, emits RESIZE_NEAREST_NEIGHBOR)."""
    import keras

    return keras


def _upsample_mul():
    """An upsampled branch multiplied by itself (the converter merges the two equal
    branches; a rank-5 MUL after conversion). With a head after it, the converter
    emits RESIZE_NEAREST_NEIGHBOR instead of the TILEs."""
    k = _keras3()
    L = k.layers
    inp = k.Input(shape=(12, 10, 3), batch_size=1)
    x = L.Conv2D(8, 3, padding="same", activation="relu")(inp)
    a = L.UpSampling2D(2)(L.AveragePooling2D(2)(x))
    b = L.UpSampling2D(2)(L.AveragePooling2D(2)(x))
    return k.Model(inp, L.Multiply()([a, b]))


def _upsample_add():
    """An upsampled branch added to its source (an hourglass's skip)."""
    k = _keras3()
    L = k.layers
    inp = k.Input(shape=(16, 10, 4), batch_size=1)
    x = L.Activation("sigmoid")(L.Conv2D(8, 3, padding="same")(inp))
    a = L.UpSampling2D(2)(L.AveragePooling2D(2)(x))
    return k.Model(inp, L.Add()([a, x]))


def _tile_general():
    """tf.tile of axes longer than 1: no BROADCAST_TO can stand for it."""
    import tensorflow as tf

    k = _keras3()
    L = k.layers
    inp = k.Input(shape=(4, 5, 3), batch_size=1)
    x = L.Conv2D(4, 3, padding="same")(inp)
    x = L.Lambda(lambda t: tf.tile(t, [1, 2, 3, 1]))(x)
    return k.Model(inp, L.Conv2D(6, 3, activation="relu")(x))


#: name -> (builder, the oracle needs TensorFlow's interpreter)
SPECS = {"upsample_mul": (_upsample_mul, False), "upsample_add": (_upsample_add, False),
         "tile_general": (_tile_general, True)}


@pytest.fixture(scope="module")
def converted(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("tile")
    paths = {}
    for i, (name, (builder, _)) in enumerate(SPECS.items()):
        paths[name] = out / f"{name}.tflite"
        paths[name].write_bytes(opmodels.convert(opmodels.build(builder, 40 + i), int8=True, seed=i))
    return paths


@pytest.mark.parametrize("kernels", ["portable", "dsp"])
@pytest.mark.parametrize("name", sorted(SPECS))
def test_tile_matches_the_oracle(converted: dict, name: str, kernels: str) -> None:
    path = converted[name]
    graph = read_tflite(path)
    assert "TILE" in {op.op for op in graph.ops}, "the converter no longer emits TILE here"
    assert oracle.needs_tflite(graph) == SPECS[name][1]
    res, used = opmodels.check_random(path, 7, SAMPLES, kernels=kernels)
    assert "kiln_table_copy" in used
    assert res.ok and res.identical_samples == SAMPLES, res.summary()


def test_upsample_mul_has_rank_5(converted: dict) -> None:
    """The case the portable binary kernels' loop merging is for (it was refused)."""
    graph = read_tflite(converted["upsample_mul"])
    assert any(op.op == "MUL" and len(graph.tensors[op.outputs[0]].shape) == 5 for op in graph.ops)
