"""The ahead-of-time compiler: quantization arithmetic, reader and folding,
memory planner, generated C (host and Cortex-M33), errors, SCons targets."""

from __future__ import annotations

import ctypes
import hashlib
import json
import shutil
import subprocess

import numpy as np
import opmodels
import pytest
from kiln import ROOT, codegen, hostcheck, quantmath, registry
from kiln.errors import KilnError
from kiln.ir import Graph, Operator, Tensor
from kiln.planner import inplace_input, plan
from kiln.tflite_reader import parse_tflite, read_tflite
from support import run_scons, variant_path


@pytest.fixture(scope="module")
def small_models(tmp_path_factory) -> dict:
    """Two converted models: one with in-graph shape arithmetic, one with RELU_N1_TO_1."""
    out = tmp_path_factory.mktemp("compiler")
    paths = {"dyn": out / "dyn.tflite", "unsupported": out / "unsupported.tflite"}
    paths["dyn"].write_bytes(opmodels.convert(opmodels.build(opmodels.dynamic_reshape_model, 1)))
    paths["unsupported"].write_bytes(opmodels.convert(opmodels.build(opmodels.unsupported_op_model, 2)))
    return paths


@pytest.fixture(scope="module")
def fashion_ptq():
    return variant_path("fashion_mnist", "ptq")


# ---- quantization arithmetic ---------------------------------------------------

@pytest.mark.parametrize("real, expected", [
    (0.5, (1 << 30, 0)),
    (1.0, (1 << 30, 1)),
    (0.75, (3 << 29, 0)),
    (1 - 2.0 ** -33, (1 << 30, 1)),      # rounds up to 2^31: halved, exponent raised
    (2.0 ** -40, (0, 0)),                # exponent below -31 flushes to zero
    (0.0, (0, 0)),
    (0.1, (1717986918, -3)),
])
def test_quantize_multiplier(real: float, expected: tuple[int, int]) -> None:
    assert quantmath.quantize_multiplier(real) == expected


def test_quantize_multiplier_reconstructs_the_real_value() -> None:
    rng = np.random.default_rng(0)
    for real in rng.uniform(1e-6, 4.0, 500):
        q, s = quantmath.quantize_multiplier(float(real))
        assert (1 << 30) <= q < (1 << 31)
        assert abs(q * 2.0 ** (s - 31) - real) <= real * 2.0 ** -30


def test_activation_ranges() -> None:
    assert quantmath.activation_range("NONE", 0.05, -10) == (-128, 127)
    assert quantmath.activation_range("RELU", 0.05, -10) == (-10, 127)
    assert quantmath.activation_range("RELU6", 0.05, -10) == (-10, 110)
    assert quantmath.activation_range("RELU6", 0.01, -128) == (-128, 127)  # 6/0.01 saturates


def test_softmax_and_add_parameters() -> None:
    sm = quantmath.softmax_params(1.0, 1.0 / 16)
    assert sm["input_left_shift"] >= 0 and sm["diff_min"] < 0
    assert sm["input_multiplier"] * 2.0 ** (sm["input_left_shift"] - 31) == pytest.approx(2.0 ** 22)
    add = quantmath.add_params(0.02, 0.01, 0.03)
    assert add["left_shift"] == 20 and add["a_mult"] == 1 << 30 and add["a_shift"] == 0
    assert add["b_mult"] == 1 << 30 and add["b_shift"] == -1


# ---- reader, folding, aliases ----------------------------------------------------

def test_shape_arithmetic_is_folded_and_reshape_aliased(small_models: dict) -> None:
    raw = parse_tflite(small_models["dyn"].read_bytes())
    assert {"SHAPE", "STRIDED_SLICE", "PACK", "RESHAPE"} <= {op.op for op in raw.ops}
    g = read_tflite(small_models["dyn"])
    assert [op.op for op in g.ops] == ["CONV_2D", "FULLY_CONNECTED"]
    fc_in = g.ops[1].inputs[0]
    assert g.storage(fc_in) == g.ops[0].outputs[0]  # the reshape shares the conv's bytes
    res = hostcheck.check_host(small_models["dyn"], count=30)
    assert res.ok and res.identical_samples == 30, res.summary()


def test_not_a_tflite_file(tmp_path) -> None:
    bad = tmp_path / "model.tflite"
    bad.write_bytes(b"\x00" * 64)
    with pytest.raises(KilnError, match="not a .tflite flatbuffer"):
        codegen.compile_model(bad)
    with pytest.raises(KilnError, match="cannot read"):
        codegen.compile_model(tmp_path / "missing.tflite")


