"""Recurrent operators (kiln.codegen.ops.recurrent) against tflite-micro.

UNIDIRECTIONAL_SEQUENCE_LSTM from tf.keras LSTM layers (units, time steps,
features, return_sequences, time_major, stacked, from tiny to huge
calibration ranges, one and two batches), int8 (int16 cell state) and
float32, converted by the real TFLite converter, compiled by Kiln for the host
and run on seeded random inputs: int8 outputs identical, float32 within 1e-5
relative. Every inference starts from zero state on both sides (the oracle
resets tflite-micro's variables before each invoke), so the samples are
independent; `test_lstm_state_does_not_leak` shows the kernel's reset.

Converting an LSTM takes the converter about 8 s per layer, so the models are
converted once and committed (tests/fixtures/recurrent, written by `python
tests/test_ops_recurrent.py`): the single-output ones run in the sanitizer
build, the many-branch ones (every variant as a branch of one model) in the
shared library. No converter emits SVDF: its models (int8 with int16 or int8 state,
float32) are written here with TensorFlow's flatbuffer schema. The fast loop
(-m "not slow") checks the single-output LSTMs and the SVDFs; the slow part the
many-branch LSTMs, and one LSTM converted now, proving the converter still
emits what Kiln runs.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import opmodels
import pytest
from kiln import hostcheck, oracle
from kiln.codegen import registry
from kiln.errors import KilnError
from kiln.tflite_reader import read_tflite
from support import ROOT

SAMPLES = 12
MODULE = "kiln.codegen.ops.recurrent"


FIXTURES = ROOT / "tests" / "fixtures" / "recurrent"


def _L():
    return opmodels._keras().layers


def _transpose():
    import tensorflow as tf
    return _L().Lambda(lambda t: tf.transpose(t, [1, 0, 2]))


def _scaled(k: float):
    return _L().Lambda(lambda t: t * k)


def _branches_s8(inp):
    """Every int8 variant on one input, one output each (one conversion for all: an LSTM
    conversion takes seconds)."""
    L = _L()
    return [
        L.LSTM(4, return_sequences=True)(inp),                        # batch-major, every step
        L.LSTM(16, return_sequences=True)(_scaled(40.0)(inp)),       # wide, huge range: saturation
        L.LSTM(3)(_scaled(0.01)(inp)),                               # tiny range, last step only
        L.LSTM(5, time_major=True, return_sequences=True)(inp),      # time-major: 8 batches of 1 step
        L.LSTM(4, time_major=True, return_sequences=True)(_transpose()(inp)),  # time-major steps
        L.Dense(3)(L.LSTM(4)(L.LSTM(6, return_sequences=True)(inp))),  # stacked
    ]


def _branches_f32(inp):
    L = _L()
    return [
        L.LSTM(4, return_sequences=True)(inp),
        L.LSTM(5, time_major=True, return_sequences=True)(inp),
        L.Dense(3)(L.LSTM(4)(L.LSTM(9, return_sequences=True)(_scaled(3.0)(inp)))),
    ]


def _branched(branches: Callable, shape: tuple[int, ...]):
    k = opmodels._keras()
    inp = k.Input(shape=shape, batch_size=1)
    return k.Model(inp, branches(inp))


def _fixture_model(int8: bool):
    """The single-output models the sanitizer build runs: two batches, int8 time-major (a
    transpose first), float32 batch-major."""
    k = opmodels._keras()
    inp = k.Input(shape=(6, 3), batch_size=2)
    if int8:
        return k.Model(inp, _L().LSTM(4, time_major=True, return_sequences=True)(_transpose()(inp)))
    return k.Model(inp, _L().LSTM(4, return_sequences=True)(inp))


def convert(model, int8: bool, lo: float, hi: float, seed: int) -> bytes:
    """Full-int8 (int8 input and output; calibration inputs uniform in [lo, hi]) or float32."""
    import warnings

    import tensorflow as tf

    warnings.filterwarnings("ignore", message="Statistics for quantized inputs")
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    if int8:
        shape = [int(d or 1) for d in model.input_shape]  # the fixtures have two batches
        rng = np.random.default_rng(seed)

        def rep():
            for _ in range(32):
                yield [rng.uniform(lo, hi, shape).astype(np.float32)]

        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = rep
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv.inference_input_type = tf.int8
        conv.inference_output_type = tf.int8
    return conv.convert()


def _ours() -> list[registry.KernelImpl]:
    return [k for k in registry.entries("portable") if k.build.__module__ == MODULE]


def _check_fixture(name: str) -> None:
    """A committed model, Kiln's sanitizer build against tflite-micro on seeded random inputs."""
    path = FIXTURES / f"{name}.tflite"
    seed = zlib.crc32(name.encode()) % 1000
    if name.endswith("s8"):
        res, used = opmodels.check_random(path, seed, SAMPLES)
    else:
        hm = hostcheck.HostModel(path, sanitize=True)
        try:
            used = {layer.kernel for layer in hm.model.layers}
            xs = np.random.default_rng(seed).uniform(-2, 2, (SAMPLES, *hm.in_shape)).astype(np.float32)
            got = hm.invoke_many(xs)
        finally:
            hm.close()
        ref = oracle.reference_outputs(path, xs)
        assert len(np.unique(ref)) > 2, f"degenerate reference output {np.unique(ref)}"
        res = hostcheck.compare(path.stem, got, ref)
    assert res.ok, res.summary()
    if name.endswith("s8"):
        assert res.identical_samples == SAMPLES, res.summary()
    assert used & {k.func for k in _ours()}, f"{name} runs none of this module's kernels: {sorted(used)}"


