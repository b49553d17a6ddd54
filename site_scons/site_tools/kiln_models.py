"""SCons tool: trained Keras model -> every quantized variant, report, retraining.

Methods added to the environment:
  env.KilnModels(net)              -> {variant: [tflite_node, json_node]}
  env.KilnModelsReport(net, models) -> nodes printing the summary, writing report.csv/png
  env.KilnTrain(net)               -> an always-built node retraining models/<net>/model.h5

The conversions run in a subprocess (``python -m kiln.quantize``): this
process never imports TensorFlow (nor matplotlib until a report is drawn),
so a build with nothing to do stays fast. Each variant depends on its own
recipe module, every kiln module the conversion imports (found by
kiln.pydeps), net.py and the model file, by content signature.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import kiln
import kiln_scons
from kiln import ROOT, netspec, paths, pydeps
from kiln.errors import KilnError
from kiln.quantize import MODEL_FILE, entry_modules


def _subprocess_env() -> dict[str, str]:
    return kiln.child_env(TF_USE_LEGACY_KERAS="1")  # tfmot needs tf_keras, not Keras 3


def _run(cmd: list[str], verbose: bool) -> int:
    """Run a kiln.quantize command; quiet mode shows its summary lines, and its errors on failure."""
    if verbose:
        print(" ".join(cmd))
        return subprocess.call(cmd, env=_subprocess_env())
    proc = subprocess.run(cmd, env=_subprocess_env(), capture_output=True, text=True)
    for line in proc.stdout.splitlines():
        if line.startswith("  "):
            print(line)
    if proc.returncode:
        errors = [line for line in proc.stderr.splitlines() if line.startswith("kiln.quantize:")]
        # An unexpected crash has no one-line message: show the end of its traceback.
        print("\n".join(errors or proc.stderr.splitlines()[-25:]), file=sys.stderr)
    return proc.returncode


def _convert_action(target, source, env) -> int:  # noqa: ANN001 - SCons action signature
    cmd = [sys.executable, "-W", "ignore", "-m", "kiln.quantize", "convert",
           "--net-dir", env["KILN_NET_DIR"], "--variant", env["KILN_VARIANT"],
           "--out-dir", os.path.dirname(str(target[0]))]
    return _run(cmd, bool(env.get("VERBOSE")))


def _convert_str(target, source, env) -> str:  # noqa: ANN001
    return f"  QUANT {target[0]}"


def _train_action(target, source, env) -> int:  # noqa: ANN001
    cmd = [sys.executable, "-W", "ignore", "-m", "kiln.quantize", "train",
           "--net-dir", env["KILN_NET_DIR"], "--out", env["KILN_MODEL"]]
    return _run(cmd, bool(env.get("VERBOSE")))


def _train_str(target, source, env) -> str:  # noqa: ANN001
    return f"  TRAIN {env['KILN_MODEL']}"


def _report_action(target, source, env) -> int:  # noqa: ANN001
    from kiln import report_models  # matplotlib is imported only here, when a report is due

    reports = report_models.load_reports([str(s) for s in source])
    report_models.write_csv(reports, str(target[0]))
    report_models.plot(reports, str(target[1]), env["KILN_NET"])
    return 0


def _report_str(target, source, env) -> str:  # noqa: ANN001
    return f"  REPORT {target[0]}"


def _print_action(target, source, env) -> int:  # noqa: ANN001
    from kiln import report_models

    jsons = [str(s) for s in source if str(s).endswith(".json")]
    print(report_models.format_table(report_models.load_reports(jsons), env["KILN_NET"]))
    for s in source:
        if not str(s).endswith(".json"):
            print(f"  written: {s}")
    return 0


def _paths(env, net: str, net_dir: str | None, build_dir: str | None) -> tuple[Path, Path]:  # noqa: ANN001
    return (Path(net_dir) if net_dir else ROOT / "models" / net,
            Path(build_dir) if build_dir else paths.models_dir(net))


def kiln_models(env, net: str, net_dir: str | None = None, build_dir: str | None = None,  # noqa: ANN001
                variants: list[str] | tuple[str, ...] | None = None) -> dict:
    """Declare every variant `net`'s model allows: {variant: [tflite_node, json_node]}.

    net_dir/build_dir/variants override models/<net>/, build/models/<net>/
    and the variants of the network's source (used by the tests with a fixture net).
    A folder that is not a network yet declares nothing (new-net makes it).
    """
    ndir, bdir = _paths(env, net, net_dir, build_dir)
    if not netspec.is_net_folder(ndir):
        return {}
    try:
        spec = netspec.load(ndir)
    except KilnError as exc:
        kiln_scons.fail(str(exc))
    action = kiln_scons.action(_convert_action, _convert_str, varlist=["KILN_VARIANT", "KILN_NET_DIR"])
    net_py = ndir / netspec.CODE
    net_code = [net_py, *pydeps.script_imports(net_py)] if spec.has_code else []
    inputs = [str(p) for p in netspec.input_files(spec)]
    result = {}
    for variant in variants or spec.variants:
        nodes = env.Command(
            [str(bdir / f"{variant}.tflite"), str(bdir / f"{variant}.json")], inputs, action,
            KILN_VARIANT=variant, KILN_NET_DIR=str(ndir),
        )
        code = pydeps.module_files(*entry_modules(variant), *net_code[1:])
        env.Depends(nodes, [str(p) for p in code] + [str(p) for p in net_code[:1]])
        result[variant] = nodes
    return result


def kiln_models_report(env, net: str, models: dict, build_dir: str | None = None) -> list:  # noqa: ANN001
    """Write build/models/<net>/report.csv and report.png from every variant's JSON, and print the table."""
    _, bdir = _paths(env, net, None, build_dir)
    jsons = [pair[1] for pair in models.values()]
    files = env.Command([str(bdir / "report.csv"), str(bdir / "report.png")], jsons,
                        kiln_scons.action(_report_action, _report_str), KILN_NET=net)
    env.Depends(files, [str(p) for p in pydeps.module_files("kiln.report_models")])
    # Printing is cheap and always wanted when the user asks for the report.
    shown = env.Alias(f"kiln-models-report-{net}", jsons + files, kiln_scons.action(_print_action, None),
                      KILN_NET=net)
    env.AlwaysBuild(shown)
    return shown