def test_unsupported_operator_names_op_index_and_tensors(small_models: dict, tmp_path) -> None:
    g = parse_tflite(small_models["unsupported"].read_bytes())
    index = next(op.index for op in g.ops if op.op == "RELU_N1_TO_1")
    with pytest.raises(KilnError) as err:
        codegen.generate(small_models["unsupported"], tmp_path / "gen")
    msg = str(err.value)
    assert f"unsupported operator RELU_N1_TO_1 at index {index}" in msg
    assert "int8[1, 4]" in msg and "inputs:" in msg and "outputs:" in msg and "Fix:" in msg
    assert not (tmp_path / "gen" / "kiln_model.c").exists()  # nothing half-written


# ---- planner -----------------------------------------------------------------------

def test_fashion_mnist_plan(fashion_ptq) -> None:
    """conv -> max pool -> dense: without in-place pooling the pool's input and
    output are live together; with it, the conv's input and output are the peak."""
    g = read_tflite(fashion_ptq)
    assert [op.op for op in g.ops] == ["CONV_2D", "MAX_POOL_2D", "FULLY_CONNECTED"]
    image, conv_out, pool_out = (g.tensors[g.ops[i].inputs[0]].nbytes for i in range(3))
    assert plan(g, inplace=False).min_bytes_no_inplace == conv_out + pool_out
    p = plan(g)
    peak = image + conv_out
    assert p.min_bytes == p.arena_bytes == peak
    assert len(p.inplace) == 1 and g.ops[p.inplace[0][0]].op == "MAX_POOL_2D"
    report = json.loads(p.to_json())
    assert report["arena_bytes"] == peak and len(report["layers"]) == len(g.ops)
    assert f"theoretical minimum {peak}" in p.table()


def _pool_graph(h: int, k: int, stride: int, padding: str) -> Graph:
    out = (h + stride - 1) // stride if padding == "SAME" else (h - k) // stride + 1
    t = [Tensor(0, "x", (1, h, h, 3), "int8"), Tensor(1, "y", (1, out, out, 3), "int8")]
    op = Operator(0, "MAX_POOL_2D", [0], [1], {"Padding": padding, "StrideH": stride, "StrideW": stride,
                                               "FilterHeight": k, "FilterWidth": k})
    return Graph("pool", t, [op], [0], [1])


@pytest.mark.parametrize("h, k, stride, padding, safe", [
    (26, 2, 2, "VALID", True),
    (9, 3, 2, "VALID", True),
    (8, 3, 1, "SAME", False),   # reads the row above: writing would clobber it
    (8, 3, 1, "VALID", True),
    (7, 2, 2, "SAME", True),
])
def test_pool_in_place_condition(h: int, k: int, stride: int, padding: str, safe: bool) -> None:
    g = _pool_graph(h, k, stride, padding)
    assert (inplace_input(g, g.ops[0]) is not None) == safe


def _assert_plan_valid(p) -> None:
    for a in p.buffers:
        assert a.offset % p.align == 0 and a.offset + a.size <= p.arena_bytes
        for b in p.buffers:
            if a.id < b.id and a.first <= b.last and b.first <= a.last:
                assert a.offset + a.size <= b.offset or b.offset + b.size <= a.offset, (a, b)


@pytest.mark.slow
@pytest.mark.parametrize("variant", registry.variants("fashion_mnist"))
def test_every_variant_compiles_to_a_valid_plan(variant: str) -> None:
    m = codegen.compile_model(variant_path("fashion_mnist", variant))
    _assert_plan_valid(m.plan)
    assert m.plan.arena_bytes >= m.plan.min_bytes


# ---- generated C -----------------------------------------------------------------

def test_generation_is_deterministic(fashion_ptq, tmp_path) -> None:
    a = codegen.generate(fashion_ptq, tmp_path / "a", name="fashion_mnist/ptq")
    b = codegen.generate(fashion_ptq, tmp_path / "b", name="fashion_mnist/ptq")
    assert [p.name for p in a] == ["kiln_model.c", "kiln_model.h", "kiln_layers.json"]
    for pa, pb in zip(a, b, strict=True):
        assert pa.read_bytes() == pb.read_bytes()
    header = (tmp_path / "a" / "kiln_model.h").read_text()
    assert "#define KILN_MODEL_INPUT_BYTES 784u" in header
    assert "#define KILN_MODEL_OUTPUT_BYTES 10u" in header
    assert "#define KILN_MODEL_N_LAYERS 3u" in header


