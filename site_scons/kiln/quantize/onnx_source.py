"""ONNX models (exported from PyTorch) as TensorFlow SavedModels with NHWC input.

Kiln's quantization recipes start from TensorFlow. An ONNX file becomes a
SavedModel through onnx2tf (a maintained converter from PyPI, pinned in
toolchain/requirements.txt), which rewrites the NCHW graph PyTorch exports
into channels-last TensorFlow ops, so the SavedModel takes NHWC input and the
TFLite converter emits no TRANSPOSE around convolutions. See docs/compiler.md,
"ONNX models", for why onnx2tf and what is checked.

Before conversion the model is simplified (onnxsim: constant folding, shape
inference) and one ONNX-to-ONNX rewrite is applied, checked against
onnxruntime: a flatten of an NCHW activation feeding a dense layer (PyTorch's
`torch.flatten(x, 1)` then `nn.Linear`) flattens in NHWC order instead, with
the dense layer's weight rows permuted to match. onnx2tf alone keeps a
TRANSPOSE before every such flatten.

The converter runs in a subprocess (this module's `__main__`): its own
output is shown only when it fails, and TensorFlow is never imported into
the caller by this module. Module import stays cheap: onnx, onnxruntime and
TensorFlow are imported inside functions.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from kiln.errors import KilnError

#: The converter, named in messages.
CONVERTER = "onnx2tf"
#: What to run when a Python package is missing.
_FIX_SETUP = "run ./toolchain/setup to install Kiln's pinned Python requirements"
#: What to do about a file that is not an ONNX model.
_FIX_EXPORT = "export it again with torch.onnx.export, or copy it again"
#: Packages this module needs at conversion time (import name, distribution name).
_PACKAGES = (("onnx", "onnx"), ("onnxruntime", "onnxruntime"), ("onnxsim", "onnxsim"),
             ("onnx2tf", "onnx2tf"))
#: The line the conversion subprocess prints last: the SavedModel's serving inputs as JSON.
_SIGNATURE_MARK = "KILN-SAVEDMODEL-INPUTS "
#: The SavedModel signature every consumer uses.
SIGNATURE = "serving_default"
#: Lines of converter output quoted in a failure message.
_TAIL_LINES = 6


@dataclass(frozen=True)
class OnnxInput:
    """The single input of an ONNX model: its name, ONNX shape, layout and NHWC shape."""

    name: str
    shape: tuple[int, ...]
    layout: str
    nhwc_shape: tuple[int, ...]


# --- reading and checking the .onnx file -------------------------------------------------------


def _require(module: str) -> None:
    """Raise a KilnError naming the fix when the Python package `module` is not installed."""
    if importlib.util.find_spec(module) is None:
        raise KilnError(f"the Python package '{module}' that ONNX models need is not installed in "
                        f"{sys.prefix}: {_FIX_SETUP}")


def _load(onnx_path: Path) -> Any:
    """The checked onnx.ModelProto in `onnx_path`; KilnError when missing, corrupt or invalid."""
    _require("onnx")
    import onnx

    path = Path(onnx_path)
    if not path.is_file():
        raise KilnError(f"ONNX model '{path}' not found: check the [model] file in net.toml, "
                        "or export the model with torch.onnx.export")
    data = path.read_bytes()
    try:
        model = onnx.load_model_from_string(data)
    except Exception as exc:  # protobuf's DecodeError and friends
        raise KilnError(f"'{path}' is truncated or corrupt: it does not read as an ONNX model "
                        f"({type(exc).__name__}: {exc}); {_FIX_EXPORT}") from exc
    if not data or not model.graph.node or not model.graph.output:
        raise KilnError(f"'{path}' is truncated or corrupt: it holds no ONNX graph; {_FIX_EXPORT}")
    try:
        onnx.checker.check_model(model)
    except Exception as exc:  # onnx.checker.ValidationError, or a protobuf error
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise KilnError(f"'{path}' is truncated or corrupt: the ONNX checker rejects it ({first}); "
                        f"{_FIX_EXPORT}") from exc
    return model


def _graph_inputs(model: Any) -> list[Any]:
    """The graph inputs that are not initializers (old exporters list weights as inputs too)."""
    weights = {init.name for init in model.graph.initializer}
    return [vi for vi in model.graph.input if vi.name not in weights]


def _dims(value_info: Any) -> list[int | str]:
    """The dimensions of a tensor ValueInfo: ints, or the symbolic name ('?' when unnamed)."""
    dims: list[int | str] = []
    for d in value_info.type.tensor_type.shape.dim:
        if d.HasField("dim_value") and d.dim_value > 0:
            dims.append(int(d.dim_value))
        else:
            dims.append(d.dim_param or "?")
    return dims


def _guess_layout(shape: tuple[int, ...]) -> str:
    """'NCHW' or 'NHWC' for a 4-D image shape; other ranks are named by their rank."""
    if len(shape) != 4:
        return {1: "N", 2: "NC", 3: "NWC"}.get(len(shape), f"{len(shape)}-D")
    _, d1, d2, d3 = shape
    # Channels are few next to the spatial dims: 1 (gray), 3 (RGB), 4 (RGBA), or a small count.
    if d1 <= 4 and min(d2, d3) > d1:
        return "NCHW"
    if d3 <= 4 and min(d1, d2) > d3:
        return "NHWC"
    # Neither side is clearly channels: PyTorch's own convention is NCHW, unless dim 1
    # is clearly larger than the last (a 7x7x64 feature map stored channels-last).
    return "NHWC" if d3 > d1 and d1 == d2 else "NCHW"


def inspect_input(onnx_path: Path) -> OnnxInput:
    """The single input of the ONNX model in `onnx_path`, checked.

    Raises KilnError for a missing or corrupt file, more than one input (or
    output), a dynamic dimension, or an input that is not float32.
    """
    return _inspect(_load(onnx_path), Path(onnx_path))


def _inspect(model: Any, path: Path) -> OnnxInput:
    """The single checked input of `model` (read from `path`, named in errors)."""
    import onnx

    inputs = _graph_inputs(model)
    if len(inputs) != 1:
        names = ", ".join(vi.name for vi in inputs) or "none"
        raise KilnError(f"'{path}' has {len(inputs)} inputs ({names}): only one input is supported for "
                        "now; export a model that takes a single image tensor")
    if len(model.graph.output) != 1:
        names = ", ".join(vi.name for vi in model.graph.output)
        raise KilnError(f"'{path}' has {len(model.graph.output)} outputs ({names}): only one output is "
                        "supported for now; export a model that returns a single tensor")
    vi = inputs[0]
    elem = vi.type.tensor_type.elem_type
    if elem != onnx.TensorProto.FLOAT:
        raise KilnError(f"'{path}': input '{vi.name}' is {onnx.TensorProto.DataType.Name(elem)}, "
                        "not FLOAT: export the model with a float32 input")
    dims = _dims(vi)
    if not dims:
        raise KilnError(f"'{path}': input '{vi.name}' has no shape: export the model with a fixed "
                        "input shape (batch 1)")
    if not isinstance(dims[0], int) or dims[0] != 1:
        raise KilnError(f"'{path}': input '{vi.name}' has a dynamic or non-1 batch dimension "
                        f"({dims[0]!r} in {dims}): fix it to 1, i.e. export with a (1, ...) example "
                        "input and no dynamic_axes / dynamic_shapes in torch.onnx.export")
    if any(not isinstance(d, int) for d in dims):
        raise KilnError(f"'{path}': input '{vi.name}' has dynamic dimensions {dims}: export the model "
                        "with a fixed input shape (no dynamic_axes / dynamic_shapes)")
    shape = tuple(int(d) for d in dims)
    layout = _guess_layout(shape)
    nhwc = (shape[0], shape[2], shape[3], shape[1]) if layout == "NCHW" else shape
    return OnnxInput(vi.name, shape, layout, nhwc)


def onnx_input_layout(onnx_path: Path) -> str:
    """The layout of the ONNX model's input: 'NCHW' or 'NHWC' for 4-D inputs.

    A 4-D input whose dim 1 is small (1, 3, 4) next to dims 2 and 3 is NCHW
    (PyTorch's convention, also the answer when the shape does not tell); one
    whose last dim is the small one is NHWC. 2-D and 3-D inputs are returned
    as they are: 'NC' and 'NWC'.
    """
    return inspect_input(onnx_path).layout


# --- onnxruntime reference -----------------------------------------------------------------------


def _session(model: Any) -> Any:
    """An onnxruntime CPU session for the onnx.ModelProto `model`, logging errors only."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    return ort.InferenceSession(model.SerializeToString(), sess_options=opts,
                                providers=["CPUExecutionProvider"])


