"""SCons tool: env.KilnFirmware(board, net, variant, tflite) builds
build/<board>/<net>/<variant>/firmware.{elf,bin,hex,map} with arm-none-eabi-gcc.

Loading it also loads kiln_size (env.KilnSizeReport) and kiln_flash
(env.KilnFlash). The logic lives in site_scons/kiln/firmware.py.
"""

from __future__ import annotations

from pathlib import Path

from kiln import ROOT, boards
from kiln import firmware as fw
from kiln.errors import KilnError
from SCons.Action import Action  # not env.Action: that substitutes $SOURCE at once


def _fail(msg: str) -> None:
    import SCons.Errors

    raise SCons.Errors.UserError(msg)


def _cross_env(env, board: boards.Board, out: Path):  # noqa: ANN001, ANN202 - SCons types
    """A clone of env set up for the board's CPU."""
    try:
        flags = fw.cpu_flags(board.cpu)
    except KilnError as exc:
        _fail(str(exc))
    xenv = env.Clone()
    for var, tool in fw.TOOLS.items():
        xenv[var] = tool
    xenv["OBJSUFFIX"] = ".o"
    xenv["PROGSUFFIX"] = ".elf"
    xenv.Replace(CCFLAGS=[*flags.cpu_flags, *flags.cflags], ASFLAGS=[*flags.cpu_flags, *flags.asflags],
                 CPPDEFINES=list(flags.defines), LINKFLAGS=[*flags.cpu_flags, *flags.ldflags],
                 CPPPATH=[], LIBS=[], LIBPATH=[])
    baud = int(env.get("BAUD") or board.default_baud)
    xenv.Append(CPPDEFINES=list(fw.board_defines(board, baud).items()))
    xenv.Append(LINKFLAGS=[
        f"-T{board.linker_script}", f"-L{fw.COMMON_DIR}",
        f"-Wl,--defsym=KILN_STACK_SIZE={board.stack_bytes}",
        f"-Wl,-Map={out / 'firmware.map'}", "-Wl,--cref",
    ])
    # libm is a static archive: it adds only the members a kernel calls
    # (float softmax's expf), nothing for an int8 model.
    xenv.Append(LIBS=["m"])
    return xenv, flags


def _objects(xenv, sources: list[Path], objdir: Path, base: Path) -> list:  # noqa: ANN001
    """Compile each source to objdir/<path relative to base>.o."""
    objs = []
    for src in sources:
        rel = src.relative_to(base) if src.is_relative_to(base) else Path(src.name)
        objs += xenv.Object(str(objdir / rel.with_suffix(".o")), str(src))
    return objs


def _missing_toolchain(env, out: Path, message: str) -> dict:  # noqa: ANN001
    def fail(target, source, env) -> int:  # noqa: ANN001
        print(f"scons: *** {message}")
        return 1

    names = ("elf", "bin", "hex", "map")
    nodes = env.Command([str(out / f"firmware.{n}") for n in names], [],
                        env.Action(fail, "  CHECK arm-none-eabi-gcc"))
    env.Precious(nodes)  # a firmware built earlier stays in place
    return dict(zip(names, nodes, strict=True))


def kiln_firmware(env, board_name: str, net: str, variant: str, tflite,  # noqa: ANN001
                  kernels: str | None = None) -> dict:
    """Build the firmware of one board, network and variant; return the
    {"elf", "bin", "hex", "map"} nodes. An explicit `kernels` (the benchmark
    builds both sets) overrides KERNELS= and builds in <variant>-<kernels>/."""
    try:
        board = boards.load(board_name)
    except KilnError as exc:
        _fail(str(exc))
    out = ROOT / "build" / board_name / net / (variant if kernels is None else f"{variant}-{kernels}")
    try:
        fw.check_toolchain()
    except KilnError as exc:
        # Only building firmware needs the cross compiler: other targets
        # (models, check-host) still work, and this one says what to install.
        return _missing_toolchain(env, out, str(exc))
    xenv, flags = _cross_env(env, board, out)
    try:
        kernels = fw.resolve_kernels(kernels or str(env.get("KERNELS", "auto")), flags)
    except KilnError as exc:
        _fail(str(exc))
    gen = env.KilnGenerate(str(out / "gen"), tflite, name=f"{net}/{variant}", kernels=kernels)
    gen_c = [n for n in gen if str(n).endswith(".c")]
    xenv.Append(CPPPATH=[str(p) for p in fw.include_dirs(out / "gen", board)])
    objdir = out / "obj"
    objs = xenv.Object(str(objdir / "gen" / "kiln_model.o"), gen_c[0])
    for extra in gen_c[1:]:
        objs += xenv.Object(str(objdir / "gen" / Path(str(extra)).with_suffix(".o").name), extra)
    objs += _objects(xenv, fw.runtime_sources(kernels), objdir / "runtime", fw.FIRMWARE / "runtime")
    objs += _objects(xenv, fw.app_sources(), objdir / "app", fw.APP_DIR)
    objs += _objects(xenv, fw.board_sources(board), objdir / "board", fw.BOARDS_DIR)
    # The link writes the map too: naming it as a second target lets
    # aliases and Default() ask for it and lets SCons clean it.
    elf, map_node = xenv.Program([str(out / "firmware.elf"), str(out / "firmware.map")], objs)
    xenv.Depends(elf, [str(board.linker_script), str(fw.COMMON_DIR / "sections.ld")])
    quiet = not env.get("VERBOSE")
    binary = xenv.Command(str(out / "firmware.bin"), elf, Action(
        "$OBJCOPY -O binary $SOURCE $TARGET", cmdstr="  BIN $TARGET" if quiet else None))
    hexfile = xenv.Command(str(out / "firmware.hex"), elf, Action(
        "$OBJCOPY -O ihex $SOURCE $TARGET", cmdstr="  HEX $TARGET" if quiet else None))
    return {"elf": elf, "bin": binary[0], "hex": hexfile[0], "map": map_node}


def generate(env) -> None:  # noqa: ANN001
    """Add KilnFirmware (and the size and flash tools) to env."""
    env.AddMethod(kiln_firmware, "KilnFirmware")
    env.Tool("kiln_size")
    env.Tool("kiln_flash")


def exists(env) -> bool:  # noqa: ANN001
    """Always loadable; a missing compiler is reported when a build needs it."""
    return True
