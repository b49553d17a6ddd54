"""SCons tool: env.KilnFirmware(board, net, variant, tflite) builds
firmware.{elf,bin,hex,map} with arm-none-eabi-gcc in
kiln.paths.firmware_dir(board, net, variant, kernels): build/<board>/<net>/<variant>/<kernels>/,
with the resolved kernel set (portable, dsp, ...), so each set keeps its own files; for
one's own model (TFLITE=, `own=`) in kiln.paths.tflite_firmware_dir: build/<board>/tflite/<stem>/<kernels>/.

Loading it also loads kiln_compile (env.KilnGenerate), kiln_size
(env.KilnSizeReport) and kiln_flash (env.KilnFlash). The logic lives in
site_scons/kiln/firmware.py; the board's linker script is written into the
build folder from its board.toml.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import kiln_scons
from kiln import boards, paths, placement, stackbound
from kiln import firmware as fw
from kiln.atomic import write_atomic, write_json
from kiln.errors import KilnError
from SCons.Action import Action  # not env.Action: that substitutes $SOURCE at once

#: Images declared so far in this SCons run, by build folder: the default
#: image and the benchmark's image of the same kernel set are one image.
_declared: dict[Path, dict] = {}


def _write_linker_script(target, source, env) -> None:  # noqa: ANN001 - SCons action signature
    """link.ld with the stack sized by its bound over the image's objects (and
    the arena in the board's arena_region when it fits there), and stack.json
    (the bound, its deepest path, the handlers' shares)."""
    board = kiln_scons.board(env["KILN_STACK_BOARD"])
    objects = [Path(str(s)) for s in source[1:]]
    report = stackbound.bound(objects)
    if report.bytes > board.stack_bytes:
        raise KilnError(f"the firmware needs {report.bytes} bytes of stack (deepest path: "
                        f"{' -> '.join(report.path)}), more than the {board.stack_bytes} bytes "
                        f"{board.name} allows (stack_bytes in {board.toml}): raise stack_bytes if the "
                        "board has the RAM, or use KERNELS=portable")
    arena = placement.arena_bytes(objects) if board.arena_region else None
    write_atomic(Path(str(target[0])), fw.linker_script(board, report.bytes, arena))
    write_json(Path(str(target[1])), {"stack_bytes": report.bytes, "ceiling": board.stack_bytes,
                                      "deepest_path": report.path, "handlers": report.handlers,
                                      "library_functions": sorted(report.library),
                                      "library_frame": stackbound.LIBRARY_FRAME})


def _link(target, source, env) -> None:  # noqa: ANN001 - SCons action signature
    """The link command, its failure worded: a region overflow says what to try."""
    cmd = env.subst(env["KILN_LINKCOM"], target=target, source=source)
    proc = subprocess.run(cmd, shell=True, capture_output=True, text=True)
    sys.stdout.write(proc.stdout)
    if proc.returncode:
        if env.get("VERBOSE"):
            sys.stderr.write(proc.stderr)
        raise KilnError(fw.explain_link_failure(proc.stderr, kiln_scons.board(env["KILN_STACK_BOARD"]),
                                                env["KILN_OPTIMIZE"], env["KILN_KERNELS_SET"]))


def _cross_env(env, board: boards.Board, flags: fw.CpuFlags, out: Path):  # noqa: ANN001, ANN202
    """A clone of env set up for the board's CPU, linking with the generated script."""
    try:
        baud = fw.parse_baud(env.get("BAUD", ""), board)
    except KilnError as exc:
        kiln_scons.fail(str(exc))
    xenv = env.Clone()
    for var, tool in fw.TOOLS.items():
        xenv[var] = tool
    xenv["OBJSUFFIX"] = ".o"
    xenv["PROGSUFFIX"] = ".elf"
    xenv.Replace(CCFLAGS=[*flags.cpu_flags, *flags.cflags], ASFLAGS=[*flags.cpu_flags, *flags.asflags],
                 CPPDEFINES=list(flags.defines), LINKFLAGS=[*flags.cpu_flags, *flags.ldflags],
                 CPPPATH=[], LIBS=[], LIBPATH=[])
    xenv.Append(CPPDEFINES=list(fw.board_defines(board, baud).items()))
    # No -lm: the runtime has its own expf (docs/runtime.md), so nothing needs libm.
    xenv.Append(LINKFLAGS=[
        f"-T{out / 'link.ld'}", f"-L{fw.COMMON_DIR}",
        f"-Wl,-Map={out / 'firmware.map'}", "-Wl,--cref",
    ])
    xenv["KILN_LINKCOM"] = xenv["LINKCOM"]
    xenv["LINKCOM"] = kiln_scons.action(_link, "$KILN_LINKCOM" if env.get("VERBOSE") else "  LD $TARGET",
                                        varlist=["KILN_LINKCOM", "LINKFLAGS"])
    xenv["KILN_STACK_BOARD"] = board.name
    return xenv


def _objects(xenv, sources: list[Path], objdir: Path, base: Path) -> list:  # noqa: ANN001
    """Compile each source to objdir/<path relative to base>.o."""
    objs = []
    for src in sources:
        rel = src.relative_to(base) if src.is_relative_to(base) else Path(src.name)
        objs += xenv.Object(str(objdir / rel.with_suffix(".o")), str(src))
    return objs


#: Runtime libraries already declared, by (board, kernel set): every image shares them.
_runtimes: dict[tuple[str, str], tuple[list, list]] = {}


def _runtime_library(env, board: boards.Board, flags: fw.CpuFlags, kernels: str) -> tuple[list, list]:  # noqa: ANN001
    """The runtime for `board`'s CPU and `kernels` as the static library
    libkiln_runtime.a (and its objects), compiled once into
    kiln.paths.runtime_dir: the shape `scons export` gives users (kiln.export),
    so the firmware links its kernels the same way theirs do. It depends on the
    CPU flags and the runtime's own headers only (no model, app or board header)."""
    key = (board.name, kernels)
    if key not in _runtimes:
        renv = env.Clone()
        for var, tool in fw.TOOLS.items():
            renv[var] = tool
        renv["OBJSUFFIX"] = ".o"
        renv.Replace(CCFLAGS=[*flags.cpu_flags, *flags.cflags], CPPDEFINES=list(flags.defines),
                     CPPPATH=[str(fw.RUNTIME_INCLUDE)], LIBPREFIX="lib", LIBSUFFIX=".a")
        folder = paths.runtime_dir(board.name, kernels)
        objs = _objects(renv, fw.runtime_sources(kernels), folder, fw.FIRMWARE / "runtime")
        _runtimes[key] = (objs, renv.StaticLibrary(str(folder / "libkiln_runtime.a"), objs))
    return _runtimes[key]


def _missing_toolchain(env, out: Path, message: str) -> dict:  # noqa: ANN001
    def fail(target, source, env) -> None:  # noqa: ANN001
        raise KilnError(message)

    names = ("elf", "bin", "hex", "map")
    nodes = env.Command([str(out / f"firmware.{n}") for n in names], [],
                        kiln_scons.action(fail, "  CHECK arm-none-eabi-gcc"))
    env.Precious(nodes)  # a firmware built earlier stays in place
    return dict(zip(names, nodes, strict=True))


def kiln_firmware(env, board_name: str, net: str, variant: str, tflite,  # noqa: ANN001
                  kernels: str | None = None, own: Path | None = None,
                  optimize: str | None = None, sparse: bool | None = None) -> dict:
    """Build the firmware of one board, network and variant; return the
    {"elf", "bin", "hex", "map"} nodes. An explicit `kernels` or `optimize` (the
    benchmark builds both sets and both layouts) overrides KERNELS= or OPTIMIZE=. `own`
    is a .tflite given with TFLITE=: it replaces net and variant, and names the build
    folder and the model. `sparse` (default: SPARSE= is not off) lets the generator use
    sparse weight layouts; the benchmark builds a pruned model's dense image too."""
    board = kiln_scons.board(board_name)
    optimize = optimize or str(env.get("OPTIMIZE", "") or fw.OPTIMIZE_GOALS[0])
    sparse = str(env.get("SPARSE", "auto")) != "off" if sparse is None else sparse
    try:
        flags = fw.cpu_flags(board.cpu)
        kernels = fw.resolve_kernels(kernels or str(env.get("KERNELS", "auto")), flags)
    except KilnError as exc:
        kiln_scons.fail(str(exc))
    tag = paths.image_tag(kernels, optimize, sparse)
    if own is not None:
        out = paths.tflite_firmware_dir(board_name, own, tag)
        name = own.stem
    else:
        out = paths.firmware_dir(board_name, net, variant, tag)
        name = f"{net}/{variant}"
    if out in _declared:
        return _declared[out]
    _declared[out] = _declare(env, board, flags, name, tflite, kernels, out, optimize, sparse)
    return _declared[out]


def _declare(env, board: boards.Board, flags: fw.CpuFlags, name: str,  # noqa: ANN001
             tflite, kernels: str, out: Path, optimize: str, sparse: bool) -> dict:  # noqa: ANN001
    """The nodes of one image of the model `name` in `out`."""
    try:
        fw.check_toolchain()
    except KilnError as exc:
        # Only building firmware needs the cross compiler: other targets
        # (models, check-host) still work, and this one says what to install.
        return _missing_toolchain(env, out, str(exc))
    xenv = _cross_env(env, board, flags, out)
    xenv["KILN_OPTIMIZE"], xenv["KILN_KERNELS_SET"] = optimize, kernels
    flash = sum(r.length for r in board.regions if r.kind == "flash")
    gen = env.KilnGenerate(str(out / "gen"), tflite, name=name, kernels=kernels, optimize=optimize,
                           flash_bytes=flash, board=board.name, sparse=sparse)
    gen_c = [n for n in gen if str(n).endswith(".c")]
    xenv.Append(CPPPATH=[str(p) for p in fw.include_dirs(out / "gen", board)])
    objdir = out / "obj"
    objs = xenv.Object(str(objdir / "gen" / "kiln_model.o"), gen_c[0])
    for extra in gen_c[1:]:
        objs += xenv.Object(str(objdir / "gen" / Path(str(extra)).with_suffix(".o").name), extra)
    objs += _objects(xenv, fw.app_sources(), objdir / "app", fw.APP_DIR)
    objs += _objects(xenv, fw.board_sources(board), objdir / "board", fw.BOARDS_DIR)
    runtime_objs, runtime_lib = _runtime_library(env, board, flags, kernels)
    # The stack is sized from the objects' call graph and frames (kiln.stackbound);
    # the board's script text is a source too, so a board.toml edit rewrites it.
    script = env.Command([str(out / "link.ld"), str(out / "stack.json")],
                         [env.Value(fw.linker_script(board)), *objs, *runtime_objs],
                         kiln_scons.action(_write_linker_script, "  LDS $TARGET"),
                         KILN_STACK_BOARD=board.name)
    # The link writes the map too: naming it as a second target lets
    # aliases and Default() ask for it and lets SCons clean it.
    elf, map_node = xenv.Program([str(out / "firmware.elf"), str(out / "firmware.map")], objs,
                                 LIBS=runtime_lib)
    scripts = [script[0], str(fw.COMMON_DIR / "sections.ld")]
    if board.linker_sections is not None:
        scripts.append(str(board.linker_sections))
    xenv.Depends(elf, scripts)
    quiet = not env.get("VERBOSE")
    binary = xenv.Command(str(out / "firmware.bin"), elf, Action(
        "$OBJCOPY -O binary $SOURCE $TARGET", cmdstr="  BIN $TARGET" if quiet else None))
    hexfile = xenv.Command(str(out / "firmware.hex"), elf, Action(
        "$OBJCOPY -O ihex $SOURCE $TARGET", cmdstr="  HEX $TARGET" if quiet else None))
    return {"elf": elf, "bin": binary[0], "hex": hexfile[0], "map": map_node}


def generate(env) -> None:  # noqa: ANN001
    """Add KilnFirmware (and the tools it and its users call) to env."""
    env.Tool("kiln_compile")
    env.AddMethod(kiln_firmware, "KilnFirmware")
    env.Tool("kiln_size")
    env.Tool("kiln_flash")


def exists(env) -> bool:  # noqa: ANN001
    """Always loadable; a missing compiler is reported when a build needs it."""
    return True
