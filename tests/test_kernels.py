"""Every registered kernel, layer by layer, against the oracle.

Tiny Keras models are converted with the real TFLite converter (full int8,
float32, int8 with float edges, dynamic-range "hybrid"), read with Kiln's own
reader (kiln.tflite_reader) and compiled by the real generator
(kiln.codegen.build_layers) once per kernel set of the registry. The layers'
generated C (parameter structs, constants, calls) is compiled for the host
with `cc` together with the runtime, and each layer is run from the oracle's
own input tensors (tflite-micro with every tensor preserved; TensorFlow's
reference interpreter for hybrid models, which tflite-micro does not run).
int8 and hybrid outputs must be identical, float outputs within 1e-5
relative.

Nothing here lists operators or kernels: they come from the registry
(kiln.codegen.registry.entries), and a test checks that the models and the
one-layer graphs below reach every registered kernel. Adding an operator is
a kernel source plus one registry entry (docs/adding-an-operator.md); if no
model reaches it, that test says which.

A few properties the converted models cannot reach (MEAN with equal input
and output parameters, int8 -> int8 requantize, concat with requantization,
the fixed-point helpers of kiln/quant.h) are checked on one-layer graphs
built in the IR against Python transcriptions of the TFLite arithmetic.
"""

from __future__ import annotations

import concurrent.futures
import ctypes
import math
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from kiln import hostcheck
from kiln import quantmath as qm
from kiln.codegen import build_layers
from kiln.codegen.registry import KERNEL_SETS, entries, select
from kiln.ir import Graph, Operator, Tensor, is_hybrid
from kiln.tflite_reader import read_tflite
from support import ROOT, have

RUNTIME = ROOT / "firmware" / "runtime"
HARNESS = ROOT / "tests" / "c" / "kernel_harness.c"
WARN = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic"]
SAMPLES = 4  # random inputs per model


# --------------------------------------------------------------------------
# Generated layers as a host library


class Generated:
    """A graph compiled by the generator into a host library with one entry per layer.

    kh_step(k) runs layer k on the statically planned arena (kh_arena()); the
    caller writes a layer's inputs at their planned offsets first."""

    def __init__(self, graph: Graph, kernels: str, workdir: Path) -> None:
        self.graph, self.kernels = graph, kernels
        #: The .tflite's own tensors; kernels' scratch tensors are added after them.
        self.file_tensors = len(graph.tensors)
        self.plan, consts, self.layers = build_layers(graph, kernels)
        self.impls = [select(graph, op, kernels) for op in graph.ops]
        steps = "\n".join(f"    case {k}: {la.call} break;" for k, la in enumerate(self.layers))
        decls = "\n".join(d for la in self.layers for d in la.decls)
        text = "\n".join([
            "#include <float.h>", "#include <stddef.h>", "#include <stdint.h>",
            '#include "kiln/kernels.h"', *consts.decls,
            f"static uint8_t kiln_arena[{self.plan.arena_bytes}] __attribute__((aligned(8)));",
            decls,
            "uint8_t *kh_arena(void);", "void kh_step(int step);",
            "uint8_t *kh_arena(void) { return kiln_arena; }",
            "void kh_step(int step)\n{\n    switch (step) {", steps, "    default: break;\n    }\n}", ""])
        workdir.mkdir(parents=True, exist_ok=True)
        src, lib = workdir / "layers.c", workdir / "layers.so"
        src.write_text(text)
        cmd = [*hostcheck.host_cc().split(), "-std=c99", "-O1", "-Wall", "-Wextra", "-Werror", "-shared",
               "-fPIC", f"-I{RUNTIME / 'include'}", str(src),
               *map(str, hostcheck.runtime_objects(kernels)), "-o", str(lib)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        assert proc.returncode == 0, f"generated layers do not compile:\n{proc.stderr[-4000:]}"
        self.lib = ctypes.CDLL(str(lib))
        self.lib.kh_arena.restype = ctypes.POINTER(ctypes.c_uint8)
        self.lib.kh_step.argtypes = [ctypes.c_int]
        base = self.lib.kh_arena()
        self.arena = np.ctypeslib.as_array(base, shape=(max(self.plan.arena_bytes, 1),))

    def write(self, tensor: int, value: np.ndarray) -> None:
        """Put a tensor's value at its planned arena offset."""
        raw = np.ascontiguousarray(value).view(np.uint8).ravel()
        off = self.plan.offset(tensor)
        self.arena[off:off + raw.size] = raw

    def read(self, tensor: int) -> np.ndarray:
        """A tensor's value from the arena (a copy)."""
        t = self.graph.tensors[tensor]
        dtype = np.dtype(t.dtype)  # int8, uint8, int32, float32: numpy names them alike
        off = self.plan.offset(tensor)
        return self.arena[off:off + t.nbytes].copy().view(dtype).reshape(t.shape)

    def run(self, step: int, values: dict[int, np.ndarray], skip: frozenset[int] = frozenset()) -> None:
        """Layer `step` from `values` (its activation inputs, by tensor index; `skip` left as is)."""
        op = self.graph.ops[step]
        for t in op.inputs:
            if t >= 0 and not self.graph.tensors[t].is_const and t not in skip:
                self.write(t, values[t])
        self.lib.kh_step(step)


# --------------------------------------------------------------------------
# Python transcription of the reference requantization (double rounding),
# for the paths the converted models do not reach.


def ref_sat_rdhm(a: int, b: int) -> int:
    if a == b == -(1 << 31):
        return (1 << 31) - 1
    ab = a * b
    nudge = (1 << 30) if ab >= 0 else 1 - (1 << 30)
    v = ab + nudge
    return int(v / (1 << 31)) if abs(v) < (1 << 52) else (abs(v) >> 31) * (1 if v >= 0 else -1)


def ref_rdivpot(x: int, e: int) -> int:
    mask = (1 << e) - 1
    rem = x & mask
    thr = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> e) + (1 if rem > thr else 0)


