"""ONNX models into Kiln (kiln.quantize.onnx_source): real onnx2tf conversions, no mocks.

The committed PyTorch export (models/fashion_torch/model.onnx) must become a
SavedModel with one NHWC float input that computes what onnxruntime computes,
and whose TFLite form holds no TRANSPOSE. Small models built here with
onnx.helper cover a 3-channel input (onnx2tf's sample images must not be
downloaded), the flatten rewrite, and the errors a user can hit.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from kiln.errors import KilnError
from kiln.quantize import onnx_source
from kiln.tflite_reader import parse_tflite
from support import ROOT

TORCH_MODEL = ROOT / "models" / "fashion_torch" / "model.onnx"
#: What a CNN of conv, pool and dense layers may become in TFLite (no TRANSPOSE, no GATHER).
CNN_OPS = {"CONV_2D", "MAX_POOL_2D", "RESHAPE", "FULLY_CONNECTED"}


def _serve(saved_model: Path, shape: tuple[int, ...]) -> tuple[object, object]:
    """The SavedModel's serving function traced with batch 1, and the loaded model."""
    import tensorflow as tf

    loaded = tf.saved_model.load(str(saved_model))
    fn = loaded.signatures[onnx_source.SIGNATURE]
    (name,) = fn.structured_input_signature[1].keys()

    @tf.function
    def serve(x: tf.Tensor) -> tf.Tensor:
        return next(iter(fn(**{name: x}).values()))

    return serve.get_concrete_function(tf.TensorSpec(shape, tf.float32)), loaded


def _tflite_ops_and_outputs(saved_model: Path, xs: np.ndarray) -> tuple[set[str], np.ndarray]:
    """Float TFLite conversion (batch 1) of the SavedModel: its operators and its outputs for `xs`."""
    import tensorflow as tf

    concrete, loaded = _serve(saved_model, (1, *xs.shape[1:]))
    flat = tf.lite.TFLiteConverter.from_concrete_functions([concrete], loaded).convert()
    ops = {op.op for op in parse_tflite(flat).ops}
    interp = tf.lite.Interpreter(model_content=flat)
    interp.allocate_tensors()
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    got = []
    for x in xs:
        interp.set_tensor(inp["index"], x[None])
        interp.invoke()
        got.append(interp.get_tensor(out["index"])[0])
    return ops, np.array(got)


def _input_specs(saved_model: Path) -> list[tuple[tuple[int, ...], str]]:
    """(shape, dtype) of each serving input of the SavedModel."""
    import tensorflow as tf

    fn = tf.saved_model.load(str(saved_model)).signatures[onnx_source.SIGNATURE]
    return [(tuple(s.shape), s.dtype.name) for s in fn.structured_input_signature[1].values()]


def _save(tmp_path: Path, name: str, nodes: list, inputs: list, outputs: list,
          weights: dict[str, np.ndarray] | None = None, domains: tuple[str, ...] = ()) -> Path:
    """An opset-13 ONNX model of `nodes` (plus version 1 of custom `domains`) written to tmp_path/name."""
    import onnx
    from onnx import helper, numpy_helper

    inits = [numpy_helper.from_array(v.astype(np.float32), k) for k, v in (weights or {}).items()]
    graph = helper.make_graph(nodes, name, inputs, outputs, inits)
    opsets = [helper.make_opsetid("", 13)] + [helper.make_opsetid(d, 1) for d in domains]
    model = helper.make_model(graph, opset_imports=opsets)
    model.ir_version = 8
    path = tmp_path / name
    onnx.save(model, str(path))
    return path