def onnxruntime_outputs(onnx_path: Path, x_nhwc: np.ndarray) -> np.ndarray:
    """The ONNX model's output for float32 samples `x_nhwc` (N, ...) given channels-last.

    Samples are transposed to the model's own layout (NCHW for a PyTorch
    image model) and run in onnxruntime on the CPU, `batch` samples per run
    where the model's batch is fixed (1 for every model Kiln accepts).
    Returns the outputs stacked as (N, ...) float32.
    """
    model = _load(onnx_path)
    info = _inspect(model, Path(onnx_path))
    _require("onnxruntime")
    x = np.asarray(x_nhwc, dtype=np.float32)
    if x.shape[1:] != info.nhwc_shape[1:]:
        raise KilnError(f"samples of shape {x.shape[1:]} do not fit '{onnx_path}', whose input is "
                        f"{info.nhwc_shape[1:]} channels-last: pass (N, *{info.nhwc_shape[1:]}) samples")
    if info.layout == "NCHW":
        x = x.transpose(0, 3, 1, 2)
    try:
        session = _session(model)
    except Exception as exc:  # onnxruntime's own errors (an operator it lacks, say)
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise KilnError(f"onnxruntime cannot run '{onnx_path}' ({first}): export the model with "
                        "operators from the standard ONNX domain") from exc
    batch = info.shape[0]
    outs = [session.run(None, {info.name: x[i:i + batch]})[0] for i in range(0, len(x), batch)]
    if not outs:
        return np.zeros((0,), np.float32)
    return np.concatenate(outs).astype(np.float32)