def wrap32(v: int) -> int:
    return ((v + (1 << 31)) % (1 << 32)) - (1 << 31)


def ref_requantize(x: int, mult: int, shift: int) -> int:
    left, right = max(shift, 0), max(-shift, 0)
    return ref_rdivpot(ref_sat_rdhm(wrap32(x << left), mult), right)


def clamp8(v: int) -> int:
    return min(127, max(-128, v))


# --------------------------------------------------------------------------
# Models: converted once per test module


#: The package of the operator families that test themselves (tests/test_ops_*.py).
OPS = "kiln.codegen.ops."

#: The Keras nets below, each converted full int8 and float32.
NETS = ("cnn", "valid", "binary", "head", "fused", "planar", "winograd", "decoder")


def _keras_models() -> dict:
    """name -> builder; between them they reach every registered kernel."""
    import tensorflow as tf
    import tf_keras as k
    L = k.layers

    def cnn():
        i = k.Input((10, 10, 3), batch_size=1)
        x = L.Conv2D(6, 3, strides=2, padding="same", activation="relu")(i)
        y = L.DepthwiseConv2D(3, depth_multiplier=2, padding="same", activation="relu6")(x)
        y = L.Conv2D(6, 1)(y)
        x = L.Add()([x, y])
        x = L.Conv2D(8, 3, dilation_rate=2, padding="same")(x)
        x = L.Conv2D(7, 1, activation="relu")(x)          # 1x1 over 8 channels (dsp: pw8)
        x = L.MaxPooling2D(2, padding="same")(x)
        x = L.AveragePooling2D(2, strides=1, padding="same")(x)
        x = L.GlobalAveragePooling2D()(x)
        x = L.Dense(5)(x)
        return k.Model(i, L.Softmax()(x))

    def valid():
        i = k.Input((15, 13, 2), batch_size=1)
        x = L.Conv2D(4, (3, 5), strides=(2, 1), padding="valid")(i)
        x = L.DepthwiseConv2D(2, strides=2, padding="valid", activation="relu")(x)
        x = L.AveragePooling2D(3, strides=2, padding="same")(x)
        x = L.MaxPooling2D((1, 2), padding="valid")(x)
        x = L.Flatten()(x)
        x = L.Dense(7, activation="relu")(x)
        return k.Model(i, L.Dense(3)(x))

    def binary():
        a = k.Input((4, 4, 3), batch_size=1)
        b = k.Input((1, 1, 3), batch_size=1)
        m = L.Multiply()([a, b])
        s = a + b
        c = L.Concatenate()([m, s])
        c = L.ZeroPadding2D(((1, 0), (0, 2)))(c)
        return k.Model([a, b], L.Lambda(lambda t: tf.pad(t, [[0, 0], [0, 1], [1, 0], [0, 0]],
                                                         constant_values=0.5))(c))

    def head():
        # FULLY_CONNECTED with 3 batches (and 4: as a 1x1 convolution), a layer norm, a
        # product of two activations, a transpose of the last axis
        i = k.Input((3, 40), batch_size=1)
        x = L.LayerNormalization()(L.Dense(40)(i))
        s = L.Lambda(lambda t: tf.matmul(t, t, transpose_b=True))(x)
        r = L.Dense(8)(L.Permute((2, 1))(L.Reshape((4, 30))(x)))
        return k.Model(i, [L.Softmax()(x), L.Softmax()(s), r])

    def fused():
        i = k.Input((12, 10, 1), batch_size=1)  # a first layer the dsp set fuses with its pool
        x = L.MaxPooling2D(2)(L.Conv2D(8, 3, activation="relu")(i))
        return k.Model(i, L.Dense(4)(L.Flatten()(x)))

    def planar():
        i = k.Input((9, 14, 4), batch_size=1)  # a 3x3 depthwise wide enough for the planar dsp kernel
        x = L.DepthwiseConv2D(3, padding="same", activation="relu")(i)
        y, z = L.Conv2D(3, 1)(x), L.Conv2D(3, 1)(i)   # and MAXIMUM, MINIMUM of two branches
        return k.Model(i, L.Concatenate()([L.Maximum()([y, z]), L.Minimum()([y, z])]))

    def winograd():
        i = k.Input((7, 9, 8), batch_size=1)  # 3x3 stride 1 over 8 channels: Winograd on the dsp set
        x = L.Conv2D(8, 3, padding="same", activation="relu")(i)
        return k.Model(i, [L.Conv2D(4, 1)(x), L.Conv2D(1, 3, padding="same")(x)])  # and one channel out

    def decoder():
        # a 5x5 depthwise on a map large enough for the planar dsp kernel, bilinear upsampling,
        # a channel concatenation and a global max pool
        i = k.Input((8, 8, 4), batch_size=1)
        x = L.DepthwiseConv2D(5, padding="same", activation="relu")(i)
        u = L.UpSampling2D(2, interpolation="bilinear")(x)
        c = L.Concatenate()([u, L.Conv2D(4, 1)(L.UpSampling2D(2)(i))])
        return k.Model(i, L.GlobalMaxPooling2D()(L.Conv2D(6, 1)(c)))

    return {"cnn": cnn, "valid": valid, "binary": binary, "head": head, "fused": fused, "planar": planar,
            "winograd": winograd, "decoder": decoder}


