"""Movement and reduction operators (kiln.codegen.ops.movement) against tflite-micro.

Small models built with tf ops in Keras Lambda layers, converted by the real
TFLite converter (full int8 with a representative dataset, and float32), run by
Kiln on the host (sanitizer build) and by tflite-micro on the same seeded random
inputs: int8 and int32 outputs identical, float32 within 1e-5 relative. Scale
factors in front of the operators give tiny and huge quantization scales.

The fast part (one int8 model per operator, several operators per model) runs
in the fast loop; the slow part has 3-6 randomized models per operator and dtype
(GATHER_ND, SPACE_TO_BATCH_ND, BATCH_TO_SPACE_ND, FILL and ZEROS_LIKE share a few
models, several operators each).
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Callable

import numpy as np
import opmodels
import pytest
from kiln.codegen.registry import entries
from kiln.tflite_reader import read_tflite

SAMPLES = 20
MODULE = "kiln.codegen.ops.movement"

#: (name, builder, int8) -- builder returns a Keras model.
Spec = tuple[str, Callable[[], object], bool]


def _tf():
    import tensorflow as tf
    return tf


def _lambda_model(shape: tuple[int, ...], fn: Callable, scale: float = 1.0):
    """Input (batch 1) times `scale` (a MUL: the operator then sees that range), then fn."""
    k = opmodels._keras()
    inp = k.Input(shape=shape, batch_size=1)
    x = inp if scale == 1.0 else k.layers.Lambda(lambda t: t * scale)(inp)
    return k.Model(inp, k.layers.Lambda(fn)(x))


def _m(shape, fn, scale=1.0) -> Callable[[], object]:
    return lambda: _lambda_model(shape, fn, scale)


def fast_specs() -> list[Spec]:
    """One int8 model per operator (several operators chained per model)."""
    tf = _tf()

    def moves(t):
        a = tf.transpose(t, [0, 3, 1, 2])                          # TRANSPOSE (1,5,4,6)
        b = a[:, 4:0:-2, ::-1, 1]                                  # STRIDED_SLICE (1,2,6)
        c = tf.slice(a, [0, 1, 1, 0], [1, 2, 2, 6])                # SLICE (1,2,2,6)
        s = tf.split(c, 3, axis=3)                                 # SPLIT
        v = tf.split(c, [1, 3, 2], axis=3)                         # SPLIT_V
        u = tf.unstack(b, axis=1)                                  # UNPACK
        p = tf.stack([u[1], u[0]], axis=2)                         # PACK (1,2,2)
        g = tf.gather(b, [2, 0, 3, 3], axis=2)                     # GATHER (1,2,4)
        r = tf.concat([s[2], v[0], s[0], v[2], s[1], v[1]], 3)     # CONCATENATION
        return tf.concat([tf.reshape(r, [1, -1]), tf.reshape(p, [1, -1]),
                          tf.reshape(g, [1, -1])], 1)

    def reduces(t):
        m = tf.reduce_mean(t, axis=[3], keepdims=True)
        s = tf.reduce_sum(t, axis=[1])
        hi = tf.reduce_max(t, axis=[2, 3])
        lo = tf.reduce_min(t, axis=1)
        return tf.concat([tf.reshape(m, [1, -1]) * 1.0, tf.reshape(s, [1, -1]) * 0.3,
                          tf.reshape(hi, [1, -1]), tf.reshape(lo, [1, -1])], 1)

    def args(t):
        i = tf.argmax(t, axis=2, output_type=tf.int32)
        j = tf.argmin(t, axis=1, output_type=tf.int32)
        return tf.concat([tf.reshape(i, [1, -1]), tf.reshape(j, [1, -1])], 1)

    def int32_moves(t):
        i = tf.argmax(t, axis=3, output_type=tf.int32)             # (1,5,6) int32
        b = i[:, ::-2, 1:4]                                        # STRIDED_SLICE (1,3,3)
        c = tf.stack([b[:, 0], b[:, 2]], axis=1)                   # STRIDED_SLICE, PACK (1,2,3)
        d = i[:, 1:, ::-1]                                         # (1,4,6)
        e = tf.concat([b[:, :2], c], axis=2)                       # int32 CONCATENATION (1,2,6)
        # (the outer concatenation of rows needs no kernel: its inputs are its slices)
        return tf.concat([tf.reshape(v, [1, -1]) for v in (c, d, e)], 1)

    def more_moves(t):
        a = tf.reverse(t, [2])                                     # REVERSE_V2 (1,4,6,4)
        b = tf.nn.space_to_depth(a, 2)                             # SPACE_TO_DEPTH (1,2,3,16)
        c = tf.nn.depth_to_space(b[:, :, :, 4:], 2)                # DEPTH_TO_SPACE (1,4,6,3)
        d = tf.pad(t, [[0, 0], [1, 2], [2, 0], [0, 0]], "REFLECT")  # MIRROR_PAD (1,7,8,4)
        e = tf.broadcast_to(t[:, :1], [1, 3, 6, 4])                # BROADCAST_TO
        f = tf.cast(tf.cast(t * 5.0, tf.int32), tf.float32) * 0.2   # CAST both ways
        return tf.concat([tf.reshape(v, [1, -1]) for v in (c, d, e, f)], 1)

    def nd_moves(t):
        a = tf.space_to_batch_nd(t, [2, 3], [[0, 0], [0, 0]])       # SPACE_TO_BATCH_ND (6,2,2,4)
        b = tf.compat.v1.batch_to_space_nd(a[:, :, :, 1:], [3, 2], [[1, 0], [0, 1]])  # (1,5,3,3)
        g = tf.gather_nd(t, [[0, 1, 2], [0, 3, 5], [0, 0, 0]])      # GATHER_ND (3,4)
        f = tf.fill([1, 2, 3], t[0, 1, 1, 1])                      # FILL of a runtime value
        return tf.concat([tf.reshape(v, [1, -1]) for v in (b, g, f)], 1)

    return [("fast_nd_moves", _m((4, 6, 4), nd_moves), True),
            ("fast_int32_moves", _m((5, 6, 7), int32_moves), True),
            ("fast_more_moves", _m((4, 6, 4), more_moves), True),
            ("fast_moves", _m((4, 6, 5), moves), True),
            ("fast_reduces", _m((3, 4, 5), reduces), True),
            ("fast_args", _m((5, 7), args), True)]


#: The data-movement models also converted to float32 (the element-size path of the copy kernels).
FLOAT_TOO = {"transpose_r4", "sslice_neg", "slice_a", "gather_runtime", "split_ax1", "splitv_ax2",
             "unpack_ax1",
             "pack_ax0", "concat_ax1", "depth_to_space2", "space_to_depth2", "reverse_ax1",
             "broadcast_rows", "mirror_reflect", "tile_rows"}


def slow_specs(seed: int = 77) -> list[Spec]:
    """3-6 randomized models per operator, each int8 and float32."""
    tf = _tf()
    r = random.Random(seed)
    out: list[Spec] = []
    scales = [1e-3, 1.0, 40.0]

    def add(name: str, shape, fn, scale: float = 1.0, both: bool = True) -> None:
        for int8 in (True, False) if both else (True,):
            out.append((f"{name}_{'s8' if int8 else 'f32'}", _m(shape, fn, scale), int8))

    def copy(name: str, shape, fn, scale: float = 1.0) -> None:
        """A pure data movement: one byte-wise kernel for every dtype (kiln_strided_copy and
        kiln_table_copy take the element size), so int8 models test it; the float32 path is
        covered by the first model of each operator and the fast models."""
        add(name, shape, fn, scale, both=name in FLOAT_TOO)

    def flat(t):
        return tf.reshape(t, [1, -1])

    # TRANSPOSE: rank 3, 4 and (inside the model) 5 (tflite-micro's limit)
    copy("transpose_r4", (3, 4, 5), lambda t: tf.transpose(t, [0, 2, 3, 1]), 40.0)
    copy("transpose_r5", (6, 4, 5),
        lambda t: flat(tf.transpose(tf.reshape(t, [1, 2, 3, 4, 5]), [0, 4, 2, 1, 3])))
    copy("transpose_r5b", (6, 4, 6),
        lambda t: flat(tf.transpose(tf.reshape(t, [2, 3, 2, 2, 6]), [4, 3, 1, 0, 2])), 1e-3)
    # STRIDED_SLICE: masks, negative strides, shrink
    copy("sslice_neg", (6, 7, 3), lambda t: t[:, ::-2, 1:6:3, :])
    copy("sslice_shrink", (6, 7, 3), lambda t: t[:, 2, -1:0:-1, 1:])
    copy("sslice_begin_end", (8, 5), lambda t: t[:, -6:-1:2, :3], 40.0)
    # SLICE
    copy("slice_a", (6, 7, 3), lambda t: tf.slice(t, [0, 1, 2, 0], [1, 4, -1, 2]))
    copy("slice_b", (9, 4), lambda t: tf.slice(t, [0, 3, 1], [1, 5, 2]), 1e-3)
    copy("slice_c", (10, 6, 4), lambda t: flat(tf.slice(tf.reshape(t, [1, 2, 5, 6, 4]),
                                                        [0, 1, 2, 0, 1], [1, 1, 3, 6, 2])))
    # GATHER: constant indices on every axis, runtime int32 indices
    for axis in (3,):
        idx = [r.randrange(4) for _ in range(r.randint(2, 6))]
        add(f"gather_ax{axis}", (4, 4, 4), lambda t, a=axis, i=idx: tf.gather(t, i, axis=a))
    copy("gather_2d_idx", (6, 5), lambda t: flat(tf.gather(t, [[1, 5], [0, 0], [3, 2]], axis=1)), 40.0)
    copy("gather_runtime", (5, 6), lambda t: tf.gather(
        t, tf.argmax(t[0], axis=1, output_type=tf.int32), axis=2))
    table = np.random.default_rng(5).normal(0, 1, (6, 3)).astype(np.float32)
    copy("gather_table", (4, 6), lambda t: tf.gather(tf.constant(table), tf.argmax(
        t, axis=-1, output_type=tf.int32)) + 0.0 * t[:, :, :3])
    # SPLIT, SPLIT_V, UNPACK (several outputs), PACK, CONCATENATION on each axis
    copy("split_ax1", (6, 4, 3), lambda t: tf.concat(tf.split(t, 3, axis=1)[::-1], axis=1))
    copy("split_ax3", (3, 4, 6), lambda t: tf.concat(tf.split(t, 2, axis=3)[::-1], axis=2), 1e-3)
    copy("split_neg_ax", (4, 8), lambda t: tf.concat(tf.split(t, 4, axis=-1)[::-1], axis=1))
    copy("splitv_ax2", (3, 7, 2), lambda t: tf.concat(tf.split(t, [2, 4, 1], axis=2)[::-1], axis=2))
    copy("splitv_ax1", (7, 3), lambda t: tf.concat(tf.split(t, [3, -1], axis=1)[::-1], axis=1), 40.0)
    copy("splitv_ax3", (2, 3, 9), lambda t: tf.concat(tf.split(t, [5, 1, 3], axis=3)[::-1], axis=3))
    copy("unpack_ax1", (3, 4, 5), lambda t: tf.stack(tf.unstack(t, axis=1)[::-1], axis=3))
    copy("unpack_ax3", (3, 4, 5), lambda t: tf.concat(tf.unstack(t, axis=3)[::-1], axis=2))
    copy("pack_ax0", (4, 3), lambda t: flat(tf.stack(tf.unstack(t, axis=1), axis=0)))
    copy("pack_ax_last", (2, 3, 4), lambda t: flat(tf.stack(tf.unstack(t, axis=2), axis=-1)))
    copy("pack_ax2", (2, 3, 4), lambda t: flat(tf.stack(tf.unstack(t, axis=1)[::-1], axis=2)), 40.0)
    copy("concat_ax1", (3, 4, 2), lambda t: tf.concat([t, t[:, ::-1]], axis=1))
    copy("concat_ax3", (3, 4, 2), lambda t: tf.concat([t[:, :, :, ::-1], t], axis=3))
    # ARG_MAX / ARG_MIN (ties: relu makes many zeros, int8 inputs repeat values)
    add("argmin_last", (5, 6), lambda t: tf.argmin(t, axis=-1, output_type=tf.int32), 1e-3)
    add("argmax_last", (4, 9), lambda t: tf.argmax(t, axis=-1, output_type=tf.int32))
    add("argmax_ax1", (6, 3, 4), lambda t: tf.argmax(t, axis=1, output_type=tf.int32))
    add("argmin_ax2", (3, 5, 4), lambda t: tf.argmin(t, axis=2, output_type=tf.int32))
    # ties: every value appears twice along the axis, the first copy must win
    add("argmin_ties", (6, 4),
        lambda t: tf.argmin(tf.concat([t, t[:, :, ::-1]], axis=2), axis=2, output_type=tf.int32))
    add("argmax_ties", (3, 5),
        lambda t: tf.argmax(tf.concat([t[:, ::-1], t], axis=1), axis=1, output_type=tf.int32))
    # DEPTH_TO_SPACE, SPACE_TO_DEPTH, REVERSE_V2, BROADCAST_TO
    copy("depth_to_space2", (3, 2, 8), lambda t: tf.nn.depth_to_space(t, 2))
    copy("depth_to_space3", (2, 2, 18), lambda t: tf.nn.depth_to_space(t, 3), 40.0)
    copy("depth_to_space_r1", (1, 3, 12), lambda t: tf.nn.depth_to_space(t, 2), 1e-3)
    copy("space_to_depth2", (4, 6, 3), lambda t: tf.nn.space_to_depth(t, 2))
    copy("space_to_depth3", (6, 3, 2), lambda t: tf.nn.space_to_depth(t, 3), 1e-3)
    copy("space_to_depth_c1", (4, 4, 1), lambda t: tf.nn.space_to_depth(t, 4), 40.0)
    copy("reverse_ax1", (4, 5, 3), lambda t: tf.reverse(t, [1]))
    copy("reverse_ax23", (4, 5, 3), lambda t: tf.reverse(t, [2, -1]))
    copy("reverse_r2", (7,), lambda t: tf.reverse(t, [1]), 40.0)
    copy("broadcast_rows", (1, 5), lambda t: tf.broadcast_to(t, [1, 4, 5]))
    copy("broadcast_mid", (3, 1, 2), lambda t: tf.broadcast_to(t, [1, 3, 4, 2]))
    copy("broadcast_front", (2, 3),
         lambda t: flat(tf.broadcast_to(tf.reshape(t, [1, 1, 2, 3]), [2, 3, 2, 3])))
    # Reductions: axes, keep_dims, scales
    for i, (op, fn) in enumerate([("mean", tf.reduce_mean), ("sum", tf.reduce_sum),
                                  ("max", tf.reduce_max), ("min", tf.reduce_min)]):
        variants = [
            ("last_keep", (3, 4, 5), lambda t, f=fn: f(t, axis=[3], keepdims=True)),
            ("ax1", (3, 4, 5), lambda t, f=fn: f(t, axis=1)),
            ("ax13", (3, 4, 5), lambda t, f=fn: f(t, axis=[1, 3])),
            ("all_keep", (3, 4, 2), lambda t, f=fn: f(t, axis=[1, 2, 3], keepdims=True)),
            ("r2", (9,), lambda t, f=fn: f(t, axis=-1, keepdims=True)),
        ]
        for j in range(3):  # three of the five per operator, rotating
            vname, shape, vfn = variants[(i + 2 * j) % 5]
            add(f"{op}_{vname}", shape, vfn, scales[(i + j) % 3])
    # MIRROR_PAD, REFLECT and SYMMETRIC
    copy("mirror_reflect", (5, 4, 3), lambda t: tf.pad(t, [[0, 0], [2, 1], [0, 3], [1, 1]], "REFLECT"))
    copy("mirror_symmetric", (5, 4, 3),
        lambda t: tf.pad(t, [[0, 0], [1, 5], [4, 0], [0, 2]], "SYMMETRIC"), 40.0)
    copy("mirror_r2", (6,), lambda t: tf.pad(t, [[0, 0], [5, 3]], "REFLECT"), 1e-3)
    # TILE: axes longer than 1 (TensorFlow's reference kernels judge it), and an axis of
    # size 1 (tflite-micro, through the BROADCAST_TO the oracle rewrites it into)
    copy("tile_rows", (2, 3), lambda t: tf.tile(t, [1, 2, 3]))
    copy("tile_unit_axis", (3, 1, 4), lambda t: tf.tile(t, [1, 1, 5, 1]), 40.0)
    # CAST: each converted model says which (from, to) it has
    for int8 in (True, False):
        sfx = "s8" if int8 else "f32"
        out.append((f"cast_to_int_{sfx}", _m((4, 5), lambda t: tf.cast(t * 7.0, tf.int32)), int8))
        out.append((f"cast_back_{sfx}", _m((4, 5), lambda t: tf.cast(tf.cast(t * 7.0, tf.int32),
                                                                     tf.float32) * 0.5), int8))
        out.append((f"cast_arg_{sfx}", _m((4, 6), lambda t: tf.cast(
            tf.argmax(t, axis=-1, output_type=tf.int32), tf.float32)), int8))
    # spatial MEAN with equal int8 parameters (forced by the CONCATENATION): this module's kernel
    add("mean_spatial_same", (4, 4, 3), lambda t: tf.concat(
        [flat(tf.reduce_mean(t, axis=[1, 2])), flat(tf.reduce_min(t, axis=1))], 1))
    # GATHER_ND, SPACE_TO_BATCH_ND, BATCH_TO_SPACE_ND (several per model: conversions are
    # the suite's cost). tflite-micro leaves SPACE_TO_BATCH_ND's padding uninitialized (it
    # never sets the pad value), so the padded models cannot be compared: no padding here.
    def nd_a(t):
        g = tf.gather_nd(t, [[[0, 2], [0, 0]], [[0, 4], [0, 1]]])   # nd 2 of 4: (2,2,5,3) slices
        s = tf.space_to_batch_nd(t, [1, 3], [[0, 0], [0, 0]])      # (3,5,1,3)
        b = tf.compat.v1.batch_to_space_nd(tf.concat([s, s[::-1]], 0), [2, 3],
                                           [[0, 1], [2, 0]])       # (1,9,1,3)
        return tf.concat([flat(g), flat(b)], 1)

    def nd_b(t):
        g = tf.gather_nd(t, [[0, 3, 1], [0, 0, 4], [0, 5, 0]])     # every axis: elements
        s = tf.space_to_batch_nd(t, [3], [[0, 0]])                 # 3-D: (3,2,5)
        b = tf.compat.v1.batch_to_space_nd(s[:, :, 1:], [3], [[2, 1]])  # (1,3,4)
        return tf.concat([flat(g), flat(s), flat(b)], 1)

    def nd_runtime(t):
        # runtime int32 indices: argmax over rows and over columns of a 6x6 matrix
        m = t[0, :, :, 0]
        i = tf.stack([tf.argmax(m, 0, output_type=tf.int32),
                      tf.argmin(m, 1, output_type=tf.int32)], axis=1)  # (6,2)
        g = tf.gather_nd(t[0], i)                                   # (6,2)
        f = tf.fill([1, 3, 4], tf.reduce_max(t))                    # FILL of a reduction
        n = tf.cast(tf.fill([1, 5], tf.argmax(m[0], output_type=tf.int32)), tf.float32)  # int32
        return tf.concat([flat(g), flat(f), 0.1 * n], 1)

    for int8 in (True, False):
        sfx = "s8" if int8 else "f32"
        out.append((f"nd_a_{sfx}", _m((5, 3, 3), nd_a), int8))
        out.append((f"nd_runtime_{sfx}", _m((6, 6, 2), nd_runtime), int8))
    out.append(("nd_b_s8", _m((6, 5), nd_b, 1e-3), True))
    # ZEROS_LIKE is folded unless its input's shape is dynamic: a batch-less input keeps it
    # (float32 even in an int8 model: the converter does not quantize it), also on int32.
    def zeros(t):
        a = tf.argmax(t, axis=-1, output_type=tf.int32)                     # (batch, 4) int32
        i = tf.cast(tf.concat([tf.zeros_like(a), a], 1), tf.float32)       # int32 ZEROS_LIKE
        return tf.concat([tf.reshape(tf.concat([tf.zeros_like(t), t], 2), [-1, 40]), i], 1)

    out.append(("zeros_like_f32", _dynamic_model((4, 5), zeros), False))
    return out


def _dynamic_model(shape: tuple[int, ...], fn: Callable) -> Callable[[], object]:
    """A model whose input has no fixed batch size (the converter then keeps shape ops)."""
    def build():
        k = opmodels._keras()
        inp = k.Input(shape=shape)
        return k.Model(inp, k.layers.Lambda(fn)(inp))
    return build


def _convert_all(specs: list[Spec], tmp) -> dict:
    paths = {}
    for name, builder, int8 in specs:
        seed = zlib.crc32(name.encode()) % 1000
        paths[name] = tmp / f"{name}.tflite"
        paths[name].write_bytes(opmodels.convert(opmodels.build(builder, seed), int8=int8, seed=seed,
                                                      samples=16))
    return paths


@pytest.fixture(scope="module")
def fast_models(tmp_path_factory) -> dict:
    """The fast subset, converted once."""
    return _convert_all(fast_specs(), tmp_path_factory.mktemp("ops_movement_fast"))


@pytest.fixture(scope="module")
def slow_models(tmp_path_factory) -> dict:
    """Every randomized model, converted once."""
    return _convert_all(slow_specs(), tmp_path_factory.mktemp("ops_movement_slow"))


def _check(path) -> set[str]:
    res, used = opmodels.check_random(path, zlib.crc32(path.stem.encode()) % 1000, SAMPLES)
    assert res.ok, res.summary()
    if res.dtype != "float32":
        assert res.identical_samples == SAMPLES, res.summary()
    return used


def _module_kernels() -> set[tuple[str, str]]:
    return {(k.op, k.dtype) for k in entries("portable") if k.build.__module__ == MODULE}


@pytest.mark.parametrize("name", [s[0] for s in fast_specs()])
def test_fast_int8(fast_models: dict, name: str) -> None:
    _check(fast_models[name])


@pytest.mark.slow
@pytest.mark.parametrize("name", [s[0] for s in slow_specs()])
def test_randomized(slow_models: dict, name: str) -> None:
    _check(slow_models[name])


@pytest.mark.slow
def test_padded_space_to_batch_follows_tflite(tmp_path) -> None:
    """tflite-micro never sets SPACE_TO_BATCH_ND's pad value (its padded outputs are
    whatever its arena held), so a padded model is checked against TensorFlow Lite's
    reference kernels instead: int8 pads with the output zero point (-128 after the RELU)."""
    import tensorflow as tf
    from kiln import hostcheck, oracle

    name = "s2b_padded_s8"
    build = _m((5, 4, 3), lambda t: tf.space_to_batch_nd(tf.nn.relu(t), [2, 3], [[1, 0], [0, 2]]))
    path = _convert_all([(name, build, True)], tmp_path)[name]
    hm = hostcheck.HostModel(path, sanitize=True)
    try:
        xs = hostcheck.make_inputs(hm, None, 8, 5)
        got = np.asarray(hm.invoke_many(xs))
    finally:
        hm.close()
    it = oracle.TfliteReference(path)
    ref = []
    for x in xs:
        it.set_input(x, 0)
        it.invoke()
        ref.append(it.get_output(0))
    ref = np.asarray(ref).reshape(got.shape)
    assert (ref == -128).any() and len(np.unique(ref)) > 2, "no padding or degenerate output"
    np.testing.assert_array_equal(got, ref)


@pytest.mark.slow
def test_concatenation_of_more_inputs_than_tflite_micro_takes(tmp_path) -> None:
    """Keras' UpSampling1D concatenates every row twice: 16 inputs, where tflite-micro's
    CONCATENATION takes at most 10 (it failed to allocate: an internal error in
    check-host). The oracle runs it as a tree of concatenations; Kiln, with either
    kernel set, is identical to it."""
    import opmodels
    from kiln import oracle

    L = opmodels._keras().layers
    model = opmodels.build(lambda: opmodels._seq((10, 6), L.Conv1D(8, 3), L.UpSampling1D(2), L.Flatten(),
                                                 L.Dense(3)), 3)
    path = tmp_path / "up1d.tflite"
    path.write_bytes(opmodels.convert(model, int8=True))
    concat = [op for op in oracle.read_tflite(path).ops if op.op == "CONCATENATION"]
    assert concat and len(concat[0].inputs) > oracle.MICRO_CONCAT_INPUTS
    for kernels in ("portable", "dsp"):
        res, _ = opmodels.check_random(path, 3, 6, kernels=kernels)
        assert res.ok and res.identical_samples == 6, res.summary()


@pytest.mark.slow
def test_models_select_every_kernel(fast_models: dict, slow_models: dict) -> None:
    """Every (operator, dtype) this module registers runs in some model here (the
    global coverage tests skip the ops package)."""
    from kiln.codegen.registry import op_dtype, select

    seen = set()
    for path in [*fast_models.values(), *slow_models.values()]:
        graph = read_tflite(path)
        for op in graph.ops:
            impl = select(graph, op)
            if impl.build.__module__ == MODULE:
                seen.add((op.op, op_dtype(graph, op)))
    missing = _module_kernels() - seen
    assert not missing, f"registered but never selected: {sorted(missing)}"
