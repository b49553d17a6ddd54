"""SCons tool: env.KilnDeployReport(net, models, board) -> the `deploy-report` node.

For every variant of `net` (`models`: env.KilnModels' {variant: [tflite, json]}): its
firmware (env.KilnFirmware) and its run on the board (env.KilnInfer, LIMIT samples, the
results in kiln.paths.deploy_run_dir so `scons infer`'s own stay), one node per variant;
then one step gathering them (kiln.deploy_report, with the size report of each ELF) into
kiln.paths.deploy_report's files, and an always-run step printing the table.

The board: kiln.deploy_report.board_for (the first emulated board unless BOARD= or PORT=
says otherwise). On an emulated board each run boots its own QEMU, so under -j the
variants build and run side by side; a hardware board is flashed with each image before
its run, and its runs take turns (they share an SCons side effect, the serial link).
"""

from __future__ import annotations

from pathlib import Path

import kiln_scons
from kiln import BUILD, boards, deploy_report, paths, pydeps, registry
from kiln import firmware as fw
from kiln.errors import KilnError

#: A variant's sources of the gathering step, in this order: its models JSON, its infer.json,
#: its ELF and the ELF's map (read by the size report).
PER_VARIANT = 4


def _report_action(target, source, env) -> None:  # noqa: ANN001 - SCons action signature
    board = boards.load(env["KILN_DEPLOY_BOARD"])
    runs = []
    for k, variant in enumerate(env["KILN_DEPLOY_VARIANTS"]):
        model_json, infer_json, elf = (Path(str(s)) for s in source[k * PER_VARIANT:k * PER_VARIANT + 3])
        runs.append(deploy_report.Run(variant, model_json, infer_json, elf))
    rep = deploy_report.gather(env["KILN_DEPLOY_NET"], board, env["KILN_DEPLOY_IMAGES"], runs)
    deploy_report.write_all(rep, dict(zip(env["KILN_DEPLOY_KINDS"], (Path(str(t)) for t in target),
                                          strict=True)))


def _print_action(target, source, env) -> None:  # noqa: ANN001 - SCons action signature
    print(Path(str(source[0])).read_text().rstrip())
    print("\n  written: " + ", ".join(str(s) for s in source))


def kiln_deploy_report(env, net: str, models: dict, board_given: str = ""):  # noqa: ANN001, ANN201
    """Declare every variant's image and run on the board and the report gathering them;
    returns the always-built node printing it. `board_given` is BOARD= as typed ('' when
    not given: the default board is hardware, and the report runs on the emulator then)."""
    try:
        board = deploy_report.board_for(board_given, str(env.get("PORT", "") or ""), registry.DEFAULT_BOARD)
        # The board's default images (KERNELS=auto, OPTIMIZE=fit): their report has the plain name.
        default_tag = paths.image_tag(fw.resolve_kernels("auto", fw.cpu_flags(board.cpu)),
                                      fw.OPTIMIZE_GOALS[0])
    except KilnError as exc:
        kiln_scons.fail(str(exc))
    sources, tag = [], default_tag
    for variant, (tflite, model_json) in models.items():
        # The images KERNELS=, OPTIMIZE= and SPARSE= choose, as for every target.
        image = env.KilnFirmware(board.name, net, variant, tflite)
        elf = image["elf"][0] if isinstance(image["elf"], list) else image["elf"]
        tag = Path(str(elf)).parent.name  # the image's folder: kiln.paths.firmware_dir's last part
        run = env.KilnInfer(image, board.name, net, variant, tflite,
                            out_dir=paths.deploy_run_dir(board.name, net, variant, tag),
                            flash_first=True, quiet=True)
        if not board.emulated:
            # One board, one serial link: SCons never runs two steps sharing a side effect at once.
            env.SideEffect(str(BUILD / board.name / "serial-link"), run)
        sources += [model_json, run, elf, image["map"]]
    files = paths.deploy_report(board.name, net, None if tag == default_tag else tag)
    kinds = list(files)
    label = f"  DEPLOY-REPORT {files['txt'].relative_to(BUILD.parent)}"
    report = env.Command([str(files[k]) for k in kinds], sources, kiln_scons.action(_report_action, label),
                         KILN_DEPLOY_NET=net, KILN_DEPLOY_BOARD=board.name, KILN_DEPLOY_IMAGES=tag,
                         KILN_DEPLOY_VARIANTS=list(models), KILN_DEPLOY_KINDS=kinds)
    env.Depends(report, [str(p) for p in pydeps.module_files("kiln.deploy_report")])
    # Printing is cheap and always wanted when the report is asked for.
    shown = env.Alias(f"kiln-deploy-report-{board.name}-{net}-{tag}", report,
                      kiln_scons.action(_print_action, None))
    env.AlwaysBuild(shown)
    return shown


def generate(env) -> None:  # noqa: ANN001
    """Add KilnDeployReport (and the firmware and infer tools it calls) to env."""
    env.Tool("kiln_firmware")
    env.Tool("kiln_infer")
    env.AddMethod(kiln_deploy_report, "KilnDeployReport")


def exists(env) -> bool:  # noqa: ANN001
    """Always loadable."""
    return True