# --- preparing the graph for onnx2tf -----------------------------------------------------------


def _simplify(model: Any) -> Any:
    """`model` after onnxsim (constant folding, shape inference), or as it is when that fails."""
    import onnxsim

    try:
        simple, ok = onnxsim.simplify(model)
    except Exception:  # the converter copes with unsimplified graphs; this is an optimization
        return model
    return simple if ok else model


def _shapes(model: Any) -> dict[str, list[int | str]]:
    """Every tensor's shape after ONNX shape inference, by name."""
    import onnx

    inferred = onnx.shape_inference.infer_shapes(model)
    g = inferred.graph
    shapes = {vi.name: _dims(vi) for vi in [*g.value_info, *g.input, *g.output]}
    for init in g.initializer:
        shapes[init.name] = list(init.dims)
    return shapes


def _flatten_source(node: Any, shapes: dict[str, list[int | str]]) -> tuple[int, int, int] | None:
    """(C, H, W) when `node` flattens an (N, C, H, W) tensor to (N, C*H*W), else None."""
    if node.op_type not in ("Flatten", "Reshape"):
        return None
    src, dst = shapes.get(node.input[0]), shapes.get(node.output[0])
    if not src or not dst or len(src) != 4 or len(dst) != 2:
        return None
    if not all(isinstance(d, int) for d in [*src, *dst]):
        return None
    n, c, h, w = src
    if dst != [n, c * h * w]:
        return None
    if node.op_type == "Flatten" and next((a.i for a in node.attribute if a.name == "axis"), 1) != 1:
        return None
    return c, h, w