def kiln_train(env, net: str, net_dir: str | None = None) -> list:  # noqa: ANN001
    """An always-built alias that retrains models/<net>/model.h5 with net.py's seeded recipe.

    The model file is not declared as a target, so 'scons -c' never removes it.
    """
    ndir, _ = _paths(env, net, net_dir, None)
    node = env.Alias(f"kiln-train-{net}", [], kiln_scons.action(_train_action, _train_str),
                     KILN_NET_DIR=str(ndir), KILN_MODEL=str(ndir / MODEL_FILE))
    env.AlwaysBuild(node)
    return node


def _new_net_action(target, source, env) -> int:  # noqa: ANN001
    if not env["KILN_FROM"]:
        raise KilnError("new-net needs FROM=: the trained model file (.keras, .h5, .onnx, .tflite) or "
                        "SavedModel folder, e.g. 'scons new-net NET=mynet FROM=path/model.keras "
                        "DATASET=fashion_mnist'")
    cmd = [sys.executable, "-W", "ignore", "-m", "kiln.quantize", "new-net", "--name", env["KILN_NET"],
           "--from", env["KILN_FROM"], "--dataset", env["KILN_DATASET"],
           "--models-dir", str(ROOT / "models")]
    if env["KILN_LABELS"]:
        cmd += ["--labels", env["KILN_LABELS"]]
    return _run(cmd, bool(env.get("VERBOSE")))


def kiln_new_net(env, net: str, source: str, dataset: str, labels: str) -> list:  # noqa: ANN001
    """An always-built alias making models/<net>/ (the model and net.toml) from a trained model."""
    node = env.Alias(f"kiln-new-net-{net}", [], kiln_scons.action(_new_net_action, f"  NEW   models/{net}/"),
                     KILN_NET=net, KILN_FROM=source, KILN_DATASET=dataset, KILN_LABELS=labels)
    env.AlwaysBuild(node)
    return node


def generate(env) -> None:  # noqa: ANN001
    """Add KilnModels, KilnModelsReport, KilnTrain and KilnNewNet to `env`."""
    env.AddMethod(kiln_new_net, "KilnNewNet")
    env.AddMethod(kiln_models, "KilnModels")
    env.AddMethod(kiln_models_report, "KilnModelsReport")
    env.AddMethod(kiln_train, "KilnTrain")


def exists(env) -> bool:  # noqa: ANN001
    """Always available: the work runs in this Python's subprocess."""
    return True
