"""Images of any .tflite for an emulated board, outside SCons: the runtime and
board objects compiled once, then each model's generated C and the app
compiled and linked with them. For the tests and fuzzers that run many small
models on the target (tests/test_dsp_qemu.py, tests/fuzz/nets.py --board)."""

from __future__ import annotations

import concurrent.futures
import os
import subprocess
from pathlib import Path


def _compile_flags(board, out: Path) -> tuple[object, list[str]]:  # noqa: ANN001 - a kiln.boards.Board
    from kiln import firmware as fw

    flags = fw.cpu_flags(board.cpu)
    defines = [f"-D{d}" for d in flags.defines]
    defines += [f"-D{k}={v.replace(chr(92), '')}"
                for k, v in fw.board_defines(board, board.default_baud).items()]
    includes = [f"-I{d}" for d in fw.include_dirs(out, board)]
    return flags, [*flags.cpu_flags, *flags.cflags, *defines, *includes]


def runtime_objects(board, out: Path, kernels: str = "dsp") -> list[Path]:  # noqa: ANN001 - a Board
    """The runtime (portable and `kernels`) and the board's sources compiled into `out`."""
    from kiln import firmware as fw

    _, cflags = _compile_flags(board, out)
    out.mkdir(parents=True, exist_ok=True)

    def compile_one(src: Path) -> Path:
        obj = out / f"{src.parent.name}_{src.stem}.o"
        proc = subprocess.run(["arm-none-eabi-gcc", *cflags, "-c", str(src), "-o", str(obj)],
                              capture_output=True, text=True)
        if proc.returncode:
            raise RuntimeError(f"{src}:\n{proc.stderr[-3000:]}")
        return obj

    sources = [*fw.runtime_sources(kernels), *fw.board_sources(board)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1)) as pool:
        return list(pool.map(compile_one, sources))


def firmware(board, tflite: Path, workdir: Path, runtime_objs: list[Path],  # noqa: ANN001 - a Board
             optimize: str = "speed", kernels: str = "dsp") -> Path:
    """An image of `tflite` with `kernels` (in the `optimize` weight layout): its generated
    C and the app compiled and linked with the prebuilt objects."""
    from kiln import codegen
    from kiln import firmware as fw
    from kiln.codegen.layout import Budget

    gen = workdir / "gen"
    budget = None if optimize == "speed" else Budget(optimize, min_saving=0)
    codegen.generate(tflite, gen, name=tflite.stem, kernels=kernels, budget=budget)
    flags, cflags = _compile_flags(board, gen)
    elf = workdir / "firmware.elf"
    script = workdir / "link.ld"
    script.write_text(fw.linker_script(board))
    cmd = ["arm-none-eabi-gcc", *cflags, str(gen / "kiln_model.c"), *map(str, fw.app_sources()),
           *map(str, runtime_objs), f"-T{script}", f"-L{fw.COMMON_DIR}",
           *[f for f in flags.ldflags if f != "-Wl,--print-memory-usage"], "-o", str(elf)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError(" ".join(cmd) + "\n" + proc.stderr[-3000:])
    return elf
