"""check-host: compile a model for the host and compare it with tflite-micro.

    result = check_host("model.tflite", count=100)          # HostCheckResult
    python -m kiln.hostcheck model.tflite [--inputs x.npy] [--count N]

The generated C and firmware/runtime/portable/*.c are built with the host C
compiler into a temporary shared library (`cc -O2 -shared -fPIC`), loaded with
ctypes and run on the same inputs as the tflite-micro Python interpreter (its
reference kernels are the oracle). int8 and uint8 outputs must be identical; float
outputs must agree within 1e-5, relative to the largest reference value of
the sample.

tflite-micro does not run hybrid (dynamic-range) models: for those the
oracle is tf.lite.Interpreter with its reference kernels (kiln.oracle).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import ctypes
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kiln import ROOT, oracle
from kiln.codegen import compile_model
from kiln.codegen.layout import Budget
from kiln.errors import KilnError, describe_failure
from kiln.quantmath import quantize

RUNTIME = ROOT / "firmware" / "runtime"
FLOAT_RTOL = 1e-5
_HOST_PLATFORM = """/* Kiln host platform for check-host: no cycle counter. */
#include <stdint.h>
#include "kiln/model.h"

uint32_t kiln_cost_now(void)
{
    return 0;
}
"""


@dataclass
class HostCheckResult:
    """The comparison of the host-compiled model with tflite-micro."""

    name: str
    dtype: str
    samples: int
    identical_samples: int
    identical_values: int
    total_values: int
    max_abs_diff: float
    ok: bool
    oracle: str = "tflite-micro"

    def summary(self) -> str:
        """Human-readable lines."""
        rule = "identical" if self.dtype != "float32" else f"within {FLOAT_RTOL:g} relative"
        return (f"check-host {self.name}: oracle: {self.oracle}\n"
                f"check-host {self.name}: {self.samples} inputs, {self.identical_samples} outputs "
                f"identical, {self.identical_values}/{self.total_values} values identical, "
                f"largest absolute difference {self.max_abs_diff:g}\n"
                f"check-host {self.name}: {'PASS' if self.ok else 'FAIL'} ({self.dtype} outputs must be "
                f"{rule})")


def host_cc() -> str:
    """The host C compiler (CC from the environment, else cc)."""
    cc = os.environ.get("CC", "cc")
    if not shutil.which(cc.split()[0]):
        raise KilnError(f"no host C compiler '{cc}' found: install gcc or set CC")
    return cc


_CFLAGS = ["-std=c99", "-O2", "-shared", "-fPIC", "-Wall", "-Wextra", f"-I{RUNTIME / 'include'}"]
#: The debug build: AddressSanitizer (every array of the generated model and
#: the runtime is bounds-checked, constants included) and UBSan, each error fatal.
SANITIZE_FLAGS = ["-g", "-O1", "-fno-omit-frame-pointer", "-fsanitize=address,undefined",
                  "-fno-sanitize-recover=all"]
#: KILN_SANITIZE=1 builds every host model with SANITIZE_FLAGS (the fidelity suites honour it).
SANITIZE_ENV = "KILN_SANITIZE"

#: The sanitized model runs as its own program (ASan cannot be loaded into
#: Python with ctypes): inputs on stdin, outputs on stdout, one after another.
_HOST_MAIN = """/* Kiln host runner for the sanitizer build. */
#include <stdio.h>
#include <stdint.h>
#include "kiln_model.h"

static uint8_t in_buf[KILN_MODEL_INPUT_BYTES];
static uint8_t out_buf[KILN_MODEL_OUTPUT_BYTES];