def _attr(node: Any, name: str, default: int) -> int:
    """The int attribute `name` of `node`, or `default`."""
    return next((a.i for a in node.attribute if a.name == name), default)


def fold_flatten_transposes(model: Any) -> int:
    """Make flattens that feed a dense layer flatten in NHWC order; returns how many were changed.

    For each Flatten/Reshape (N, C, H, W) -> (N, C*H*W) whose only consumer is
    a Gemm (transA=0) or MatMul with a constant weight used nowhere else, a
    Transpose(0, 2, 3, 1) goes before the flatten and the weight's C*H*W axis
    is permuted from (C, H, W) to (H, W, C) order: the model computes the
    same values (onnxruntime agrees). onnx2tf keeps activations NHWC, so the
    new transpose cancels against the one it would add before the flatten.
    `model` (an onnx.ModelProto) is changed in place.
    """
    from onnx import helper, numpy_helper

    g = model.graph
    shapes = _shapes(model)
    weights = {init.name: init for init in g.initializer}
    uses: dict[str, int] = {}
    for node in g.node:
        for name in node.input:
            uses[name] = uses.get(name, 0) + 1
    for name in (vi.name for vi in g.output):
        uses[name] = uses.get(name, 0) + 1
    changed = 0
    for node in list(g.node):
        chw = _flatten_source(node, shapes)
        if chw is None or uses.get(node.output[0]) != 1:
            continue
        consumer = next((n for n in g.node if node.output[0] in n.input), None)
        if consumer is None or consumer.op_type not in ("Gemm", "MatMul"):
            continue
        if consumer.input[0] != node.output[0]:
            continue
        if consumer.op_type == "Gemm" and _attr(consumer, "transA", 0):
            continue
        wname = consumer.input[1]
        if wname not in weights or uses.get(wname) != 1:
            continue
        c, h, w = chw
        wt = numpy_helper.to_array(weights[wname])
        trans_b = consumer.op_type == "Gemm" and _attr(consumer, "transB", 0)
        k_axis = 1 if trans_b else 0
        if wt.ndim != 2 or wt.shape[k_axis] != c * h * w:
            continue
        moved = np.moveaxis(wt, k_axis, 0).reshape(c, h, w, -1).transpose(1, 2, 0, 3).reshape(c * h * w, -1)
        new_w = np.ascontiguousarray(np.moveaxis(moved, 0, k_axis)).astype(wt.dtype)
        weights[wname].CopyFrom(numpy_helper.from_array(new_w, wname))
        nhwc = f"{node.input[0]}__kiln_nhwc"
        transpose = helper.make_node("Transpose", [node.input[0]], [nhwc], perm=[0, 2, 3, 1],
                                     name=f"{node.name or node.output[0]}__kiln_nhwc")
        node.input[0] = nhwc
        g.node.insert(list(g.node).index(node), transpose)
        changed += 1
    return changed


def _prepare(model: Any, path: Path) -> Any:
    """`model` simplified and with flatten transposes folded, checked against the original.

    Returns the original model when the rewrite changes the outputs (it should
    not: this is a guard).
    """
    import onnx

    simple = _simplify(model)
    prepared = onnx.ModelProto()
    prepared.CopyFrom(simple)
    info = _inspect(model, path)
    x = np.random.default_rng(0).random(info.shape, dtype=np.float32)
    try:
        if not fold_flatten_transposes(prepared):
            return simple
        onnx.checker.check_model(prepared)
        want, got = (_session(m).run(None, {info.name: x})[0] for m in (model, prepared))
    except Exception:  # shape inference or onnxruntime cannot handle the model: convert it as it is
        return simple
    tol = 1e-4 * max(1.0, float(np.abs(want).max()))
    return prepared if np.abs(want - got).max() <= tol else simple


# --- conversion ----------------------------------------------------------------------------------