def _value(name: str, shape: list[int | str]) -> object:
    from onnx import TensorProto, helper

    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def _rgb_cnn(tmp_path: Path) -> Path:
    """Conv(3->4, 3x3) ReLU Flatten Gemm(->5) on a 1x3x10x12 NCHW input, seeded weights."""
    from onnx import helper

    rng = np.random.default_rng(7)
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c"], kernel_shape=[3, 3]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("Flatten", ["r"], ["f"], axis=1),
        helper.make_node("Gemm", ["f", "w2", "b2"], ["y"], transB=1),
    ]
    weights = {"w1": rng.normal(size=(4, 3, 3, 3)), "b1": rng.normal(size=4),
               "w2": rng.normal(size=(5, 4 * 8 * 10)) * 0.1, "b2": rng.normal(size=5)}
    return _save(tmp_path, "rgb.onnx", nodes, [_value("x", [1, 3, 10, 12])], [_value("y", [1, 5])], weights)


@pytest.mark.slow  # a real onnx2tf conversion: seconds
def test_pytorch_export_converts_to_nhwc_savedmodel_that_matches_onnxruntime(tmp_path: Path) -> None:
    from kiln.datasets import load_fashion_mnist

    assert onnx_source.onnx_input_layout(TORCH_MODEL) == "NCHW"
    saved = onnx_source.to_saved_model(TORCH_MODEL, tmp_path)
    assert _input_specs(saved) == [((1, 28, 28, 1), "float32")]
    # Only the finished SavedModel is left in the cache; a second call reuses it.
    assert [p.name for p in tmp_path.iterdir()] == [saved.name]
    stamp = (saved / "saved_model.pb").stat().st_mtime_ns
    assert onnx_source.to_saved_model(TORCH_MODEL, tmp_path) == saved
    assert (saved / "saved_model.pb").stat().st_mtime_ns == stamp

    images, labels = load_fashion_mnist("test")
    xs = images[:30].astype(np.float32) / 255.0
    want = onnx_source.onnxruntime_outputs(TORCH_MODEL, xs)
    assert want.shape == (30, 10) and want.dtype == np.float32
    assert (want.argmax(1) == labels[:30]).mean() > 0.6
    ops, got = _tflite_ops_and_outputs(saved, xs)
    assert ops <= CNN_OPS, f"unexpected operators {ops - CNN_OPS}"
    np.testing.assert_allclose(got, want, atol=1e-4 * max(1.0, float(np.abs(want).max())))


@pytest.mark.slow  # a real onnx2tf conversion: seconds
def test_three_channel_model_converts_offline_with_flatten_folded(tmp_path: Path) -> None:
    model = _rgb_cnn(tmp_path)
    xs = np.random.default_rng(3).random((4, 10, 12, 3), dtype=np.float32)
    want = onnx_source.onnxruntime_outputs(model, xs)
    cache = tmp_path / "cache"
    stale, other = cache / "rgb.0123456789abcdef.savedmodel", cache / "rgb.v2.0123456789abcdef.savedmodel"
    stale.mkdir(parents=True)
    other.mkdir()
    saved = onnx_source.to_saved_model(model, cache)
    # An older result for rgb.onnx is removed; rgb.v2.onnx's is not ours to remove.
    assert sorted(p.name for p in cache.iterdir()) == sorted([saved.name, other.name])
    assert _input_specs(saved) == [((1, 10, 12, 3), "float32")]
    ops, got = _tflite_ops_and_outputs(saved, xs)
    assert ops <= CNN_OPS, f"unexpected operators {ops - CNN_OPS}"
    np.testing.assert_allclose(got, want, atol=1e-4 * max(1.0, float(np.abs(want).max())))


def test_flatten_rewrite_keeps_outputs(tmp_path: Path) -> None:
    import onnx

    path = _rgb_cnn(tmp_path)
    model = onnx.load(str(path))
    assert onnx_source.fold_flatten_transposes(model) == 1
    assert [n.op_type for n in model.graph.node] == ["Conv", "Relu", "Transpose", "Flatten", "Gemm"]
    rewritten = tmp_path / "rewritten.onnx"
    onnx.save(model, str(rewritten))
    xs = np.random.default_rng(5).random((3, 10, 12, 3), dtype=np.float32)
    np.testing.assert_allclose(onnx_source.onnxruntime_outputs(rewritten, xs),
                               onnx_source.onnxruntime_outputs(path, xs), atol=1e-5)