int main(void)
{
    while (fread(in_buf, 1, sizeof in_buf, stdin) == sizeof in_buf) {
        int rc = kiln_model_invoke(in_buf, out_buf, NULL);
        if (rc != 0) {
            fprintf(stderr, "kiln_model_invoke returned %d\\n", rc);
            return 3;
        }
        fwrite(out_buf, 1, sizeof out_buf, stdout);
    }
    return 0;
}
"""


def sanitize_default() -> bool:
    """True when KILN_SANITIZE=1 asks for the sanitizer build."""
    return os.environ.get(SANITIZE_ENV, "") not in ("", "0")


#: Where the host runtime's objects are kept between runs, one file per source, flags and
#: content (runtime_objects).
HOST_RUNTIME_DIR = ROOT / "build" / "host-runtime"


def _compile_object(cmd: list[str], obj: Path) -> None:
    """Run one host compilation into a temporary name beside `obj`, then rename it into
    place, so that a concurrent or interrupted run never sees half an object."""
    tmp = obj.with_name(f".{obj.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    proc = subprocess.run([*cmd, "-o", str(tmp)], capture_output=True, text=True)
    if proc.returncode != 0:
        tmp.unlink(missing_ok=True)
        raise KilnError(f"host compilation of the runtime failed:\n{' '.join(cmd)}\n"
                        f"{proc.stderr.strip()}")
    os.replace(tmp, obj)


def runtime_objects(kernels: str = "portable", sanitize: bool = False) -> list[Path]:
    """The runtime compiled for the host: the portable kernels, plus the dsp set (its
    plain-C host path) unless portable. Each object is named by its source's content, the
    headers' and the flags, and kept in HOST_RUNTIME_DIR: a later run, or the other kernel
    set, compiles only what changed, two sources at a time."""
    sources = sorted((RUNTIME / "portable").glob("*.c"))
    # every file the sources include: kiln/*.h, kiln/ops/*.h and the shared .inc bodies
    headers = sorted((RUNTIME / "include").rglob("*.h")) + sorted((RUNTIME / "portable").glob("*.inc"))
    if kernels != "portable":
        sources += sorted((RUNTIME / "dsp").glob("*.c"))
    headers += sorted((RUNTIME / "dsp").glob("*.h"))   # included by portable sources too
    flags = [f for f in _CFLAGS if f != "-shared"] + (SANITIZE_FLAGS if sanitize else [])
    common = hashlib.sha256(b"".join(p.read_bytes() for p in headers) + " ".join(flags).encode()
                            + host_cc().encode())
    HOST_RUNTIME_DIR.mkdir(parents=True, exist_ok=True)
    objs, todo = [], []
    for src in sources:
        h = common.copy()
        h.update(src.read_bytes())
        # portable/ and dsp/ share file names
        obj = HOST_RUNTIME_DIR / f"{src.parent.name}_{src.stem}-{h.hexdigest()[:16]}.o"
        objs.append(obj)
        if not obj.exists():
            todo.append(([*host_cc().split(), *flags, "-c", str(src)], obj))
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1)) as pool:
        for done in [pool.submit(_compile_object, cmd, obj) for cmd, obj in todo]:
            done.result()
    return objs


class HostModel:
    """A generated model built for the host: a shared library called from
    Python, or with `sanitize` (default: KILN_SANITIZE=1) a sanitizer-built
    program that each invoke runs."""

    def __init__(self, tflite: str | Path, name: str | None = None, kernels: str = "portable",
                 workdir: str | Path | None = None, sanitize: bool | None = None,
                 budget: Budget | None = None) -> None:
        self.sanitize = sanitize_default() if sanitize is None else sanitize
        self.model = compile_model(tflite, name=name, kernels=kernels, budget=budget)
        self._tmp = tempfile.TemporaryDirectory(prefix="kiln-host-") if workdir is None else None
        self.dir = Path(workdir or self._tmp.name)
        self.dir.mkdir(parents=True, exist_ok=True)
        for fname, text in self.model.render().items():
            (self.dir / fname).write_text(text)
        (self.dir / "host_platform.c").write_text(_HOST_PLATFORM)
        self.sources = [self.dir / "kiln_model.c", self.dir / "host_platform.c"]
        if self.sanitize:
            (self.dir / "host_main.c").write_text(_HOST_MAIN)
            self.sources.append(self.dir / "host_main.c")
            self.lib_path = self.dir / "kiln_model"
            flags = [f for f in _CFLAGS if f not in ("-shared", "-fPIC")] + SANITIZE_FLAGS
        else:
            self.lib_path = self.dir / "kiln_model.so"
            flags = _CFLAGS
        cmd = [*host_cc().split(), *flags, f"-I{self.dir}", *map(str, self.sources),
               *map(str, runtime_objects(kernels, self.sanitize)), "-o", str(self.lib_path)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise KilnError(f"host compilation of the generated model failed:\n{' '.join(cmd)}\n"
                            f"{proc.stderr.strip()}")
        self.warnings = proc.stderr.strip()
        self.lib = None
        if not self.sanitize:
            self.lib = ctypes.CDLL(str(self.lib_path), mode=os.RTLD_NOW | getattr(os, "RTLD_LOCAL", 0))
            self.lib.kiln_model_invoke.restype = ctypes.c_int
            self.lib.kiln_model_invoke.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
        self.in_dtype = np.dtype(self.model.input["dtype"])
        self.out_dtype = np.dtype(self.model.output["dtype"])
        self.in_shape = tuple(self.model.input["shape"])
        self.out_shape = tuple(self.model.output["shape"])

    def invoke(self, x: np.ndarray) -> np.ndarray:
        """Run one input (any shape with the right size) and return the output."""
        x = np.ascontiguousarray(x, dtype=self.in_dtype)
        if x.size * x.itemsize != self.model.input["bytes"]:
            raise ValueError(f"input of {x.size} elements, the model takes {self.in_shape}")
        if self.sanitize:
            return self.invoke_many(x[None])[0]
        out = np.empty(self.out_shape, dtype=self.out_dtype)
        rc = self.lib.kiln_model_invoke(x.ctypes.data, out.ctypes.data, None)
        if rc != 0:
            raise RuntimeError(f"kiln_model_invoke returned {rc}")
        return out

    def invoke_all(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        """Run one sample of a model with any number of inputs and outputs: one array per input
        (in the model's order, each in its dtype), one array per output back."""
        if len(inputs) != len(self.model.inputs):
            raise ValueError(f"{len(inputs)} inputs given, the model takes {len(self.model.inputs)}")
        packed = b"".join(np.ascontiguousarray(x, dtype=np.dtype(t["dtype"])).tobytes()
                          for x, t in zip(inputs, self.model.inputs, strict=True))
        if len(packed) != self.model.input_bytes:
            raise ValueError(f"inputs of {len(packed)} bytes, the model takes {self.model.input_bytes}")
        if self.sanitize:
            raise ValueError("invoke_all runs the shared library, not the sanitizer build")
        out = ctypes.create_string_buffer(self.model.output_bytes)
        rc = self.lib.kiln_model_invoke(packed, out, None)
        if rc != 0:
            raise RuntimeError(f"kiln_model_invoke returned {rc}")
        return [np.frombuffer(out.raw[t["at"]: t["at"] + t["bytes"]], dtype=np.dtype(t["dtype"]))
                .reshape(t["shape"]) for t in self.model.outputs]

    def invoke_many(self, xs: np.ndarray) -> np.ndarray:
        """Run each input of `xs` (N inputs of any shape with the right size); N outputs.

        The sanitizer build runs them in one process; a sanitizer report
        there raises KilnError with the report."""
        xs = np.ascontiguousarray(xs, dtype=self.in_dtype).reshape(len(xs), -1)
        if not self.sanitize:
            return np.stack([self.invoke(x) for x in xs]) if len(xs) else \
                np.empty((0, *self.out_shape), self.out_dtype)
        env = dict(os.environ, ASAN_OPTIONS="detect_leaks=0:abort_on_error=0:exitcode=86",
                   UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:exitcode=87")
        proc = subprocess.run([str(self.lib_path)], input=xs.tobytes(), capture_output=True, env=env,
                              timeout=600)
        if proc.returncode != 0:
            raise KilnError(f"the sanitizer build of {self.model.name} failed (exit {proc.returncode}):\n"
                            + proc.stderr.decode(errors="replace")[-4000:])
        out = np.frombuffer(proc.stdout, dtype=self.out_dtype)
        return out.reshape(len(xs), *self.out_shape)

    def close(self) -> None:
        """Delete the temporary build directory."""
        if self._tmp is not None:
            self._tmp.cleanup()


def host_code_size(tflite: str | Path, kernels: str = "portable") -> dict[str, int]:
    """Host-compiled code size (`size` of the .o files, -O2): the runtime's
    objects and the generated model's, each as {text, data, bss}."""
    hm = HostModel(tflite, kernels=kernels)
    try:
        obj = hm.dir / "kiln_model.o"
        cmd = [*host_cc().split(), *[f for f in _CFLAGS if f != "-shared"], f"-I{hm.dir}", "-c",
               str(hm.dir / "kiln_model.c"), "-o", str(obj)]
        subprocess.run(cmd, check=True, capture_output=True)

        def total(objs: list[Path]) -> dict[str, int]:
            out = subprocess.run(["size", "-t", *map(str, objs)], check=True, capture_output=True,
                                 text=True).stdout.splitlines()[-1].split()
            return {"text": int(out[0]), "data": int(out[1]), "bss": int(out[2])}

        return {"runtime": total(runtime_objects()), "model": total([obj])}
    finally:
        hm.close()


def make_inputs(hm: HostModel, inputs_npy: str | Path | None, count: int, seed: int = 0) -> np.ndarray:
    """The inputs: from a .npy (quantized when the model is int8/uint8 and the file float), or
    `count` seeded random ones over the input dtype's range."""
    shape, dtype = hm.in_shape, hm.in_dtype
    if inputs_npy:
        path = Path(inputs_npy)
        try:
            data = np.load(path)
        except (OSError, ValueError) as exc:
            raise KilnError(f"cannot read INPUTS '{path}': {exc}; pass a .npy array of inputs") from exc
        per = int(np.prod(shape))
        if data.size % per:
            raise KilnError(f"INPUTS '{path}' has shape {data.shape}; the model input is {list(shape)}: "
                            f"pass an array of N x {list(shape[1:])}")
        data = data.reshape(-1, *shape)
        if count:
            data = data[:count]
        if dtype.kind in "iu" and np.issubdtype(data.dtype, np.floating):
            # A float dataset is quantized exactly as the model's input says, uint8 as int8.
            scale, zp = hm.model.input["scale"], hm.model.input["zero_point"]
            data = quantize(data, scale, zp, dtype.name)
        elif dtype.kind in "iu" and data.dtype != dtype:
            raise KilnError(f"INPUTS '{path}' is {data.dtype}; the model takes {dtype.name}: pass "
                            f"{dtype.name} (already quantized) or float inputs (quantized with the "
                            "input scale)")
        return data.astype(dtype)
    rng = np.random.default_rng(seed)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return rng.integers(int(info.min), int(info.max) + 1, size=(count, *shape), dtype=dtype)
    return rng.standard_normal((count, *shape)).astype(np.float32)


def compare(name: str, got: np.ndarray, ref: np.ndarray) -> HostCheckResult:
    """Count identical outputs and the largest difference."""
    dtype = str(ref.dtype)
    got = got.reshape(ref.shape)
    diff = np.abs(got.astype(np.float64) - ref.astype(np.float64))
    n = ref.shape[0]
    if dtype == "float32":
        scale = np.max(np.abs(ref.reshape(n, -1)), axis=1).reshape((n,) + (1,) * (ref.ndim - 1))
        ok_values = diff <= FLOAT_RTOL * np.maximum(scale, np.finfo(np.float32).tiny)
        ok = bool(np.all(ok_values))
    else:
        ok = bool(np.all(diff == 0))
    same = diff.reshape(n, -1) == 0
    return HostCheckResult(name=name, dtype=dtype, samples=n,
                           identical_samples=int(np.sum(np.all(same, axis=1))),
                           identical_values=int(np.sum(same)), total_values=int(same.size),
                           max_abs_diff=float(diff.max()) if diff.size else 0.0, ok=ok)


def check_host(tflite: str | Path, inputs_npy: str | Path | None = None, count: int = 100,
               name: str | None = None, kernels: str = "portable", seed: int = 0) -> HostCheckResult:
    """Compile `tflite` for the host, run it and tflite-micro on the inputs, compare."""
    hm = HostModel(tflite, name=name, kernels=kernels)
    if len(hm.model.inputs) > 1 or len(hm.model.outputs) > 1:
        try:
            return _check_multi(tflite, hm, count, seed, inputs_npy)
        finally:
            hm.close()
    try:
        xs = make_inputs(hm, inputs_npy, count, seed)
        if len(xs) == 0:
            raise KilnError("no inputs to check: COUNT must be at least 1")
        got = hm.invoke_many(xs)
    finally:
        hm.close()
    res = compare(hm.model.name, got, oracle.reference_outputs(tflite, xs, hm.model.graph))
    res.oracle = oracle.TFLITE if oracle.needs_tflite(hm.model.graph) else oracle.MICRO
    return res


def _random_input(t: dict, rng: np.random.Generator) -> np.ndarray:
    dtype = np.dtype(t["dtype"])
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return rng.integers(int(info.min), int(info.max) + 1, size=t["shape"], dtype=dtype)
    return rng.standard_normal(t["shape"]).astype(np.float32)


def _check_multi(tflite: str | Path, hm: HostModel, count: int, seed: int,
                 inputs_npy: str | Path | None) -> HostCheckResult:
    """check_host for a model with several inputs or outputs: seeded random inputs, every output
    compared with the oracle's; the result is the first output that fails (else the last)."""
    if inputs_npy:
        raise KilnError(f"{hm.model.name} has {len(hm.model.inputs)} inputs and {len(hm.model.outputs)} "
                        "outputs: INPUTS= takes one array for one-input models; check it with COUNT=")
    if count < 1:
        raise KilnError("no inputs to check: COUNT must be at least 1")
    rng = np.random.default_rng(seed)
    interp, kind = oracle.open_reference(tflite, hm.model.graph)
    got: list[list[np.ndarray]] = [[] for _ in hm.model.outputs]
    ref: list[list[np.ndarray]] = [[] for _ in hm.model.outputs]
    for _ in range(count):
        xs = [_random_input(t, rng) for t in hm.model.inputs]
        for k, out in enumerate(hm.invoke_all(xs)):
            got[k].append(out)
        for i, x in enumerate(xs):
            interp.set_input(x, i)
        interp.invoke()
        for k in range(len(hm.model.outputs)):
            ref[k].append(np.array(interp.get_output(k), copy=True))
    results = [compare(f"{hm.model.name} output {k}", np.stack(g), np.stack(r))
               for k, (g, r) in enumerate(zip(got, ref, strict=True))]
    res = next((r for r in results if not r.ok), results[-1])
    res.oracle = kind
    return res


def main(argv: list[str] | None = None) -> int:
    """CLI entry: prints the comparison, returns 0 only when it passes."""
    ap = argparse.ArgumentParser(prog="python -m kiln.hostcheck", description=__doc__.split("\n")[0])
    ap.add_argument("tflite")
    ap.add_argument("--inputs", help=".npy of inputs")
    ap.add_argument("--count", type=int, default=100, help="number of seeded random inputs")
    ap.add_argument("--name")
    ap.add_argument("--kernels", default="portable")
    ap.add_argument("--verbose", action="store_true", help="tracebacks of internal errors")
    args = ap.parse_args(argv)
    try:
        res = check_host(args.tflite, args.inputs, args.count, args.name, args.kernels)
    except Exception as exc:  # noqa: BLE001 - every failure is one line; a bug says so
        print(f"check-host: {describe_failure(exc, f'checking {args.tflite}', args.verbose)}",
              file=sys.stderr)
        return 2
    print(res.summary())
    return 0 if res.ok else 1


if __name__ == "__main__":
    sys.exit(main())