def _edge_model():
    """Float in, float out: QUANTIZE and DEQUANTIZE at the graph's edges."""
    import tf_keras as k
    i = k.Input((12,), batch_size=1)
    x = k.layers.Dense(8, activation="relu")(i)
    return k.Model(i, k.layers.Dense(4)(x))


def _hybrid_model():
    """Float activations, int8 weights: the hybrid conv, depthwise and fully connected."""
    import tf_keras as k
    L = k.layers
    i = k.Input((6, 6, 8), batch_size=1)
    # the converter keeps weights of fewer than 1024 values in float: 64 channels
    x = L.Conv2D(64, 3, padding="same", activation="relu")(i)
    x = L.DepthwiseConv2D(3, depth_multiplier=2, padding="same")(x)
    return k.Model(i, L.Dense(10)(L.Flatten()(x)))


def _convert(model, mode: str) -> bytes:
    """mode: int8 (int8 in and out), uint8 (uint8 in and out, int8 inside), int8_edges
    (float in and out), float, dynamic."""
    import tensorflow as tf
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    if mode != "float":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
    if mode.startswith("int8") or mode == "uint8":
        rng = np.random.default_rng(0)

        def rep():
            for _ in range(32):
                yield [rng.normal(0, 1, [1, *t.shape[1:]]).astype(np.float32) for t in model.inputs]
        conv.representative_dataset = rep
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        if mode in ("int8", "uint8"):
            conv.inference_input_type = getattr(tf, mode)
            conv.inference_output_type = getattr(tf, mode)
    return conv.convert()