@pytest.mark.parametrize("name", ["lstm_s8", "lstm_f32"])
def test_recurrent_fast(name: str) -> None:
    _check_fixture(name)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["lstm_multi_s8", "lstm_multi_f32"])
def test_recurrent_variants(name: str) -> None:
    """Every branch's output against tflite-micro (int8 identical, float within 1e-5)."""
    path = FIXTURES / f"{name}.tflite"
    lstms = [o for o in read_tflite(path).ops if o.op == "UNIDIRECTIONAL_SEQUENCE_LSTM"]
    assert len(lstms) == (7 if name.endswith("s8") else 4)
    assert {bool(o.options["TimeMajor"]) for o in lstms} == {True, False}
    res = hostcheck.check_host(path, count=SAMPLES, seed=5)
    assert res.ok, res.summary()
    if name.endswith("s8"):
        assert res.identical_samples == SAMPLES, res.summary()


@pytest.mark.slow
def test_recurrent_converted_now(tmp_path: Path) -> None:
    """The converter of this environment still emits what Kiln runs: an int8 LSTM
    (last step only) converted now, bit-exact with tflite-micro. One layer: the
    converter takes about 8 s per LSTM."""
    model = opmodels.build(lambda: opmodels._seq((7, 4), _L().LSTM(5)), 21)
    path = tmp_path / "lstm_last_s8.tflite"
    path.write_bytes(convert(model, True, -3.0, 2.0, 21))
    assert [o.op for o in read_tflite(path).ops].count("UNIDIRECTIONAL_SEQUENCE_LSTM") == 1
    res, _ = opmodels.check_random(path, 21, SAMPLES)
    assert res.ok and res.identical_samples == SAMPLES, res.summary()


def test_lstm_state_does_not_leak() -> None:
    """The same input gives the same output whatever ran before: the kernel resets its
    state each invoke (the oracle comparison alone would not see a leak if both sides
    leaked alike), and the oracle's first invoke agrees with its later ones."""
    path = FIXTURES / "lstm_s8.tflite"
    hm = hostcheck.HostModel(path, sanitize=True)
    try:
        xs = hostcheck.make_inputs(hm, None, 3, 5)
        got = hm.invoke_many(np.stack([xs[0], xs[1], xs[0], xs[2], xs[0]]))
    finally:
        hm.close()
    assert np.array_equal(got[0], got[2]) and np.array_equal(got[0], got[4])
    assert not np.array_equal(got[0], got[1])
    ref = oracle.reference_outputs(path, np.stack([xs[0], xs[1], xs[0]]))
    assert np.array_equal(ref[0], ref[2]) and np.array_equal(ref[0], got[0].reshape(ref[0].shape))


def test_lstm_refusals() -> None:
    """LSTM variants Kiln (and tflite-micro) do not run are refused with the reason. The
    converter crashes on a Keras LSTM with a ReLU cell, so the variants are edits of a
    converted graph."""
    def refusal(edit: Callable) -> str:
        graph = read_tflite(FIXTURES / "lstm_s8.tflite")
        op = next(o for o in graph.ops if o.op == "UNIDIRECTIONAL_SEQUENCE_LSTM")
        edit(op)
        with pytest.raises(KilnError) as exc:
            registry.select(graph, op)
        return str(exc.value)

    assert "cell activation RELU" in refusal(lambda op: op.options.update(FusedActivationFunction="RELU"))
    assert "CIFG" in refusal(lambda op: op.inputs.__setitem__(1, -1))
    assert "peephole" in refusal(lambda op: op.inputs.__setitem__(10, op.inputs[12]))


