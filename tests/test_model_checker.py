"""Corrupt and hostile .tflite files: each is refused with one clear line that
says "corrupt" or "invalid", names the file and the part at fault, and never
"unsupported"; nothing is written. The files are the project's trained
fashion model edited field by field with TFLite's own schema bindings."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from fuzz import mutate
from kiln import codegen
from kiln.errors import KilnError
from support import ROOT, run_scons

FASHION = ROOT / "tests" / "fixtures" / "fc_double_product" / "model.tflite"


def _edited(edit: Callable[[object, object], None]) -> bytes:
    model = copy.deepcopy(mutate.schema().ModelT.InitFromPackedBuf(FASHION.read_bytes(), 0))
    edit(model, model.subgraphs[0])
    return mutate.pack(model)


def _tensor(g: object, name_part: str) -> object:
    return next(t for t in g.tensors if name_part in t.name.decode())


def _op(g: object, m: object, builtin: int) -> object:
    return next(o for o in g.operators if m.operatorCodes[o.opcodeIndex].builtinCode == builtin)


def _set_shape(part: str, shape: list[int]) -> Callable[[object, object], None]:
    def edit(m: object, g: object) -> None:
        _tensor(g, part).shape = np.array(shape, np.int32)
    return edit


def _conv_output_channels(m: object, g: object) -> None:
    g.tensors[_op(g, m, 3).outputs[0]].shape = np.array([1, 26, 26, 3000], np.int32)


def _cut_conv_weights(m: object, g: object) -> None:
    w = g.tensors[_op(g, m, 3).inputs[1]]  # CONV_2D's filter
    m.buffers[w.buffer].data = m.buffers[w.buffer].data[:1]


def _graph_input(value: int) -> Callable[[object, object], None]:
    def edit(m: object, g: object) -> None:
        g.inputs = np.array([value], np.int32)
    return edit


def _conv_option(field: str, value: int) -> Callable[[object, object], None]:
    def edit(m: object, g: object) -> None:
        setattr(_op(g, m, 3).builtinOptions, field, value)
    return edit


def _pool_options_type(m: object, g: object) -> None:
    _op(g, m, 17).builtinOptionsType = 1  # MAX_POOL_2D carrying Conv2DOptions


def _opcode_out_of_range(m: object, g: object) -> None:
    g.operators[0].opcodeIndex = 4000


def _swap_first_ops(m: object, g: object) -> None:
    g.operators[0], g.operators[1] = g.operators[1], g.operators[0]


def _scale(value: float) -> Callable[[object, object], None]:
    def edit(m: object, g: object) -> None:
        q = g.tensors[g.inputs[0]].quantization
        q.scale = np.array([value], np.float32)
    return edit


def _zero_point(m: object, g: object) -> None:
    g.tensors[g.inputs[0]].quantization.zeroPoint = np.array([300], np.int64)


def _per_channel_count(m: object, g: object) -> None:
    q = g.tensors[_op(g, m, 3).inputs[1]].quantization
    q.scale = np.array(list(q.scale)[:5], np.float32)
    q.zeroPoint = np.array(list(q.zeroPoint)[:5], np.int64)


def _input_is_constant(m: object, g: object) -> None:
    g.inputs = np.array([_op(g, m, 3).inputs[1]], np.int32)  # the conv filter


@pytest.mark.parametrize("edit, expected", [
    (_cut_conv_weights, "has 1 int8 values; shape [12, 3, 3, 1] needs 108"),
    (_graph_input(-1), "graph input -1: no such tensor"),
    (_graph_input(5000), "graph input 5000: no such tensor"),
    (_input_is_constant, "it is a constant"),
    (_conv_option("strideW", 0), "stride 1x0 must be at least 1"),
    (_pool_options_type, "its options table is Conv2DOptions, not Pool2DOptions"),
    (_swap_first_ops, "is not computed before it"),
    (_set_shape("MaxPool", [1, 100000, 100000, 12]), "dimension 100000"),
    (_set_shape("Reshape", [1, 13, 13, -2]), "dimension -2"),
    (_set_shape("MaxPool", [1, 13, 14, 12]), "does not follow from input"),
    (_conv_output_channels, "does not match input"),
    (_scale(float("nan")), "scale nan is not a finite positive number"),
    (_scale(0.0), "scale 0.0 is not a finite positive number"),
    (_zero_point, "zero point 300 is outside int8's -128..127"),
    (_per_channel_count, "5 per-channel scales for 12 channels"),
], ids=lambda v: getattr(v, "__name__", "") if callable(v) else None)
def test_invalid_model_is_named_invalid(edit, expected: str, tmp_path: Path) -> None:
    path = tmp_path / "edited.tflite"
    path.write_bytes(_edited(edit))
    with pytest.raises(KilnError) as err:
        codegen.generate(path, tmp_path / "gen")
    msg = str(err.value)
    assert "'edited.tflite' is invalid: " in msg and expected in msg, msg
    assert "unsupported" not in msg and "\n" not in msg
    assert not (tmp_path / "gen").exists()  # nothing half-written


@pytest.mark.parametrize("cut", [8, 100, 4000, 20000])
def test_truncated_file_is_named_corrupt(cut: int, tmp_path: Path) -> None:
    path = tmp_path / "cut.tflite"
    path.write_bytes(FASHION.read_bytes()[:cut])
    with pytest.raises(KilnError, match=r"'cut.tflite' is truncated or corrupt at .*download it again"):
        codegen.compile_model(path)


def test_opcode_out_of_range_is_named_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "op.tflite"
    path.write_bytes(_edited(_opcode_out_of_range))
    with pytest.raises(KilnError, match=r"truncated or corrupt at operator 0 \(operator code 4000 of 4\)"):
        codegen.compile_model(path)


def test_corrupt_model_under_scons_is_one_line_without_traceback(tmp_path: Path) -> None:
    path = tmp_path / "cut.tflite"
    path.write_bytes(FASHION.read_bytes()[:20000])
    proc = run_scons("check-host", f"TFLITE={path}", "COUNT=2", check=False)
    assert proc.returncode != 0
    assert "'cut.tflite' is truncated or corrupt at" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