def _model_specs() -> list[tuple[str, str, str]]:
    """(file name, builder name, conversion mode) of every converted model."""
    specs = []
    for name in NETS:
        specs += [(f"{name}_int8", name, "int8"), (f"{name}_f32", name, "float")]
    return specs + [("edge_int8", "edge", "int8_edges"), ("edge_uint8", "edge", "uint8"),
                    ("hybrid", "hybrid", "dynamic")]


MODELS = [spec[0] for spec in _model_specs()]


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every test model as a .tflite file, by name."""
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tf_keras as k
    builders = _keras_models() | {"edge": _edge_model, "hybrid": _hybrid_model}
    out, built = tmp_path_factory.mktemp("models"), {}
    for idx, name in enumerate(builders):
        k.utils.set_random_seed(idx)
        model = builders[name]()
        rng = np.random.default_rng(100 + idx)
        # random weights and biases, so nothing is trivially zero
        model.set_weights([rng.normal(0, 0.5, w.shape).astype(np.float32) for w in model.get_weights()])
        built[name] = model
    paths = {}
    for fname, builder, mode in _model_specs():
        paths[fname] = out / f"{fname}.tflite"
        paths[fname].write_bytes(_convert(built[builder], mode))
    return paths


# --------------------------------------------------------------------------
# The oracle, every tensor preserved


def oracle_tensors(path: Path, gen: Generated, inputs: list[np.ndarray]) -> dict[int, np.ndarray]:
    """Every tensor of the .tflite after one run, by index: tflite-micro, or
    TensorFlow's reference kernels for hybrid models (tflite-micro has none)."""
    graph, n = gen.graph, gen.file_tensors
    if any(is_hybrid(graph, op) for op in graph.ops):
        import tensorflow as tf
        it = tf.lite.Interpreter(model_path=str(path), experimental_preserve_all_tensors=True,
                                 experimental_op_resolver_type=tf.lite.experimental.OpResolverType.BUILTIN_REF)
        it.allocate_tensors()
        for d, x in zip(it.get_input_details(), inputs, strict=True):
            it.set_tensor(d["index"], x)
        it.invoke()
        out = {}
        for i in range(n):
            try:
                out[i] = np.array(it.get_tensor(i), copy=True)
            except ValueError:  # tensors without data (optional, absent)
                pass
        return out
    from tflite_micro.python.tflite_micro import runtime
    it = runtime.Interpreter.from_file(str(path),
                                       intrepreter_config=runtime.InterpreterConfig.kPreserveAllTensors)
    for i, x in enumerate(inputs):
        it.set_input(x, i)
    it.invoke()
    # (GetTensor must not be asked past the last tensor: it crashes)
    return {i: it.GetTensor(i, 0)["tensor_data"] for i in range(n)}


def random_inputs(graph: Graph, seed: int) -> list[np.ndarray]:
    """Random values for every graph input: full int8 or uint8 range, or N(0, 1.5) floats."""
    rng = np.random.default_rng(seed)
    xs = []
    for i in graph.inputs:
        t = graph.tensors[i]
        if t.dtype == "int8":
            xs.append(rng.integers(-128, 128, t.shape).astype(np.int8))
        elif t.dtype == "uint8":
            xs.append(rng.integers(0, 256, t.shape).astype(np.uint8))
        else:
            xs.append(rng.normal(0, 1.5, t.shape).astype(np.float32))
    return xs