def _versions() -> str:
    """The installed versions of the conversion packages, for the cache key and messages."""
    return " ".join(f"{dist}=={metadata.version(dist)}" for _, dist in _PACKAGES)


def _cache_key(data: bytes) -> str:
    """Hash of the .onnx bytes, the converter versions and this module's source."""
    h = hashlib.sha256(data)
    h.update(_versions().encode())
    h.update(Path(__file__).read_bytes())
    return h.hexdigest()[:16]


def _meaningful_tail(text: str, lines: int = _TAIL_LINES) -> str:
    """What converter output says about a failure, on one line.

    onnx2tf's own ERROR lines and the exception that ended the run (the last
    line of a Python traceback); without either, the last `lines` lines.
    Colour codes and TensorFlow's start-up log lines are dropped.
    """
    noise = re.compile(r"^(WARNING: All log messages before absl|[IWE]\d{4} |\s*$|"
                       r"To enable the following instructions|Could not find cuda)")
    plain = [re.sub(r"\x1b\[[0-9;]*m", "", ln).rstrip() for ln in text.splitlines()]
    kept = [ln for ln in plain if not noise.match(ln)]
    picked = [ln for ln in kept if ln.startswith("ERROR:")][-lines + 1:]
    if "Traceback (most recent call last):" in kept:
        after = kept[len(kept) - 1 - kept[::-1].index("Traceback (most recent call last):"):]
        raised = [ln for ln in after if ln[:1] not in (" ", "\t") and ln != after[0]]
        if raised and raised[-1] not in picked:
            picked.append(raised[-1])
    picked = picked or kept[-lines:]
    return " | ".join(ln.strip() for ln in picked) or "(no output)"


#: The sample images onnx2tf checks each converted op with, for 4-D 3-channel inputs. It
#: reads them from this file in its working directory, else downloads them (from the network,
#: which builds do not have): Kiln writes seeded images of the same shape there instead.
_ONNX2TF_SAMPLES = ("calibration_image_sample_data_20x128x128x3_float32.npy", (20, 128, 128, 3))


def _write_sample_images(work_dir: Path) -> None:
    """Write onnx2tf's sample-image file into `work_dir` (seeded uniform [0, 1) float32 images)."""
    name, shape = _ONNX2TF_SAMPLES
    np.save(work_dir / name, np.random.default_rng(0).random(shape, dtype=np.float32))