@pytest.mark.slow  # a real onnx2tf conversion: seconds
def test_converter_failure_quotes_its_error(tmp_path: Path) -> None:
    from onnx import helper

    node = helper.make_node("Frobnicate", ["x"], ["y"], domain="com.example")
    path = _save(tmp_path, "custom.onnx", [node], [_value("x", [1, 1, 8, 8])], [_value("y", [1, 1, 8, 8])],
                 domains=("com.example",))
    with pytest.raises(KilnError, match=r"converting .*custom.onnx with onnx2tf failed: .*Frobnicate"):
        onnx_source.to_saved_model(path, tmp_path / "cache")
    assert not any((tmp_path / "cache").iterdir())


@pytest.mark.parametrize("keep", [0, 1, 100, 0.5, -1])
def test_truncated_onnx_is_reported_corrupt(tmp_path: Path, keep: float) -> None:
    data = TORCH_MODEL.read_bytes()
    cut = int(len(data) * keep) if isinstance(keep, float) else (keep if keep >= 0 else len(data) + keep)
    bad = tmp_path / "model.onnx"
    bad.write_bytes(data[:cut])
    with pytest.raises(KilnError, match="corrupt"):
        onnx_source.onnx_input_layout(bad)
    with pytest.raises(KilnError, match="corrupt"):
        onnx_source.to_saved_model(bad, tmp_path / "cache")
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(KilnError, match="not found"):
        onnx_source.to_saved_model(tmp_path / "absent.onnx", tmp_path)


def test_dynamic_batch_asks_for_batch_1(tmp_path: Path) -> None:
    from onnx import helper

    path = _save(tmp_path, "dyn.onnx", [helper.make_node("Relu", ["x"], ["y"])],
                 [_value("x", ["batch", 1, 28, 28])], [_value("y", ["batch", 1, 28, 28])])
    with pytest.raises(KilnError, match="dynamic.*fix it to 1"):
        onnx_source.to_saved_model(path, tmp_path)


def test_two_inputs_are_refused(tmp_path: Path) -> None:
    from onnx import helper

    path = _save(tmp_path, "two.onnx", [helper.make_node("Add", ["a", "b"], ["y"])],
                 [_value("a", [1, 4]), _value("b", [1, 4])], [_value("y", [1, 4])])
    with pytest.raises(KilnError, match="only one input is supported for now"):
        onnx_source.onnx_input_layout(path)


def test_missing_package_names_setup() -> None:
    with pytest.raises(KilnError, match=r"toolchain/setup"):
        onnx_source._require("kiln_no_such_package")


@pytest.mark.parametrize("shape, layout", [
    ((1, 1, 28, 28), "NCHW"), ((1, 3, 32, 32), "NCHW"), ((1, 28, 28, 1), "NHWC"),
    ((1, 32, 32, 3), "NHWC"), ((1, 16, 7, 7), "NCHW"), ((1, 7, 7, 64), "NHWC"),
    ((1, 10), "NC"), ((1, 8, 50), "NWC"),
])
def test_layout_guess(shape: tuple[int, ...], layout: str) -> None:
    assert onnx_source._guess_layout(shape) == layout


def test_onnxruntime_outputs_batch_and_shape_check(tmp_path: Path) -> None:
    from onnx import helper

    path = _save(tmp_path, "relu.onnx", [helper.make_node("Relu", ["x"], ["y"])],
                 [_value("x", [1, 2, 4, 4])], [_value("y", [1, 2, 4, 4])])
    xs = np.random.default_rng(1).normal(size=(3, 4, 4, 2)).astype(np.float32)
    got = onnx_source.onnxruntime_outputs(path, xs)
    np.testing.assert_array_equal(got, np.maximum(xs, 0).transpose(0, 3, 1, 2))
    with pytest.raises(KilnError, match="do not fit"):
        onnx_source.onnxruntime_outputs(path, xs.transpose(0, 3, 1, 2))