def test_descriptor_in_the_compiled_library(fashion_ptq) -> None:
    hm = hostcheck.HostModel(fashion_ptq, name="fashion_mnist/ptq")
    try:
        info_ptr = ctypes.c_char_p.in_dll(hm.lib, "kiln_model")  # name is the first field
        assert info_ptr.value == b"fashion_mnist/ptq"
        class TensorDesc(ctypes.Structure):  # kiln_tensor_desc_t
            _fields_ = [("dtype", ctypes.c_int), ("rank", ctypes.c_uint8), ("dims", ctypes.c_uint16 * 4),
                        ("bytes", ctypes.c_uint32), ("scale", ctypes.c_float), ("zero_point", ctypes.c_int32)]

        class Desc(ctypes.Structure):
            _fields_ = [("name", ctypes.c_char_p), ("sha", ctypes.c_char_p),
                        ("n_inputs", ctypes.c_uint32), ("n_outputs", ctypes.c_uint32),
                        ("inputs", ctypes.POINTER(TensorDesc)), ("outputs", ctypes.POINTER(TensorDesc)),
                        ("arena", ctypes.c_uint32), ("weights", ctypes.c_uint32),
                        ("macs", ctypes.c_uint32), ("n_layers", ctypes.c_uint32),
                        ("layers", ctypes.c_void_p), ("info_json", ctypes.c_char_p)]
        d = Desc.in_dll(hm.lib, "kiln_model")
        info = json.loads(d.info_json)
        assert d.sha.decode() == hashlib.sha256(fashion_ptq.read_bytes()).hexdigest() == info["tflite_sha256"]
        assert (d.n_inputs, d.n_outputs) == (1, 1)
        x, y = d.inputs[0], d.outputs[0]
        assert (x.dtype, x.rank, list(x.dims), x.bytes) == (1, 4, [1, 28, 28, 1], 784)
        assert (y.bytes, y.zero_point) == (10, info["outputs"][0]["zero_point"])
        assert d.arena == info["arena_bytes"] == plan(read_tflite(fashion_ptq)).arena_bytes
        assert d.n_layers == len(info["layers"]) == 3
        assert info["inputs"] == [{"name": info["inputs"][0]["name"], "dtype": "int8",
                                   "shape": [1, 28, 28, 1], "bytes": 784, "scale": pytest.approx(1 / 255),
                                   "zero_point": -128}]
        assert info["total_macs"] == d.macs == 26 * 26 * 12 * 9 + 2028 * 10
        assert [la["op"] for la in info["layers"]] == ["CONV_2D", "MAX_POOL_2D", "FULLY_CONNECTED"]
    finally:
        hm.close()


@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="needs arm-none-eabi-gcc")
def test_generated_code_builds_for_cortex_m33_without_warnings(fashion_ptq, tmp_path) -> None:
    from elftools.elf.elffile import ELFFile

    codegen.generate(fashion_ptq, tmp_path)
    obj = tmp_path / "kiln_model.o"
    subprocess.run(["arm-none-eabi-gcc", "-mcpu=cortex-m33", "-mthumb", "-std=c99", "-Os", "-Wall",
                    "-Wextra", "-Werror", f"-I{ROOT / 'firmware/runtime/include'}", f"-I{tmp_path}",
                    "-c", str(tmp_path / "kiln_model.c"), "-o", str(obj)], check=True)
    with obj.open("rb") as fh:
        elf = ELFFile(fh)
        symtab = elf.get_section_by_name(".symtab")
        where = {s.name: elf.get_section(s["st_shndx"]).name for s in symtab.iter_symbols()
                 if s.name.startswith("kiln_") and isinstance(s["st_shndx"], int)}
    assert where["kiln_arena"].startswith(".bss")
    weights = [n for n in where if n.startswith("kiln_t")]
    assert weights and all(where[n].startswith(".rodata") for n in weights)
    assert where["kiln_l0_p"].startswith(".rodata")


# ---- SCons ---------------------------------------------------------------------------

