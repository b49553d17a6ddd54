"""Per-operator fidelity: small Keras models, converted by the real TFLite
converter, compiled by Kiln for the host and compared with tflite-micro.

Every int8 output must be identical; float32 within 1e-5 relative.
"""

from __future__ import annotations

import zlib

import opmodels
import pytest
from kiln import hostcheck
from kiln.codegen.registry import entries
from kiln.tflite_reader import read_tflite

SAMPLES = 40
SPECS = opmodels.op_specs()
FLOAT_SPECS = opmodels.float_specs()


@pytest.fixture(scope="module")
def converted(tmp_path_factory, dsp_spec_models) -> dict:
    """All suite models converted in this one process (TensorFlow loads once); the int8
    ones are test_dsp_fidelity's operator suite, converted once for both."""
    out = tmp_path_factory.mktemp("opmodels")
    paths = {name: dsp_spec_models[name] for name, _, _ in SPECS}
    for i, (name, builder, _) in enumerate(FLOAT_SPECS):
        paths[name] = out / f"{name}.tflite"
        paths[name].write_bytes(opmodels.convert(opmodels.build(builder, 500 + i), int8=False))
    paths["mobilenet_v2"] = out / "mobilenet_v2.tflite"
    paths["mobilenet_v2"].write_bytes(opmodels.convert(opmodels.build_mobilenet(3), int8=True))
    paths["int8_float_io"] = out / "int8_float_io.tflite"
    dense = SPECS[[s[0] for s in SPECS].index("flatten_dense")][1]
    paths["int8_float_io"].write_bytes(opmodels.convert(opmodels.build(dense, 9), int8=True,
                                                        float_io=True))
    return paths


def _check(path, seed: int) -> hostcheck.HostCheckResult:
    return opmodels.check_random(path, seed, SAMPLES)[0]


@pytest.mark.slow
@pytest.mark.parametrize("name", [s[0] for s in SPECS])
def test_int8_operator_identical(converted: dict, name: str) -> None:
    res = _check(converted[name], seed=zlib.crc32(name.encode()) % 1000)
    assert res.dtype == "int8"
    assert res.ok, res.summary()
    assert res.identical_samples == SAMPLES


@pytest.mark.slow
@pytest.mark.parametrize("name", [s[0] for s in FLOAT_SPECS])
def test_float_operator_within_tolerance(converted: dict, name: str) -> None:
    res = _check(converted[name], seed=7)
    assert res.dtype == "float32"
    assert res.ok, res.summary()


@pytest.mark.slow
def test_mobilenet_v2_identical(converted: dict) -> None:
    """A network Kiln was not written for: every int8 output identical."""
    res = _check(converted["mobilenet_v2"], seed=11)
    assert res.ok and res.identical_samples == SAMPLES, res.summary()


@pytest.mark.slow
def test_int8_model_with_float_interface(converted: dict) -> None:
    """QUANTIZE and DEQUANTIZE at the graph's edges."""
    ops = [op.op for op in read_tflite(converted["int8_float_io"]).ops]
    assert ops[0] == "QUANTIZE" and ops[-1] == "DEQUANTIZE"
    res = _check(converted["int8_float_io"], seed=12)
    assert res.ok and res.identical_samples == SAMPLES, res.summary()


@pytest.mark.slow
def test_suite_covers_the_registered_operators(converted: dict) -> None:
    """Every operator with a registered int8 or float32 kernel has a model here."""
    ops = {op.op for p in converted.values() for op in read_tflite(p).ops}
    needed = {impl.op for impl in entries("portable") if impl.dtype in ("int8", "float32")
              and not impl.build.__module__.startswith("kiln.codegen.ops.")}  # tests/test_ops_*.py
    missing = needed - ops
    assert not missing, f"operators with a kernel but no model in the suite: {sorted(missing)}"