def assert_matches(what: str, ours: np.ndarray, ref: np.ndarray, exact: bool) -> None:
    """int8 (and `exact`) outputs identical; float within 1e-5 relative."""
    ref = np.asarray(ref).reshape(ours.shape)
    if ours.dtype == np.int8 or exact:
        bad = int(np.count_nonzero(ours != ref))
        assert bad == 0, (f"{what}: {bad}/{ref.size} outputs differ from the oracle; max |diff| "
                          f"{float(np.abs(ours.astype(np.float64) - ref).max())}")
    else:
        tol = 1e-5 * max(1e-30, float(np.abs(ref).max()))
        np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=tol, err_msg=what)


def check_layers(gen: Generated, path: Path, samples: int = SAMPLES) -> set[str]:
    """Every layer of `gen` from the oracle's inputs against the oracle's output,
    on `samples` random inputs; returns the kernels that ran."""
    g, ran = gen.graph, set()
    for s in range(samples):
        values = oracle_tensors(path, gen, random_inputs(g, s))
        step = 0
        while step < len(g.ops):
            impl, op = gen.impls[step], g.ops[step]
            gen.run(step, values)
            if impl.fuses_next:  # the next layer only moves this one's result
                step += 1
                gen.run(step, values, skip=frozenset(op.outputs))
                ran.add(gen.impls[step].func)
            out = g.ops[step].outputs[0]
            assert_matches(f"layer {step} {g.ops[step].op} ({gen.layers[step].kernel})", gen.read(out),
                           values[out], exact=is_hybrid(g, g.ops[step]))
            ran.add(impl.func)
            step += 1
    return ran


# --------------------------------------------------------------------------
# Tests against the oracle


@pytest.mark.slow
@pytest.mark.parametrize("kernels", KERNEL_SETS)
@pytest.mark.parametrize("name", MODELS)
def test_layers_match_the_oracle(models: dict[str, Path], name: str, kernels: str, tmp_path: Path) -> None:
    graph = read_tflite(models[name])
    gen = Generated(graph, kernels, tmp_path)
    ran = check_layers(gen, models[name])
    assert ran == {impl.func for impl in gen.impls}


@pytest.mark.slow
@pytest.mark.parametrize("kernels", KERNEL_SETS)
def test_every_registered_kernel_is_exercised(models: dict[str, Path], kernels: str) -> None:
    """The models above (and the one-layer graphs below) select every kernel of
    the set, so test_layers_match_the_oracle has checked each one."""
    chosen = set()
    graphs = [read_tflite(path) for path in models.values()] + list(one_layer_graphs())
    for g in graphs:
        # narrow: the size layout's int8-weight kernels (test_dsp_fidelity checks their bits)
        chosen |= {select(g, op, kernels, narrow=n).func for op in g.ops for n in (False, True)}
    # Operator families under kiln.codegen.ops have suites of their own (tests/test_ops_*.py),
    # each checking that its models reach every kernel of its family.
    registered = {impl.func for impl in entries(kernels) if not impl.build.__module__.startswith(OPS)}
    # Sparse kernels need pruned weights: tests/test_dsp_sparse.py and test_dsp_float.py
    # prune models for them and check them against the oracle.
    registered -= {impl.func for impl in entries(kernels) if impl.sparse}
    missing = registered - chosen
    assert not missing, (f"registered {kernels} kernels no test model reaches: {sorted(missing)}; "
                         "add a layer that selects them to _keras_models() in tests/test_kernels.py")


@pytest.mark.slow
def test_quantize_at_rounding_boundaries(models: dict[str, Path], tmp_path: Path) -> None:
    """Inputs at and next to (k + 1/2) * scale, where dividing in float, dividing
    in double and multiplying by a float reciprocal disagree (tflite-micro
    divides in float)."""
    path = models["edge_int8"]
    gen = Generated(read_tflite(path), "portable", tmp_path)
    g = gen.graph
    step = next(i for i, op in enumerate(g.ops) if op.op == "QUANTIZE")
    quant = g.ops[step]
    scale = g.tensors[quant.outputs[0]].qparams()[0]
    x = np.float32((np.arange(-6, 6) + 0.5) * scale)
    x = np.concatenate([np.nextafter(x, np.float32(-np.inf)), x, np.nextafter(x, np.float32(np.inf))])
    for chunk in x.reshape(-1, 1, 12):
        values = oracle_tensors(path, gen, [chunk])
        gen.run(step, values)
        assert_matches("QUANTIZE", gen.read(quant.outputs[0]), values[quant.outputs[0]], exact=True)


