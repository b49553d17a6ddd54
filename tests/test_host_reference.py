"""host.reference: input quantization matches TFLite's QUANTIZE bit for bit,
and the reference runs a real converted model on tflite-micro."""

from __future__ import annotations

import os

import numpy as np
import pytest
from kiln.errors import KilnError

from host.reference import Reference, quantize

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@pytest.fixture(scope="module")
def float_io_int8(tmp_path_factory) -> tuple[str, str]:
    """A float-in/float-out int8 model (it starts with QUANTIZE) and a full-int8 one."""
    import tensorflow as tf
    import tf_keras as k

    model = k.Sequential([k.Input((6, 6, 1), batch_size=1), k.layers.Conv2D(3, 3), k.layers.Flatten(),
                          k.layers.Dense(4)])
    rng = np.random.default_rng(1)

    def rep():
        for _ in range(32):
            yield [rng.uniform(-2.0, 3.0, (1, 6, 6, 1)).astype(np.float32)]

    paths = []
    for io_int8 in (False, True):
        conv = tf.lite.TFLiteConverter.from_keras_model(model)
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = rep
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        if io_int8:
            conv.inference_input_type = tf.int8
            conv.inference_output_type = tf.int8
        path = tmp_path_factory.mktemp("ref") / f"m{int(io_int8)}.tflite"
        path.write_bytes(conv.convert())
        paths.append(str(path))
    return paths[0], paths[1]


def test_quantize_matches_tflite_quantize_op(float_io_int8) -> None:
    from tflite_micro.python.tflite_micro import runtime

    float_model, _ = float_io_int8
    interp = runtime.Interpreter.from_file(float_model,
                                           intrepreter_config=runtime.InterpreterConfig.kPreserveAllTensors)
    # The QUANTIZE op's output is the int8 tensor that feeds the CONV_2D.
    from tflite_micro.python.tflite_micro.runtime import convert_bytearray_to_object

    with open(float_model, "rb") as f:
        model = convert_bytearray_to_object(bytearray(f.read()))
    graph = model.subgraphs[0]
    first = graph.operators[0]
    opcode = model.operatorCodes[first.opcodeIndex]
    assert runtime.get_builtin_code_from_operator_code(opcode) == 114  # QUANTIZE
    q_index = int(first.outputs[0])
    qt = graph.tensors[q_index].quantization
    scale, zp = float(qt.scale[0]), int(qt.zeroPoint[0])
    rng = np.random.default_rng(2)
    checked = 0
    for trial in range(40):
        x = rng.uniform(-2.5, 3.5, (1, 6, 6, 1)).astype(np.float32)
        if trial % 2:  # values on and beside the rounding half-way points
            k = rng.integers(-140, 140, x.shape)
            x = ((k + 0.5) * scale + rng.choice([-1e-7, 0.0, 1e-7], x.shape)).astype(np.float32)
        interp.set_input(x, 0)
        interp.invoke()
        expected = np.asarray(interp.GetTensor(q_index, 0)["tensor_data"])
        np.testing.assert_array_equal(quantize(x, scale, zp), expected.reshape(x.shape))
        checked += x.size
    assert checked == 40 * 36


def test_reference_encodes_and_runs_a_full_int8_model(float_io_int8) -> None:
    _, int8_model = float_io_int8
    ref = Reference(int8_model)
    assert ref.input.dtype == "int8" and ref.input.shape == (1, 6, 6, 1) and ref.input.nbytes == 36
    x = np.linspace(-2, 3, 36, dtype=np.float32)
    data = ref.encode(x)
    assert data == quantize(x, ref.input.scale, ref.input.zero_point).tobytes()
    out = ref.run(data)
    assert len(out) == ref.output.nbytes == 4
    assert ref.run(data) == out  # deterministic
    assert ref.run(ref.encode(-x)) != out
    with pytest.raises(KilnError, match="takes 36"):
        ref.encode(np.zeros(35, np.float32))


def test_missing_model_names_the_build_command(tmp_path) -> None:
    with pytest.raises(KilnError, match="scons models"):
        Reference(tmp_path / "absent.tflite")
