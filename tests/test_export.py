"""`scons export` (issue 16): the exported tree builds with CMake and
arm-none-eabi-gcc into static libraries that a minimal program for the
emulated board links and runs bit-identical to tflite-micro, two models in one
image; the same tree builds with the host gcc (CMake and the Makefile
fragment) and matches the oracle; the runtime files it ships are the ones the
models call, found by a scan that agrees with the compiled objects' symbols;
and the firmware's generated C is the export's, byte for byte."""

from __future__ import annotations

import json
import os
import re
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest
from kiln import firmware as fw
from kiln import hostcheck, oracle, runtime_files
from support import ROOT, have, run_scons, variant_path

BOARD = "mps2_an505"
APP = ROOT / "tests" / "c" / "export_app"
SAMPLES = 6

needs_cmake = pytest.mark.skipif(not have("cmake") or not have("make"),
                                 reason="cmake or make missing (toolchain/setup)")


def export(out: Path, *args: str) -> subprocess.CompletedProcess:
    return run_scons("export", f"OUT={out}", *args)


def inputs_for(tflite: Path, n: int, seed: int) -> np.ndarray:
    """n seeded random inputs in the model's input dtype."""
    interp, _ = oracle.open_reference(tflite)
    d = interp.get_input_details(0)
    rng = np.random.default_rng(seed)
    dtype = np.dtype(d["dtype"])
    shape = (n, *d["shape"])
    if dtype == np.float32:
        return rng.random(shape, dtype=np.float32)
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max + 1, size=shape).astype(dtype)