@pytest.mark.slow
def test_scons_check_host(small_models: dict, fashion_ptq, tmp_path) -> None:
    ok = run_scons("check-host", f"TFLITE={small_models['dyn']}", "COUNT=10", check=False)
    assert ok.returncode == 0, ok.stderr
    assert "10 inputs, 10 outputs identical" in ok.stdout and "PASS" in ok.stdout
    bad = run_scons("check-host", f"TFLITE={small_models['unsupported']}", "COUNT=5", check=False)
    assert bad.returncode != 0
    assert "unsupported operator RELU_N1_TO_1" in bad.stderr
    # INPUTS: float images get quantized with the model's input scale
    from kiln import datasets
    images, _ = datasets.load_fashion_mnist("test")
    npy = tmp_path / "images.npy"
    np.save(npy, images[:25].astype(np.float32) / 255.0)
    run = run_scons("check-host", f"INPUTS={npy}", "COUNT=25", check=False)
    assert run.returncode == 0, run.stderr
    assert "fashion_mnist/ptq: 25 inputs, 25 outputs identical" in run.stdout
    wrong = tmp_path / "wrong.npy"
    np.save(wrong, np.zeros((3, 5), np.float32))
    run = run_scons("check-host", f"INPUTS={wrong}", check=False)
    assert run.returncode != 0 and "model input is [1, 28, 28, 1]" in run.stderr


def test_c_literals_round_trip_through_the_c_compiler(tmp_path) -> None:
    from kiln.codegen.cwriter import c_array, c_string

    text = 'name "quoted" back\\slash ??= trigraph é ü\ttab ' + "x" * 150
    rng = np.random.default_rng(5)
    floats = np.concatenate([rng.standard_normal(200).astype(np.float32) * 10.0 ** rng.integers(-30, 30, 200),
                             np.array([0.0, -0.0, np.finfo(np.float32).max, np.finfo(np.float32).tiny,
                                       1.0 / 255], np.float32)]).astype(np.float32)
    ints = np.array([-(1 << 31), (1 << 31) - 1, 0, -1], np.int64)
    src = tmp_path / "lit.c"
    src.write_text("#include <float.h>\n#include <stdint.h>\n"
                   f"const char *text = {c_string(text, 40)};\n"
                   + c_array("floats", "float", floats, align=8, static=False) + "\n"
                   + c_array("ints", "int32_t", ints, static=False) + "\n")
    lib = tmp_path / "lit.so"
    subprocess.run(["cc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-shared", "-fPIC", str(src),
                    "-o", str(lib)], check=True)
    so = ctypes.CDLL(str(lib))
    assert ctypes.c_char_p.in_dll(so, "text").value.decode("utf-8") == text
    got = np.ctypeslib.as_array((ctypes.c_float * len(floats)).in_dll(so, "floats"))
    assert np.array_equal(got.view(np.uint32), floats.view(np.uint32))
    assert list((ctypes.c_int32 * 4).in_dll(so, "ints")) == ints.tolist()


@pytest.mark.parametrize("kernels", ["portable", pytest.param("dsp", marks=pytest.mark.slow)])
def test_fully_connected_multiplier_takes_the_scale_product_in_double(kernels: str) -> None:
    """A trained model whose dense layer's multiplier differs in its last bit
    when input_scale * weight_scale is rounded to float32 first; on these six
    images that bit changed one output each. Now all agree with tflite-micro."""
    fixture = ROOT / "tests" / "fixtures" / "fc_double_product"
    g = read_tflite(fixture / "model.tflite")
    fc = next(op for op in g.ops if op.op == "FULLY_CONNECTED")
    si, sw, so = (float(g.tensors[fc.inputs[0]].scale[0]), float(g.tensors[fc.inputs[1]].scale[0]),
                  float(g.tensors[fc.outputs[0]].scale[0]))
    float32_product = quantmath.quantize_multiplier(
        quantmath.f32(quantmath.f32(si) * quantmath.f32(sw)) / quantmath.f32(so))
    assert quantmath.fc_multiplier(si, sw, so) != float32_product  # the case this fixture is for
    res = hostcheck.check_host(fixture / "model.tflite", inputs_npy=fixture / "inputs.npy", kernels=kernels)
    assert res.samples == 6 and res.identical_samples == 6, res.summary()


def test_every_kernel_set_has_its_c_folder_and_its_generator() -> None:
    """KERNELS= offers the folders of C under firmware/runtime/; the generator
    registers a set for each, and nothing else."""
    from kiln import firmware
    from kiln.codegen import registry as kernel_registry

    assert set(firmware.KERNEL_SETS) - {"auto"} == set(kernel_registry.KERNEL_SETS)