def test_every_recurrent_kernel_is_selected(tmp_path: Path) -> None:
    """The fixtures and the SVDF models reach every (operator, dtype, kernel) this module
    registers (the global coverage tests skip the kiln.codegen.ops package)."""
    reached = set()
    paths = sorted(FIXTURES.glob("*.tflite"))
    for spec in SVDF_SPECS:
        paths.append(tmp_path / f"{spec[0]}.tflite")
        paths[-1].write_bytes(svdf_model(*spec[1:], seed=1))
    for path in paths:
        graph = read_tflite(path)
        for op in graph.ops:
            impl = registry.select(graph, op)
            reached.add((impl.op, impl.dtype, impl.func))
    missing = {(k.op, k.dtype, k.func) for k in _ours()} - reached
    assert not missing, f"registered but reached by no model: {sorted(missing)}"


# ---- SVDF: no converter path emits it, so its models are written here -----------------------

def _schema():
    """TensorFlow's generated TFLite schema (object API), loaded from its file so that
    TensorFlow itself is not imported."""
    import importlib.util

    spec = importlib.util.find_spec("tensorflow")
    assert spec is not None and spec.submodule_search_locations
    path = Path(next(iter(spec.submodule_search_locations))) / "lite" / "python" / "schema_py_generated.py"
    module_spec = importlib.util.spec_from_file_location("kiln_tflite_schema", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


def svdf_model(int8: bool, batches: int, n_input: int, n_unit: int, rank: int, n_memory: int,
               act: str, state_bits: int, seed: int) -> bytes:
    """A one-operator SVDF .tflite with seeded random weights (int8: int8 input, feature
    weights and output, int16 (or with state_bits 8, int8) time weights and state, int32
    bias; scales chosen from a float simulation so the state and output use their range)."""
    sch = _schema()
    rng = np.random.default_rng(seed)
    n_filter = n_unit * rank
    tensors, buffers = [], [sch.BufferT()]

    def tensor(name: str, shape, ttype, data=None, scale=None, zp=None, variable=False) -> int:
        t = sch.TensorT()
        t.name, t.shape, t.type, t.isVariable = name, list(shape), ttype, variable
        t.buffer = 0
        if data is not None:
            b = sch.BufferT()
            b.data = np.frombuffer(np.ascontiguousarray(data).tobytes(), dtype=np.uint8)
            buffers.append(b)
            t.buffer = len(buffers) - 1
        if scale is not None:
            q = sch.QuantizationParametersT()
            q.scale, q.zeroPoint = [float(scale)], [int(zp)]
            t.quantization = q
        tensors.append(t)
        return len(tensors) - 1

    TT = sch.TensorType
    if int8:
        si, zi = 1.0 / 64, int(rng.integers(-20, 20))
        wf = rng.integers(-127, 128, (n_filter, n_input)).astype(np.int8)
        sf = 0.004
        xs = rng.integers(-128, 128, (64, batches, n_input)) - zi
        feat = si * sf * np.einsum("fi,sbi->sbf", wf.astype(np.float64), xs)
        smax = (1 << (state_bits - 1)) - 1
        ss = float(np.float32(np.abs(feat).max() * 0.8 / smax))
        zs = int(rng.integers(-5, 6)) if state_bits == 8 else 0
        sdt, stt = (np.int8, TT.INT8) if state_bits == 8 else (np.int16, TT.INT16)
        wt = rng.integers(-smax, smax + 1, (n_filter, n_memory)).astype(sdt)
        st = 1.0 / (smax + 1)
        sb = float(np.float32(np.float32(ss) * np.float32(st)))
        state = np.clip(np.round(feat / ss), -smax - 1, smax) * wt[:, -1]
        bias = rng.integers(-2000, 2000, n_unit).astype(np.int32) * int(max(1, np.abs(state).max() // 4000))
        acc = state.reshape(64, batches, n_unit, rank).sum(-1) + bias
        so = float(np.abs(acc).max() * sb / 100)
        zo = int(rng.integers(-10, 10))
        ids = [tensor("input", (batches, n_input), TT.INT8, None, si, zi),
               tensor("weights_feature", wf.shape, TT.INT8, wf, sf, 0),
               tensor("weights_time", wt.shape, stt, wt, st, 0),
               tensor("bias", bias.shape, TT.INT32, bias, sb, 0),
               tensor("activation_state", (batches, n_filter * n_memory), stt, None, ss, zs, True),
               tensor("output", (batches, n_unit), TT.INT8, None, so, zo)]
    else:
        f = np.float32
        ids = [tensor("input", (batches, n_input), TT.FLOAT32),
               tensor("weights_feature", (n_filter, n_input), TT.FLOAT32,
                      rng.normal(0, 0.5, (n_filter, n_input)).astype(f)),
               tensor("weights_time", (n_filter, n_memory), TT.FLOAT32,
                      rng.normal(0, 0.5, (n_filter, n_memory)).astype(f)),
               tensor("bias", (n_unit,), TT.FLOAT32, rng.normal(0, 0.5, n_unit).astype(f)),
               tensor("activation_state", (batches, n_filter * n_memory), TT.FLOAT32, variable=True),
               tensor("output", (batches, n_unit), TT.FLOAT32)]
    op = sch.OperatorT()
    op.opcodeIndex, op.inputs, op.outputs = 0, ids[:5], [ids[5]]
    op.builtinOptionsType = sch.BuiltinOptions.SVDFOptions
    op.builtinOptions = sch.SVDFOptionsT()
    op.builtinOptions.rank = rank
    op.builtinOptions.fusedActivationFunction = getattr(sch.ActivationFunctionType, act)
    code = sch.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = sch.BuiltinOperator.SVDF
    code.version = 1
    sg = sch.SubGraphT()
    sg.tensors, sg.inputs, sg.outputs, sg.operators, sg.name = tensors, [ids[0]], [ids[5]], [op], "main"
    model = sch.ModelT()
    model.version, model.description = 3, "kiln SVDF test model"
    model.operatorCodes, model.subgraphs, model.buffers = [code], [sg], buffers
    import flatbuffers

    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


# (name, int8?, batches, n_input, n_unit, rank, n_memory, fused activation, state bits)
SVDF_SPECS = [
    ("svdf_s8", True, 2, 6, 4, 2, 5, "NONE", 16),
    ("svdf_s8_rank1", True, 1, 16, 8, 1, 10, "RELU", 16),
    ("svdf_s8_s8state", True, 2, 7, 3, 2, 4, "NONE", 8),
    ("svdf_f32", False, 2, 6, 4, 2, 5, "NONE", 0),
    ("svdf_f32_relu", False, 1, 9, 3, 3, 4, "RELU", 0),
]


@pytest.mark.parametrize("spec", SVDF_SPECS, ids=[s[0] for s in SVDF_SPECS])
def test_svdf(spec: tuple, tmp_path: Path) -> None:
    """Hand-written SVDF models (int8 with int16 or int8 state, float32) against
    tflite-micro, in the sanitizer build."""
    name, int8, *rest = spec
    path = tmp_path / f"{name}.tflite"
    path.write_bytes(svdf_model(int8, *rest, seed=zlib.crc32(name.encode()) % 1000))
    seed = zlib.crc32(name.encode()) % 1000
    if int8:
        res, used = opmodels.check_random(path, seed, SAMPLES)
        assert res.identical_samples == SAMPLES, res.summary()
    else:
        hm = hostcheck.HostModel(path, sanitize=True)
        try:
            used = {layer.kernel for layer in hm.model.layers}
            xs = np.random.default_rng(seed).uniform(-2, 2, (SAMPLES, *hm.in_shape)).astype(np.float32)
            got = hm.invoke_many(xs)
        finally:
            hm.close()
        ref = oracle.reference_outputs(path, xs)
        assert len(np.unique(ref)) > 2, f"degenerate reference output {np.unique(ref)}"
        res = hostcheck.compare(path.stem, got, ref)
    assert res.ok, res.summary()
    assert used == {("kiln_svdf_s8_s8state" if rest[-1] == 8 else "kiln_svdf_s8") if int8
                    else "kiln_svdf_f32"}


if __name__ == "__main__":  # writes the fast loop's fixtures with the real converter
    import os
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    FIXTURES.mkdir(parents=True, exist_ok=True)
    for int8 in (True, False):
        model = opmodels.build(lambda i=int8: _fixture_model(i), 11)
        (FIXTURES / f"lstm_{'s8' if int8 else 'f32'}.tflite").write_bytes(convert(model, int8, -1.0, 1.0, 11))
        model = opmodels.build(lambda i=int8: _branched(_branches_s8 if i else _branches_f32, (8, 5)), 12)
        (FIXTURES / f"lstm_multi_{'s8' if int8 else 'f32'}.tflite").write_bytes(
            convert(model, int8, -1.0, 1.0, 12))