def _run_converter(onnx_file: Path, out_dir: Path, info: OnnxInput, source: Path) -> dict[str, Any]:
    """Run onnx2tf in a subprocess on `onnx_file`, writing a SavedModel to `out_dir`.

    Returns the SavedModel's serving inputs ({name: {"shape", "dtype"}});
    raises KilnError quoting the converter's last lines when it fails.
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).resolve().parents[2]),
                                         *filter(None, [env.get("PYTHONPATH")])])
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.setdefault("CUDA_VISIBLE_DEVICES", "")
    if len(info.nhwc_shape) == 4:
        _write_sample_images(out_dir.parent)
    cmd = [sys.executable, "-m", "kiln.quantize.onnx_source", str(onnx_file), str(out_dir), info.layout,
           info.name]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=out_dir.parent)
    marks = [ln for ln in proc.stdout.splitlines() if ln.startswith(_SIGNATURE_MARK)]
    if proc.returncode or not marks:
        tail = _meaningful_tail(proc.stdout + "\n" + proc.stderr)
        raise KilnError(f"converting {source} with {CONVERTER} failed: {tail}; check that the model "
                        f"runs in onnxruntime and uses operators {CONVERTER} supports, or simplify it "
                        f"before export ({_versions()})")
    return json.loads(marks[-1][len(_SIGNATURE_MARK):])


def _check_signature(inputs: dict[str, Any], info: OnnxInput, source: Path) -> None:
    """KilnError unless the SavedModel takes one float32 input of the expected NHWC shape."""
    got = [(tuple(spec["shape"]), spec["dtype"]) for spec in inputs.values()]
    if got != [(info.nhwc_shape, "float32")]:
        raise KilnError(f"converting {source} with {CONVERTER} gave a SavedModel whose serving inputs "
                        f"are {got}, not one float32 {info.nhwc_shape}: please report it with the model")


def to_saved_model(onnx_path: Path, cache_dir: Path) -> Path:
    """Convert the ONNX model in `onnx_path` to a TensorFlow SavedModel under `cache_dir`.

    The SavedModel's 'serving_default' signature takes one float32 NHWC input
    of batch 1 (the ONNX input's layout, NCHW for PyTorch, is folded into the
    graph). A previous result is reused while the .onnx content, the
    converter versions and this module are unchanged. The result is written
    to a temporary directory and renamed into place, so an interrupted run
    leaves no half-written SavedModel. Returns the SavedModel directory.
    """
    path = Path(onnx_path)
    model = _load(path)
    info = _inspect(model, path)
    for module, _ in _PACKAGES:
        _require(module)
    cache_dir = Path(cache_dir).resolve()  # the converter runs in a working directory of its own
    key = _cache_key(path.read_bytes())
    stem = re.sub(r"[^\w.-]", "_", path.stem)
    final = cache_dir / f"{stem}.{key}.savedmodel"
    if (final / "saved_model.pb").is_file():
        return final
    cache_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{stem}.", suffix=".tmp", dir=cache_dir))
    try:
        prepared = work / "prepared.onnx"
        prepared.write_bytes(_prepare(model, path).SerializeToString())
        out = work / "savedmodel"
        _check_signature(_run_converter(prepared, out, info, path), info, path)
        try:
            out.rename(final)
        except OSError:
            if not (final / "saved_model.pb").is_file():  # not a concurrent run's finished result
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    # Results for earlier contents of the same file are stale.
    ours = re.compile(rf"{re.escape(stem)}\.[0-9a-f]{{{len(key)}}}\.savedmodel")
    for old in cache_dir.iterdir():
        if old != final and ours.fullmatch(old.name):
            shutil.rmtree(old, ignore_errors=True)
    return final


# --- the conversion subprocess ------------------------------------------------------------------


def _convert_in_subprocess(onnx_file: str, out_dir: str, layout: str, input_name: str) -> None:
    """Run onnx2tf on `onnx_file` into `out_dir` and print the SavedModel's serving inputs.

    Runs in the subprocess that to_saved_model starts, so onnx2tf's output and
    TensorFlow stay out of the caller.
    """
    import onnx2tf

    onnx2tf.convert(
        input_onnx_file_path=onnx_file,
        output_folder_path=out_dir,
        output_signaturedefs=True,
        not_use_onnxsim=True,  # _prepare simplified the model already
        # NCHW (PyTorch) inputs become NHWC; channels-last and 2-D/3-D inputs keep their shape.
        keep_nwc_or_nhwc_or_ndhwc_input_names=[input_name] if layout == "NHWC" else None,
        keep_shape_absolutely_input_names=[input_name] if layout not in ("NCHW", "NHWC") else None,
        verbosity="error",
    )
    # onnx2tf also writes its own .tflite files: Kiln makes its variants itself.
    for extra in Path(out_dir).glob("*.tflite"):
        extra.unlink()
    import tensorflow as tf

    loaded = tf.saved_model.load(out_dir)
    spec = loaded.signatures[SIGNATURE].structured_input_signature[1]
    inputs = {name: {"shape": list(s.shape), "dtype": s.dtype.name} for name, s in spec.items()}
    print(_SIGNATURE_MARK + json.dumps(inputs), flush=True)


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit("usage: python -m kiln.quantize.onnx_source MODEL.onnx OUT_DIR LAYOUT INPUT_NAME "
                 "(run by kiln.quantize.onnx_source.to_saved_model)")
    _convert_in_subprocess(*sys.argv[1:])
