"""Random networks of realistic operator mixes through the optimized kernels.

    .venv/bin/python tests/fuzz/nets.py --count 50 --seed 0
    .venv/bin/python tests/fuzz/nets.py --count 50 --optimize size  # int8 weights everywhere
    .venv/bin/python tests/fuzz/nets.py --count 50 --quant float    # or float_io, int16
    .venv/bin/python tests/fuzz/nets.py --count 50 --board          # on the emulated board
    .venv/bin/python tests/fuzz/nets.py --net 17 --out n17.tflite   # write one network

Where tests/fuzz/run.py mutates the bytes of a few seed models, this builds
whole valid networks the way users write them: convolutions of any window,
stride, dilation and padding, depthwise and separable blocks with depth
multipliers, transposed convolutions, dense layers over a feature map's
pixels, residual adds, squeeze-excite products, concatenations along any
axis, channel splits and shuffles, reductions over one axis, pools,
upsampling, padding, cropping, folded batch norms and a dozen activations;
or sequence models with dense layers, Conv1D (dilated, causal), LSTMs, layer
norms and attention. Each is
converted to full int8 by the real TFLite converter, half of them patched as
training leaves a model (tests/tflite_patch.py: zero filters, huge biases,
large multipliers), and run on the host with the dsp kernels in the
sanitizer build against tflite-micro. Network i is the same on every run of
one --seed. The exit status is 1 when any network differs from the oracle,
fails in the sanitizer build, or is refused with an error that is not a
clear Kiln error.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

_TESTS = Path(__file__).resolve().parents[1]
if str(_TESTS) not in sys.path:
    sys.path.insert(0, str(_TESTS))
for _path in (_TESTS.parent / "site_scons", _TESTS.parent):   # kiln, and host (the board's client)
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import opmodels  # noqa: E402 - after the path set-up above
import tflite_patch  # noqa: E402

#: Activations a layer may carry: fused ones (relu, relu6) and standalone operators.
ACTIVATIONS = ["linear", "relu", "relu", "relu6", "relu6", "swish", "sigmoid", "tanh", "elu", "gelu",
               "hard_sigmoid", "leaky", "prelu", "hard_swish"]


@dataclass
class Net:
    """One generated network: its Keras model, a one-line description, and whether it is patched."""

    model: object
    what: str
    trained: bool

    @property
    def label(self) -> str:
        """The description, marked when the network is patched as trained."""
        return ("trained " if self.trained else "") + self.what


class _Builder:
    """Draws one network's layers from a seeded generator."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.k = opmodels._keras()
        self.L = self.k.layers
        self.tf = opmodels._tf()
        self.parts: list[str] = []

    def pick(self, items: list):  # noqa: ANN201 - any item
        return items[int(self.rng.integers(len(items)))]

    def chance(self, p: float) -> bool:
        return bool(self.rng.random() < p)

    def act(self, x):  # noqa: ANN001, ANN201 - Keras tensors
        L, name = self.L, self.pick(ACTIVATIONS)
        if name == "linear":
            return x
        self.parts.append(name)
        if name == "leaky":
            return L.LeakyReLU(float(self.rng.uniform(0.01, 0.3)))(x)
        if name == "prelu":
            return L.PReLU(shared_axes=[1, 2] if len(x.shape) == 4 else None)(x)
        if name == "hard_swish":
            return L.Lambda(lambda t: t * self.tf.nn.relu6(t + 3.0) / 6.0)(x)
        return L.Activation(name)(x)

    def bn(self, x):  # noqa: ANN001, ANN201
        if not self.chance(0.4):
            return x
        self.parts.append("bn")
        return self.L.BatchNormalization()(x)

    # ---- image blocks --------------------------------------------------------------

    def _window(self, h: int, w: int) -> tuple[tuple[int, int], int, int, str]:
        kernel = self.pick([(1, 1), (1, 1), (3, 3), (3, 3), (3, 3), (5, 5), (1, 3), (3, 1), (7, 7),
                            (2, 2), (4, 4)])
        stride = self.pick([1, 1, 1, 2]) if min(h, w) >= 4 else 1
        dil = self.pick([1, 1, 1, 1, 2, 3]) if stride == 1 and kernel != (1, 1) else 1
        span = ((kernel[0] - 1) * dil + 1, (kernel[1] - 1) * dil + 1)
        pad = self.pick(["same", "valid"]) if span[0] <= h and span[1] <= w else "same"
        return kernel, stride, dil, pad

    def conv(self, x):  # noqa: ANN001, ANN201
        h, w = int(x.shape[1]), int(x.shape[2])
        kernel, stride, dil, pad = self._window(h, w)
        filters = int(self.pick([1, 2, 3, 4, 6, 8, 8, 12, 16, 16, 24, 32, 40]))
        fused = self.pick(["linear", "relu", "relu6"])
        self.parts.append(f"conv{kernel[0]}x{kernel[1]}/{stride}d{dil}{pad[0]}->{filters}{fused[:5]}")
        x = self.L.Conv2D(filters, kernel, strides=stride, dilation_rate=dil, padding=pad,
                          use_bias=self.chance(0.8), activation=fused)(x)
        return x if fused != "linear" else self.act(self.bn(x))

    def depthwise(self, x):  # noqa: ANN001, ANN201
        h, w = int(x.shape[1]), int(x.shape[2])
        kernel, stride, dil, pad = self._window(h, w)
        if kernel == (1, 1):
            kernel = (3, 3)
            pad = "same"
        mult = self.pick([1, 1, 1, 2, 4])
        self.parts.append(f"dw{kernel[0]}x{kernel[1]}/{stride}d{dil}{pad[0]}m{mult}")
        x = self.L.DepthwiseConv2D(kernel, strides=stride, dilation_rate=dil, padding=pad,
                                   depth_multiplier=mult)(x)
        return self.act(self.bn(x))

    def separable(self, x):  # noqa: ANN001, ANN201
        x = self.depthwise(x)
        filters = int(self.pick([4, 8, 16, 24, 32]))
        self.parts.append(f"pw->{filters}")
        return self.act(self.bn(self.L.Conv2D(filters, 1)(x)))

    def residual(self, x):  # noqa: ANN001, ANN201
        c = int(x.shape[3])
        self.parts.append("res(")
        y = self.L.Conv2D(c, 3, padding="same", activation="relu")(x)
        y = self.bn(self.L.Conv2D(c, self.pick([1, 3]), padding="same")(y))
        self.parts.append(")add")
        op = self.pick(["add", "add", "sub", "max"])
        if op == "sub":
            return self.act(self.L.Subtract()([x, y]))
        if op == "max":
            return self.L.Maximum()([x, y])
        return self.act(self.L.Add()([x, y]))

    def squeeze_excite(self, x):  # noqa: ANN001, ANN201
        c = int(x.shape[3])
        self.parts.append("se")
        s = self.L.GlobalAveragePooling2D(keepdims=True)(x)
        s = self.L.Conv2D(max(1, c // 4), 1, activation="relu")(s)
        s = self.L.Conv2D(c, 1, activation=self.pick(["sigmoid", "hard_sigmoid"]))(s)
        return self.L.Multiply()([x, s])

    def concat(self, x):  # noqa: ANN001, ANN201
        self.parts.append("cat(")
        a = self.L.Conv2D(int(self.pick([2, 4, 8, 12])), 1, activation="relu")(x)
        b = self.L.Conv2D(int(self.pick([3, 4, 8])), 3, padding="same", activation="relu")(x)
        parts = [a, b] + ([x] if self.chance(0.5) else [])
        self.parts.append(f"){len(parts)}")
        return self.L.Concatenate()(parts)

    def pool(self, x):  # noqa: ANN001, ANN201
        h, w = int(x.shape[1]), int(x.shape[2])
        size = self.pick([2, 2, 3])
        if min(h, w) < size:
            return x
        stride = self.pick([None, 1, 2]) if size == 3 else None
        pad = self.pick(["valid", "same"])
        kind = self.pick([self.L.MaxPooling2D, self.L.AveragePooling2D])
        self.parts.append(f"{kind.__name__[:3].lower()}pool{size}/{stride or size}{pad[0]}")
        return kind(size, strides=stride, padding=pad)(x)

    def upsample(self, x):  # noqa: ANN001, ANN201
        if int(x.shape[1]) * int(x.shape[2]) > 160:
            return x
        interp = self.pick(["nearest", "bilinear"])
        self.parts.append(f"up{interp[0]}")
        return self.L.UpSampling2D(2, interpolation=interp)(x)

    def zero_pad(self, x):  # noqa: ANN001, ANN201
        pads = tuple(tuple(int(v) for v in self.rng.integers(0, 3, 2)) for _ in range(2))
        self.parts.append(f"pad{pads}")
        return self.L.ZeroPadding2D(pads)(x)

    def transpose_conv(self, x):  # noqa: ANN001, ANN201
        if int(x.shape[1]) * int(x.shape[2]) > 256:
            return x
        kernel, stride = self.pick([2, 3, 4]), self.pick([1, 2, 2])
        filters = int(self.pick([2, 4, 8, 16]))
        pad = self.pick(["same", "valid"])
        self.parts.append(f"tconv{kernel}/{stride}{pad[0]}->{filters}")
        return self.act(self.L.Conv2DTranspose(filters, kernel, strides=stride, padding=pad)(x))

    def pointwise_dense(self, x):  # noqa: ANN001, ANN201
        # Dense on a feature map acts on its channels: a FULLY_CONNECTED over every pixel
        units = int(self.pick([3, 4, 8, 12, 16]))
        self.parts.append(f"dense->{units}")
        return self.act(self.L.Dense(units)(x))

    def crop(self, x):  # noqa: ANN001, ANN201
        h, w = int(x.shape[1]), int(x.shape[2])
        if min(h, w) < 5:
            return x
        c = ((int(self.rng.integers(0, 2)), int(self.rng.integers(0, 3))),
             (int(self.rng.integers(0, 3)), int(self.rng.integers(0, 2))))
        self.parts.append(f"crop{c}")
        return self.L.Cropping2D(c)(x)

    def shuffle(self, x):  # noqa: ANN001, ANN201
        # ShuffleNet's channel shuffle (RESHAPE, TRANSPOSE, RESHAPE) after splitting the
        # channels into halves that take different paths (SPLIT, CONCATENATION)
        h, w, c = (int(d) for d in x.shape[1:])
        if c % 4:
            return x
        self.parts.append("shuffle")
        tf = self.tf
        a, b = self.L.Lambda(lambda t: tf.split(t, 2, axis=-1))(x)
        b = self.L.Conv2D(c // 2, 1, activation="relu")(b)
        y = self.L.Concatenate()([a, b])
        y = self.L.Reshape((h, w, 2, c // 2))(y)
        y = self.L.Permute((1, 2, 4, 3))(y)
        return self.L.Reshape((h, w, c))(y)

    def spatial_concat(self, x):  # noqa: ANN001, ANN201
        axis = self.pick([1, 2])
        self.parts.append(f"cat{axis}")
        y = self.L.Conv2D(int(x.shape[3]), 3, padding="same")(x)
        return self.L.Concatenate(axis=axis)([x, y])

    def axis_ops(self, x):  # noqa: ANN001, ANN201
        # a reduction over one spatial axis, broadcast back (MEAN / REDUCE_MAX, ADD or MUL)
        tf, axis = self.tf, self.pick([1, 2])
        kind = self.pick(["mean", "max", "softmax"])
        self.parts.append(f"{kind}{axis}")
        if kind == "softmax":
            return self.L.Softmax(axis=-1)(x)
        f = tf.reduce_mean if kind == "mean" else tf.reduce_max
        m = self.L.Lambda(lambda t: f(t, axis=axis, keepdims=True))(x)
        return self.L.Add()([x, m]) if self.chance(0.5) else self.L.Multiply()([x, m])

    def image_net(self):  # noqa: ANN201 - a Keras model
        k, L, rng = self.k, self.L, self.rng
        channels = int(self.pick([1, 1, 2, 3, 3, 4, 8, 16]))
        shape = (int(rng.integers(5, 33)), int(rng.integers(5, 33)), channels)
        self.parts.append("x".join(map(str, shape)))
        inp = k.Input(shape, batch_size=1)
        x = self.conv(inp) if self.chance(0.8) else inp
        blocks = [self.conv, self.conv, self.depthwise, self.separable, self.residual, self.squeeze_excite,
                  self.concat, self.pool, self.pool, self.upsample, self.zero_pad, self.transpose_conv,
                  self.pointwise_dense, self.crop, self.shuffle, self.spatial_concat, self.axis_ops]
        for _ in range(int(rng.integers(1, 6))):
            x = self.pick(blocks)(x)
        if x is inp:  # every block declined (too small a map): an identity model is no test
            x = self.conv(x)
        end = self.pick(["gap", "gmp", "flatten", "narrow", "none"])
        self.parts.append(end)
        if end == "gap":
            x = L.GlobalAveragePooling2D()(x)
        elif end == "gmp":
            x = L.GlobalMaxPooling2D()(x)
        elif end == "flatten" and int(np.prod(x.shape[1:])) <= 4096:
            x = L.Flatten()(x)
        elif end == "narrow":
            return k.Model(inp, L.Conv2D(self.pick([1, 2]), 3, padding="same",
                                         activation=self.pick([None, "sigmoid"]))(x))
        else:
            return k.Model(inp, x)
        x = L.Dense(int(rng.integers(2, 17)))(x)
        return k.Model(inp, L.Softmax()(x) if self.chance(0.5) else x)

    # ---- sequence blocks -------------------------------------------------------------

    def seq_net(self):  # noqa: ANN201 - a Keras model
        k, L, rng = self.k, self.L, self.rng
        t, d = int(rng.integers(3, 25)), int(self.pick([4, 8, 12, 16, 24, 32]))
        self.parts.append(f"seq{t}x{d}")
        inp = k.Input((t, d), batch_size=1)
        x = inp
        for _ in range(int(rng.integers(1, 4))):
            kind = self.pick(["dense", "conv1d", "attention", "norm", "ffn", "dilated", "lstm"])
            self.parts.append(kind)
            if kind == "dense":
                x = self.act(L.Dense(int(self.pick([4, 8, 16, 32])))(x))
            elif kind == "conv1d":
                x = self.act(L.Conv1D(int(self.pick([4, 8, 16])), int(self.pick([1, 3, 5])), padding="same",
                                      strides=int(self.pick([1, 1, 2])) if int(x.shape[1]) > 4 else 1)(x))
            elif kind == "dilated":   # a temporal convolutional network's causal layer
                x = self.act(L.Conv1D(int(self.pick([8, 16])), int(self.pick([2, 3])), padding="causal",
                                      dilation_rate=int(self.pick([2, 4])))(x))
            elif kind == "lstm":
                x = L.LSTM(int(self.pick([8, 12])), return_sequences=True)(x)
            elif kind == "attention":
                heads = int(self.pick([1, 2, 3]))
                a = L.MultiHeadAttention(heads, int(self.pick([4, 8, 16])))(x, x)
                x = L.LayerNormalization()(L.Add()([x, a]))
            elif kind == "norm":
                x = L.LayerNormalization()(x)
            else:
                c = int(x.shape[2])
                f = L.Dense(2 * c, activation=self.pick(["relu", "gelu"]))(x)
                x = L.Add()([x, L.Dense(c)(f)])
        end = self.pick(["gap", "flatten", "none"])
        self.parts.append(end)
        if end == "gap":
            x = L.GlobalAveragePooling1D()(x)
        elif end == "flatten":
            x = L.Flatten()(x)
        if end != "none":
            x = L.Dense(int(rng.integers(2, 11)), activation=self.pick([None, "softmax"]))(x)
        return k.Model(inp, x)


def _weights(model, rng: np.random.Generator) -> None:  # noqa: ANN001 - a Keras model
    """Glorot kernels as Keras gives them, random biases, and batch norms with
    trained-looking statistics, so activations stay in range through a deep net."""
    for layer in model.layers:
        ws = layer.get_weights()
        if not ws:
            continue
        if type(layer).__name__ == "BatchNormalization":
            shape = ws[0].shape
            layer.set_weights([rng.uniform(0.5, 1.5, shape), rng.normal(0, 0.3, shape),
                               rng.normal(0, 0.3, shape), rng.uniform(0.3, 2.0, shape)])
        elif type(layer).__name__ == "PReLU":
            layer.set_weights([rng.uniform(0.0, 0.4, ws[0].shape)])
        else:
            layer.set_weights([w if w.ndim > 1 else rng.normal(0, 0.2, w.shape).astype(w.dtype) for w in ws])


def make(index: int, seed: int = 0) -> Net:
    """Network `index` of the run `seed`: its Keras model with weights set."""
    rng = np.random.default_rng([seed, index])
    b = _Builder(rng)
    opmodels._keras().utils.set_random_seed(zlib.crc32(f"{seed}/{index}".encode()))
    model = b.image_net() if b.chance(0.75) else b.seq_net()
    _weights(model, rng)
    return Net(model, " ".join(b.parts), trained=b.chance(0.5))


#: How a network is converted: full int8 (int8 edges), int8 inside float32 edges
#: (QUANTIZE / DEQUANTIZE), float32 throughout, or the 16x8 mode (int16 activations).
QUANTIZATIONS = ("int8", "float_io", "float", "int16")


def write(index: int, seed: int, path: Path, quant: str = "int8") -> Net:
    """Convert network `index` (`quant`, one of QUANTIZATIONS; an int8 one patched as
    trained when drawn so) to `path`."""
    net = make(index, seed)
    if quant == "int16":
        import test_ops_int16

        blob = test_ops_int16.convert(net.model, False, -1.0, 1.0, index)
    else:
        blob = opmodels.convert(net.model, int8=quant != "float", seed=index, float_io=quant == "float_io")
    net.trained = net.trained and quant in ("int8", "float_io")
    if net.trained:
        blob = tflite_patch.as_trained(blob, np.random.default_rng(index))
    path.write_bytes(blob)
    return net


@dataclass
class Outcome:
    """One network's result: ok, degenerate (its reference output too uniform to test), refused, FAIL."""

    index: int
    result: str
    what: str
    detail: str = ""


def _written(index: int, seed: int, path: Path, quant: str) -> str | Outcome:
    """Network `index` converted to `path`: its description, or the skipped Outcome when
    the converter (or the patch) refuses the draw, which is not Kiln's to answer for."""
    try:
        net = write(index, seed, path, quant)
    except Exception as exc:  # noqa: BLE001 - any converter failure skips the draw
        return Outcome(index, "skipped", "", f"conversion: {type(exc).__name__}: {str(exc)[:120]}")
    return net.label


def check(index: int, seed: int, workdir: Path, samples: int = 6, kernels: str = "dsp",
          optimize: str = "speed", quant: str = "int8") -> Outcome:
    """Network `index`, converted as `quant`, through Kiln with `kernels` in the `optimize`
    weight layout (the sanitizer build) against the oracle: integer outputs identical,
    float ones within hostcheck's tolerance."""
    from kiln.codegen.layout import Budget
    from kiln.errors import KilnError

    path = workdir / f"net{index}.tflite"
    what = _written(index, seed, path, quant)
    if isinstance(what, Outcome):
        return what
    try:
        budget = None if optimize == "speed" else Budget(optimize, min_saving=0)
        res, used = opmodels.check_random(path, index, samples, kernels=kernels, budget=budget)
    except AssertionError as exc:
        return Outcome(index, "degenerate", what, str(exc)[:100])
    except KilnError as exc:
        text = str(exc)
        if "sanitizer" in text or "AddressSanitizer" in text or "runtime error" in text:
            return Outcome(index, "FAIL.sanitizer", what, text[:2000])
        return Outcome(index, "refused", what, text.splitlines()[0][:200])
    except Exception as exc:  # noqa: BLE001 - any escape is a finding
        return Outcome(index, "FAIL.internal", what, f"{type(exc).__name__}: {exc}"[:2000])
    if not (res.ok and (res.dtype == "float32" or res.identical_samples == samples)):
        return Outcome(index, "FAIL.differs", what, res.summary())
    return Outcome(index, "ok", what, " ".join(sorted(k for k in used if k.startswith("kiln_dsp"))))


class Board:
    """The emulated board (the bench's), its runtime objects compiled once: networks run on
    the target's own instruction sequences (the inline assembly the host build lacks)."""

    def __init__(self, workdir: Path, kernels: str = "dsp") -> None:
        import target_image
        from kiln import bench

        self.board, self.kernels = bench.board_for(""), kernels
        objdir = workdir / "objs"
        objdir.mkdir()
        self.objs = target_image.runtime_objects(self.board, objdir, kernels)

    def check(self, index: int, path: Path, what: str, optimize: str, samples: int = 8) -> Outcome:
        """Network `index` at `path` on the board against the oracle, integer inputs."""
        import shutil

        import target_image

        from host.client import Client
        from host.qemu import Qemu
        from host.reference import Reference

        work = path.parent / f"img{index}"
        work.mkdir(exist_ok=True)
        try:
            image = target_image.firmware(self.board, path, work, self.objs, optimize, self.kernels)
            ref = Reference(path)
            dtype = np.dtype(ref.input.dtype)
            if dtype.kind == "f":
                return Outcome(index, "skipped", what, "float input: the board check takes integer models")
            rng = np.random.default_rng(index)
            info, n = np.iinfo(dtype), ref.input.nbytes // dtype.itemsize
            data = [rng.integers(info.min, info.max, n, endpoint=True).astype(dtype).tobytes()
                    for _ in range(samples)]
            with Qemu.for_board(self.board, image) as q, Client(q.port) as client:
                got = [r.output for r in client.infer_stream(list(enumerate(data)), ref.output.nbytes)]
            expected = [ref.run(d) for d in data]
        finally:
            shutil.rmtree(work, ignore_errors=True)
        if len(set(expected)) < 2:
            return Outcome(index, "degenerate", what, "one output for every input")
        bad = sum(g != e for g, e in zip(got, expected, strict=True))
        return Outcome(index, "ok" if not bad else "FAIL.board", what, f"{bad} of {samples} outputs differ")


def run(indices: range, seed: int = 0, kernels: str = "dsp", optimize: str = "speed",
        quant: str = "int8", echo: bool = False, board: bool = False) -> list[Outcome]:
    """Check every network in `indices` (on the host's sanitizer build, or with `board` on
    the emulated board); the outcomes in order."""
    out = []
    with tempfile.TemporaryDirectory(prefix="kiln-nets-") as tmp:
        target = Board(Path(tmp), kernels) if board else None
        for i in indices:
            if target is not None:
                o = _on_board(target, i, seed, Path(tmp), optimize, quant)
            else:
                o = check(i, seed, Path(tmp), kernels=kernels, optimize=optimize, quant=quant)
            out.append(o)
            if echo:
                print(f"{i:5d} {o.result:14s} {o.what}" + (f"\n      {o.detail}" if o.result != "ok" else ""),
                      flush=True)
    return out


def _on_board(target: Board, index: int, seed: int, workdir: Path, optimize: str, quant: str) -> Outcome:
    from kiln.errors import KilnError

    path = workdir / f"net{index}.tflite"
    what = _written(index, seed, path, quant)
    if isinstance(what, Outcome):
        return what
    try:
        return target.check(index, path, what, optimize)
    except KilnError as exc:
        return Outcome(index, "refused", what, str(exc).splitlines()[0][:200])
    except Exception as exc:  # noqa: BLE001 - any escape is a finding
        return Outcome(index, "FAIL.internal", what, f"{type(exc).__name__}: {exc}"[:2000])


def main(argv: list[str] | None = None) -> int:
    """Command line."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=50)
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--kernels", default="dsp")
    ap.add_argument("--optimize", default="speed", choices=["speed", "size"])
    ap.add_argument("--quant", default="int8", choices=QUANTIZATIONS)
    ap.add_argument("--board", action="store_true",
                    help="run on the emulated board (the bench's) instead of the host's sanitizer build")
    ap.add_argument("--net", type=int, help="write network NET to --out and stop")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    if args.net is not None:
        net = write(args.net, args.seed, args.out or Path(f"net{args.net}.tflite"), args.quant)
        print(net.label)
        return 0
    start = time.monotonic()
    outcomes = run(range(args.start, args.start + args.count), args.seed, args.kernels, args.optimize,
                   args.quant, echo=True, board=args.board)
    counts = Counter(o.result for o in outcomes)
    print(f"{len(outcomes)} networks in {time.monotonic() - start:.0f} s: "
          + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    return int(any(o.result.startswith("FAIL") for o in outcomes))


if __name__ == "__main__":
    sys.exit(main())