# --------------------------------------------------------------------------
# One-layer graphs in the IR: paths the converted models do not reach


def _t(index: int, shape: tuple[int, ...], dtype: str, scale: float | None = None, zp: int = 0,
       data: np.ndarray | None = None) -> Tensor:
    q = {} if scale is None else {"scale": np.array([scale], np.float32),
                                  "zero_point": np.array([zp], np.int64)}
    return Tensor(index, f"t{index}", shape, dtype, data=data, **q)


def one_layer(op: str, tensors: list[Tensor], inputs: list[int], outputs: list[int],
              options: dict | None = None) -> Graph:
    """A graph of one operator; its activation inputs are the graph's inputs."""
    acts = [i for i in inputs if tensors[i].data is None]
    return Graph(op.lower(), tensors, [Operator(0, op, inputs, outputs, options or {})], acts, outputs)


def mean_graph(h: int, w: int, c: int, sin: float, zin: int, sout: float, zout: int) -> Graph:
    return one_layer("MEAN", [_t(0, (1, h, w, c), "int8", sin, zin),
                              _t(1, (2,), "int32", data=np.array([1, 2], np.int32)),
                              _t(2, (1, 1, 1, c), "int8", sout, zout)], [0, 1], [2], {"KeepDims": True})


def requantize_graph(n: int, sin: float, zin: int, sout: float, zout: int) -> Graph:
    return one_layer("QUANTIZE", [_t(0, (n,), "int8", sin, zin), _t(1, (n,), "int8", sout, zout)], [0], [1])


def concat_graph(sa: float, za: int, sb: float, zb: int, so: float, zo: int) -> Graph:
    return one_layer("CONCATENATION", [_t(0, (2, 3), "int8", sa, za), _t(1, (2, 4), "int8", sb, zb),
                                       _t(2, (2, 7), "int8", so, zo)], [0, 1], [2],
                     {"Axis": 1, "FusedActivationFunction": "NONE"})


def quantize_graph(n: int, scale: float, zp: int) -> Graph:
    return one_layer("QUANTIZE", [_t(0, (n,), "float32"), _t(1, (n,), "int8", scale, zp)], [0], [1])


def one_layer_graphs() -> list[Graph]:
    """The one-layer graphs of the tests below (for the coverage test)."""
    return [mean_graph(3, 3, 4, 0.1, 3, 0.1, 3), requantize_graph(256, 0.037, 7, 0.05, 12),
            concat_graph(0.05, 12, 0.037, 7, 0.05, 12), quantize_graph(4, 0.5, -1)]


def run_one(graph: Graph, feeds: list[np.ndarray], workdir: Path) -> np.ndarray:
    """Compile the one-layer graph, run it on `feeds` (its activation inputs), return its output."""
    gen = Generated(graph, "portable", workdir)
    gen.run(0, dict(zip(graph.inputs, feeds, strict=True)))
    return gen.read(graph.outputs[0])


def test_mean_same_qparams_folds_the_count(tmp_path: Path) -> None:
    """Equal input and output parameters: tflite-micro still requantizes with 1/count folded
    into the multiplier, no truncating division (tests/test_ops_movement.py checks it against
    the oracle); kiln_reduce_s8 of kiln.codegen.ops.movement runs this case."""
    from kiln.codegen.ops.movement import mean_multiplier

    rng = np.random.default_rng(3)
    for h, w, c in ((3, 3, 4), (5, 2, 1), (7, 7, 8)):
        x = rng.integers(-128, 128, (1, h, w, c)).astype(np.int8)
        out = run_one(mean_graph(h, w, c, 0.1, 3, 0.1, 3), [x], tmp_path / f"{h}{w}{c}")
        sums = x.astype(np.int64).sum(axis=(0, 1, 2)) - 3 * h * w
        mult, shift = mean_multiplier(*qm.requantize_params(0.1, 0.1), h * w)
        expect = [clamp8(ref_requantize(int(s), mult, shift) + 3) for s in sums]
        np.testing.assert_array_equal(out.ravel(), expect)