def cmake_build(src: Path, build: Path, *args: str) -> None:
    for cmd in (["cmake", "-S", str(src), "-B", str(build), *args],
                ["cmake", "--build", str(build), "-j2"]):
        proc = subprocess.run(cmd, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        assert "warning:" not in proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def two_models(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """fashion_mnist ptq (int8, dsp kernels) as `fmnist` and float as `fflt`,
    exported into one folder for the emulated M33."""
    out = tmp_path_factory.mktemp("export") / "kiln"
    models = {"fmnist": variant_path("fashion_mnist", "ptq"), "fflt": variant_path("fashion_mnist", "float")}
    first = export(out, "NET=fashion_mnist", "MODEL=ptq", f"BOARD={BOARD}", "PREFIX=fmnist")
    export(out, "NET=fashion_mnist", "MODEL=float", f"BOARD={BOARD}", "PREFIX=fflt")
    return {"out": out, "models": models, "stdout": first.stdout}


def test_export_tree_holds_the_models_their_kernels_and_the_glue(two_models: dict) -> None:
    out = two_models["out"]
    manifest = json.loads((out / "kiln-export.json").read_text())
    assert (manifest["cpu"], manifest["kernels"], manifest["api_version"]) == ("cortex-m33", "dsp", "1.0")
    assert list(manifest["models"]) == ["fmnist", "fflt"]
    for f in ("CMakeLists.txt", "kiln.mk", "README.md", "cmake/arm-none-eabi.cmake", "zephyr/module.yml",
              "zephyr/CMakeLists.txt", "zephyr/Kconfig", "example/main.c", "runtime/include/kiln/model.h",
              "models/fmnist/fmnist.c", "models/fmnist/fmnist.h", "models/fflt/fflt.c"):
        assert (out / f).is_file(), f
    # one runtime for both: the int8 model's dsp kernels and the float model's portable ones
    shipped = {Path(p).name for p in manifest["runtime"]}
    every = {p.name for p in fw.runtime_sources("dsp")}
    assert shipped < every and len(shipped) < len(every) / 3
    for prefix in ("fmnist", "fflt"):
        c = (out / "models" / prefix / f"{prefix}.c").read_text()
        for kernel in manifest["models"][prefix]["kernels"]:
            owner = [p for p in fw.runtime_sources("dsp") if kernel in runtime_files.defined_names(p)]
            assert owner and owner[0].name in shipped, kernel
        # every public name carries the prefix (kiln_model_t is the API's type)
        assert f"int {prefix}_invoke(" in c and not re.search(r"\bkiln_model(?!_t\b)", c)
    # the zip holds the tree as it is
    with zipfile.ZipFile(out.with_name("kiln.zip")) as z:
        names = {n.split("/", 1)[1] for n in z.namelist()}
    assert names == {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert "exported fashion_mnist/ptq as fmnist for cortex-m33 (dsp kernels)" in two_models["stdout"]


@pytest.mark.slow
@needs_cmake
def test_cmake_arm_libraries_run_two_models_bit_exact_on_the_emulated_board(
        two_models: dict, tmp_path: Path, cross_compiler: None, emulator: None) -> None:
    out = two_models["out"]
    build = tmp_path / "build"
    # fflt's arena is the program's own array (-DFFLT_ARENA_EXTERNAL), fmnist's its library's.
    cmake_build(out, build, f"-DCMAKE_TOOLCHAIN_FILE={out / 'cmake' / 'arm-none-eabi.cmake'}",
                "-DCMAKE_C_FLAGS=-DFFLT_ARENA_EXTERNAL")
    libs = [build / "libfmnist.a", build / "libfflt.a", build / "libkiln_runtime.a"]
    assert all(p.is_file() for p in libs)
    xs = {p: inputs_for(t, SAMPLES, seed=i) for i, (p, t) in enumerate(two_models["models"].items())}
    lines = ['#include "fmnist.h"', '#include "fflt.h"', f"#define N_SAMPLES {SAMPLES}u",
             "#define A_N_LAYERS FMNIST_N_LAYERS",
             "uint8_t fflt_arena[FFLT_ARENA_BYTES] __attribute__((aligned(8)));"]
    for tag, prefix in (("a", "fmnist"), ("b", "fflt")):
        lines += [f"#define {tag}_init {prefix}_init", f"#define {tag}_invoke {prefix}_invoke",
                  f"#define {tag.upper()}_OUTPUT_BYTES {prefix.upper()}_OUTPUT_BYTES",
                  f"static const uint8_t input_{tag}[{SAMPLES}][{prefix.upper()}_INPUT_BYTES] = {{"]
        lines += ["{" + ",".join(str(b) for b in x.tobytes()) + "}," for x in xs[prefix]]
        lines.append("};")
    (tmp_path / "inputs.h").write_text("\n".join(lines) + "\n")
    flags = json.loads((out / "kiln-export.json").read_text())["cpu_flags"]
    elf = tmp_path / "app.elf"
    cmd = ["arm-none-eabi-gcc", *flags, "-O2", "-std=c99", "-Wall", "-Wextra", "-nostartfiles",
           "--specs=nano.specs", "--specs=nosys.specs", "-Wl,--gc-sections", f"-T{APP / 'link.ld'}",
           f"-I{tmp_path}", f"-I{out / 'runtime' / 'include'}", f"-I{out / 'models' / 'fmnist'}",
           f"-I{out / 'models' / 'fflt'}", str(APP / "startup.c"), str(APP / "main.c"),
           *map(str, libs), "-o", str(elf)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0 and "warning:" not in proc.stderr, proc.stderr[-3000:]
    # The semihosting console goes to a file of its own (QEMU would pick stdout or stderr).
    console = tmp_path / "console.txt"
    run = subprocess.run(["qemu-system-arm", "-M", "mps2-an505", "-nographic", "-monitor", "none",
                          "-serial", "null", "-chardev", f"file,id=semi,path={console}",
                          "-semihosting-config", "enable=on,target=native,chardev=semi",
                          "-kernel", str(elf)], capture_output=True, text=True, timeout=120,
                         stdin=subprocess.DEVNULL)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    got: dict[tuple[str, int], bytes] = {}
    for line in console.read_text().splitlines():
        tag, sample, hexbytes = line.split()
        got[(tag, int(sample))] = bytes.fromhex(hexbytes)
    assert len(got) == 2 * SAMPLES + 1
    costs = np.frombuffer(got.pop(("p", 0)), dtype="<u4")
    layers = json.loads((out / "models" / "fmnist" / "fmnist_layers.json").read_text())["layers"]
    assert len(costs) == len(layers)
    assert (costs == 1).all()   # the program's kiln_cost_now, read around each layer
    syms = subprocess.run(["arm-none-eabi-nm", str(elf)], capture_output=True, text=True, check=True).stdout
    assert " B fflt_arena" in syms and " b kiln_arena" in syms   # fmnist's static arena, fflt's given one
    for tag, prefix in (("a", "fmnist"), ("b", "fflt")):
        ref = oracle.reference_outputs(two_models["models"][prefix], xs[prefix])
        for s in range(SAMPLES):
            assert got[(tag, s)] == ref[s].tobytes(), (prefix, s)


_HOST_RUNNER = """#include <stdio.h>
#include "{p}.h"
int main(void)
{{
    static unsigned char in[{P}_INPUT_BYTES], out[{P}_OUTPUT_BYTES];
    if ({p}_init() != 0) return 2;
    while (fread(in, 1, sizeof in, stdin) == sizeof in) {{
        if ({p}_invoke(in, out, 0) != 0) return 3;
        fwrite(out, 1, sizeof out, stdout);
    }}
    return 0;
}}
"""


def host_outputs(program: Path, xs: np.ndarray, dtype: np.dtype, shape: tuple) -> np.ndarray:
    proc = subprocess.run([str(program)], input=xs.tobytes(), capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return np.frombuffer(proc.stdout, dtype=dtype).reshape(len(xs), *shape)


@pytest.mark.slow
@needs_cmake
def test_host_gcc_builds_the_same_export_and_matches_the_oracle(two_models: dict, tmp_path: Path) -> None:
    out = two_models["out"]
    build = tmp_path / "build"
    cmake_build(out, build, f"-DCMAKE_C_COMPILER={hostcheck.host_cc()}")
    for prefix, tflite in two_models["models"].items():
        runner = tmp_path / f"{prefix}_runner.c"
        runner.write_text(_HOST_RUNNER.format(p=prefix, P=prefix.upper()))
        program = tmp_path / prefix
        subprocess.run([hostcheck.host_cc(), "-std=c99", "-O2", f"-I{out / 'runtime' / 'include'}",
                        f"-I{out / 'models' / prefix}", str(runner), str(build / f"lib{prefix}.a"),
                        str(build / "libkiln_runtime.a"), "-o", str(program)], check=True)
        xs = inputs_for(tflite, 40, seed=7)
        ref = oracle.reference_outputs(tflite, xs)
        got = host_outputs(program, xs, ref.dtype, ref.shape[1:])
        np.testing.assert_array_equal(got, ref)


@pytest.mark.slow
@needs_cmake
def test_makefile_fragment_builds_the_library_and_the_example(two_models: dict, tmp_path: Path) -> None:
    out = two_models["out"]
    (tmp_path / "Makefile").write_text(
        "KILN_CPU_FLAGS :=\n"
        f"include {out}/kiln.mk\n"
        "CFLAGS += $(KILN_CPU_FLAGS) $(KILN_CPPFLAGS)\n"
        "example: $(KILN_DIR)/example/main.c $(KILN_LIB)\n"
        "\t$(CC) $(CFLAGS) $^ -o $@\n")
    proc = subprocess.run(["make", "-C", str(tmp_path), "-j2", "example"], capture_output=True, text=True,
                          env=dict(os.environ, CC=hostcheck.host_cc()))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "warning:" not in proc.stdout + proc.stderr
    assert (tmp_path / "kiln-build" / "libkiln.a").is_file()
    run = subprocess.run([str(tmp_path / "example")], capture_output=True, timeout=60)
    assert run.returncode == 0   # init, quantize, invoke and dequantize all returned 0


@pytest.mark.slow
def test_runtime_scan_agrees_with_the_compiled_symbols() -> None:
    """Every external kiln_ symbol of each compiled runtime object is one the
    scan finds defined in that file (the weak profiling clock aside)."""
    objs = {o.name.rsplit("-", 1)[0]: o for o in hostcheck.runtime_objects("dsp")}   # less the key
    for src in fw.runtime_sources("dsp"):
        obj = objs[f"{src.parent.name}_{src.stem}"]
        nm = subprocess.run(["nm", "--defined-only", "-g", str(obj)], capture_output=True, text=True,
                            check=True).stdout
        symbols = {line.split()[-1] for line in nm.splitlines() if line.split()[-1].startswith("kiln_")}
        symbols.discard("kiln_cost_now")
        assert runtime_files.defined_names(src) == symbols, src


def test_firmware_generates_the_exported_c(tmp_path: Path, cross_compiler: None) -> None:
    """One code path: the firmware's model C is the export's under the default
    prefix, and it links the runtime as the same kind of static library."""
    out = tmp_path / "same"
    export(out, "NET=fashion_mnist", "MODEL=ptq", f"BOARD={BOARD}", "PREFIX=kiln_model")
    run_scons(f"BOARD={BOARD}", "MODEL=ptq", "NET=fashion_mnist")
    gen = ROOT / "build" / BOARD / "fashion_mnist" / "ptq" / "dsp" / "gen"
    for f in ("kiln_model.c", "kiln_model.h"):
        assert (gen / f).read_text() == (out / "models" / "kiln_model" / f).read_text(), f
    link_map = (gen.parent / "firmware.map").read_text()
    assert "libkiln_runtime.a(" in link_map
    shipped = {Path(p).stem for p in json.loads((out / "kiln-export.json").read_text())["runtime"]}
    linked = set(re.findall(r"libkiln_runtime\.a\((\w+)\.o\)", link_map))
    assert linked <= shipped, linked - shipped


@pytest.mark.parametrize("args, message", [
    (("PREFIX=kiln_x",), "PREFIX=kiln_x would share the runtime's kiln_ names"),
    (("PREFIX=9lives",), "PREFIX=9lives is not a C prefix"),
    (("CPU=cortex-m4", "BOARD=mps2_an505"), "both choose the CPU to export for"),
    (("CPU=cortex-m99",), "CPU"),
])
def test_bad_export_variables_are_one_clear_line(tmp_path: Path, args: tuple, message: str) -> None:
    proc = run_scons("export", f"OUT={tmp_path / 'x'}", *args, check=False)
    assert proc.returncode != 0
    assert message in proc.stderr and "Traceback" not in proc.stdout + proc.stderr
    assert not (tmp_path / "x").exists()


def test_a_second_cpu_into_the_same_folder_is_refused_and_changes_nothing(two_models: dict) -> None:
    out = two_models["out"]
    before = (out / "kiln-export.json").read_text()
    proc = run_scons("export", f"OUT={out}", "NET=fashion_mnist", "MODEL=ptq", "CPU=cortex-m3", "PREFIX=m3",
                     check=False)
    assert proc.returncode != 0 and "holds an export for cortex-m33" in proc.stderr
    assert (out / "kiln-export.json").read_text() == before and not (out / "models" / "m3").exists()