def test_mean_rescaled_matches_reference(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    for h, w, sin, sout, zin, zout in ((4, 4, 0.05, 0.02, -3, 10), (1, 9, 0.3, 0.01, 100, -128),
                                       (6, 5, 0.02, 0.5, 0, 0)):
        x = rng.integers(-128, 128, (1, h, w, 3)).astype(np.int8)
        out = run_one(mean_graph(h, w, 3, sin, zin, sout, zout), [x], tmp_path / f"{h}{w}").ravel()
        q = qm.mean_params(sin, zin, sout, zout, h * w)
        sums = x.astype(np.int64).sum(axis=(0, 1, 2)) - zin * h * w
        expect = [clamp8(ref_requantize(int(s), q["mult"], q["shift"]) + zout) for s in sums]
        np.testing.assert_array_equal(out, expect)
        real = (x.astype(np.float64) - zin).mean(axis=(0, 1, 2)) * sin / sout + zout
        assert np.all(np.abs(out - np.clip(real, -128, 127)) <= 1.0)


def test_requantize_s8_s8_and_concat_rescale(tmp_path: Path) -> None:
    x = np.arange(-128, 128, dtype=np.int8)
    m, s = qm.requantize_params(0.037, 0.05)
    out = run_one(requantize_graph(256, 0.037, 7, 0.05, 12), [x], tmp_path / "rq")
    expect = [clamp8(ref_requantize(int(q) - 7, m, s) + 12) for q in x]
    np.testing.assert_array_equal(out, expect)
    # concat: input 0 has the output's parameters (copied), input 1 is requantized
    a = np.arange(6, dtype=np.int8).reshape(2, 3)
    b = x[:8].reshape(2, 4).copy()
    res = run_one(concat_graph(0.05, 12, 0.037, 7, 0.05, 12), [a, b], tmp_path / "concat")
    np.testing.assert_array_equal(res[:, :3], a)
    np.testing.assert_array_equal(res[:, 3:], np.array(expect[:8]).reshape(2, 4))


def test_quantize_rounds_half_away_and_saturates(tmp_path: Path) -> None:
    x = np.array([0.25, -0.25, 0.75, -0.75, 0.2499999, 1e6, -1e6, np.nan, 63.75, -64.25], np.float32)
    out = run_one(quantize_graph(x.size, 0.5, -1), [x], tmp_path)
    np.testing.assert_array_equal(out, [0, -2, 1, -3, -1, 127, -128, -1, 127, -128])


# --------------------------------------------------------------------------
# The fixed-point and float helpers of kiln/quant.h and expf.c


@pytest.fixture(scope="module")
def helpers(tmp_path_factory: pytest.TempPathFactory) -> ctypes.CDLL:
    """tests/c/kernel_harness.c (the helpers' exports) with the portable runtime."""
    out = tmp_path_factory.mktemp("helpers") / "libhelpers.so"
    cmd = [*hostcheck.host_cc().split(), *WARN, "-O1", "-fPIC", "-shared", f"-I{RUNTIME / 'include'}",
           str(HARNESS), *map(str, hostcheck.runtime_objects("portable")), "-o", str(out)]
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    so = ctypes.CDLL(str(out))
    i32t = ctypes.c_int32
    for name in ("kh_requantize", "kh_exp_on_negative_q5", "kh_one_over_one_plus_x_q0"):
        getattr(so, name).restype = i32t
    so.kh_requantize.argtypes = [i32t] * 3
    so.kh_exp_on_negative_q5.argtypes = so.kh_one_over_one_plus_x_q0.argtypes = [i32t]
    so.kh_expf.restype = ctypes.c_float
    so.kh_expf.argtypes = [ctypes.c_float]
    return so


def test_requantize_matches_reference(helpers) -> None:
    rng = np.random.default_rng(7)
    cases = [(-(1 << 31), -(1 << 31), 0), ((1 << 31) - 1, (1 << 31) - 1, 0), (5, 1 << 30, -1),
             (-5, 1 << 30, -1), (3, 1 << 30, -2), (-3, 1 << 30, -2), (1 << 20, 1518500250, 12)]
    for _ in range(3000):
        x = int(rng.integers(-(1 << 31), 1 << 31))
        if rng.random() < 0.5:
            x >>= int(rng.integers(0, 31))
        cases.append((x, int(rng.integers(1 << 30, 1 << 31)), int(rng.integers(-31, 8))))
    for x, m, s in cases:
        assert helpers.kh_requantize(x, m, s) == ref_requantize(x, m, s), (x, m, s)


def test_fixed_point_exp_and_reciprocal_accuracy(helpers) -> None:
    # exp over the whole softmax domain, Q5.26 in, Q0.31 out. The reference
    # algorithm's own error (4th-order series on [-1/4, 0)) is about 1e-7; a
    # wrong constant or bit selection would be off by far more.
    for a in np.linspace(-(31 << 26), 0, 4001).astype(np.int64):
        got = helpers.kh_exp_on_negative_q5(int(a)) / 2**31
        assert abs(got - math.exp(int(a) / 2**26)) < 3e-7, a
    assert helpers.kh_exp_on_negative_q5(0) == (1 << 31) - 1
    for x in np.linspace(0, 2**31 - 1, 2001).astype(np.int64):
        got = helpers.kh_one_over_one_plus_x_q0(int(x)) / 2**31
        assert abs(got - 1 / (1 + int(x) / 2**31)) < 1e-8, x


def test_expf_accuracy(helpers) -> None:
    for x in np.concatenate([np.linspace(-100, 0, 5001), np.linspace(0, 88, 1001)]):
        got, ref = helpers.kh_expf(float(x)), math.exp(float(np.float32(x)))
        assert abs(got - ref) <= 3e-7 * ref + 1e-44, x


# --------------------------------------------------------------------------
# The firmware build of every kernel set


def _kernel_sources() -> list[Path]:
    """The C sources of every registered kernel set (firmware/runtime/<set>/)."""
    return [src for kset in KERNEL_SETS for src in sorted((RUNTIME / kset).glob("*.c"))]


@pytest.mark.skipif(not have("arm-none-eabi-gcc"), reason="needs arm-none-eabi-gcc")
def test_cortex_m33_build_warning_free_and_libm_free(tmp_path: Path) -> None:
    flags = ["-mcpu=cortex-m33", "-mthumb", "-mfpu=fpv5-sp-d16", "-mfloat-abi=hard", "-O2",
             "-ffreestanding", *WARN, f"-I{RUNTIME / 'include'}"]
    sources = _kernel_sources()
    assert {s.parent.name for s in sources} == set(KERNEL_SETS)

    def compile_one(src: Path) -> tuple[Path, subprocess.CompletedProcess]:
        obj = tmp_path / f"{src.parent.name}_{src.stem}.o"
        return obj, subprocess.run(["arm-none-eabi-gcc", *flags, "-c", str(src), "-o", str(obj)],
                                   capture_output=True, text=True)

    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1)) as pool:
        built = list(pool.map(compile_one, sources))
    for src, (obj, r) in zip(sources, built, strict=True):
        assert r.returncode == 0 and not r.stderr, f"{src}:\n{r.stderr}"
        undefined = set(subprocess.run(["arm-none-eabi-nm", "-u", str(obj)], capture_output=True,
                                       text=True, check=True).stdout.split()) - {"U"}
        # nothing but memcpy, memset and our own functions: no libm, no soft-float
        allowed = {"memcpy", "memset"} | {s for s in undefined if s.startswith("kiln_")}
        assert undefined <= allowed, f"{src.name} needs {sorted(undefined - allowed)}"


def test_registry_entries_name_existing_kernels() -> None:
    """Every registered function is declared in its entry's header."""
    for impl in entries():
        header = (RUNTIME / "include" / impl.header).read_text()
        assert f" {impl.func}(" in header, f"{impl.func} is not declared in {impl.header}"
