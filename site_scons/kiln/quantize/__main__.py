"""Command line: ``python -m kiln.quantize convert|train|new-net ...`` (run by the SCons tool).

convert: build variants of a net's trained model into OUT_DIR/<variant>.tflite
and OUT_DIR/<variant>.json. train: retrain the net's model file from net.py.
new-net: make a network folder (model and net.toml) from a trained model.
Both write through temp files and renames: an interrupted run leaves no
half-written output.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import signal
import sys
import time
from pathlib import Path

# Before TensorFlow loads: tfmot needs Keras 2 (tf_keras); oneDNN reorders float
# sums, which would make reruns differ in the last bits; keep the log quiet.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from kiln import netspec  # noqa: E402
from kiln.atomic import write_atomic  # noqa: E402 - after the environment set-up above
from kiln.errors import KilnError, unknown_value  # noqa: E402
from kiln.quantize import MODEL_FILE  # noqa: E402
from kiln.quantize.netdef import load_net  # noqa: E402
from kiln.quantize.recipes import VARIANTS  # noqa: E402


def convert(net_dir: Path, variants: list[str], out_dir: Path) -> None:
    """Build each variant: run its recipe, measure the .tflite, write .tflite and .json."""
    import absl.logging

    absl.logging.set_verbosity(absl.logging.ERROR)
    from kiln.quantize.context import Context, seed_everything
    from kiln.quantize.evaluate import measure

    spec = netspec.load(net_dir)
    for variant in variants:
        reason = spec.why_not(variant)
        if reason:
            raise KilnError(reason)
    net = load_net(net_dir) if spec.has_code else None
    ctx = Context(spec=spec, net=net, cache=out_dir / ".import")
    params = ctx.param_count()  # also names a corrupt model before any work
    for variant in variants:
        start = time.monotonic()
        seed_everything(ctx.seed)
        recipe = importlib.import_module(f"kiln.quantize.recipes.{variant}")
        tflite_bytes = recipe.build(ctx)
        x_test, y_test = ctx.data[2], ctx.data[3]
        report = {
            "net": net_dir.name,
            "variant": variant,
            "source": {"file": spec.source.name, "kind": spec.kind},
            "params": params,
            **measure(tflite_bytes, x_test, y_test, ctx.output_logits, netspec.source_bytes(spec)),
            **ctx.checks,
        }
        if not report["params"]:  # a graph without Keras layers: count what the .tflite holds
            report["params"] = report["weights"]
        report["seconds"] = round(time.monotonic() - start, 2)
        # JSON last: its presence means the .tflite beside it is complete.
        write_atomic(out_dir / f"{variant}.tflite", tflite_bytes)
        write_atomic(out_dir / f"{variant}.json", (json.dumps(report, indent=2) + "\n").encode())
        if report["accuracy"] is not None:
            accuracy = f"{report['accuracy']:.4f}"
        else:  # a regression (float targets) has a loss, its mean squared error, and no accuracy
            accuracy = ("n/a (no labels)" if report["loss"] is None
                        else f"n/a (regression, MSE {report['loss']:.4f})")
        print(f"  {net_dir.name}/{variant}: accuracy {accuracy}, "
              f"{report['tflite_bytes']} B, gzip {report['gzip_bytes']} B, {report['seconds']} s")


def train(net_dir: Path, out: Path) -> None:
    """Train the net from scratch with its seeded recipe and save the model file atomically."""
    from kiln.quantize.context import seed_everything

    net = load_net(net_dir)
    seed_everything(net.SEED)
    x_train, y_train, x_test, y_test = net.load_data()
    model = net.build_model()
    net.compile_model(model)
    start = time.monotonic()
    net.train(model, x_train, y_train)
    loss, score = model.evaluate(x_test, y_test, verbose=0)[:2]
    metric = model.metrics_names[1] if len(model.metrics_names) > 1 else "score"  # mae for a regression
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.{os.getpid()}.tmp{out.suffix}")  # the suffix picks the file format
    try:
        model.save(str(tmp), include_optimizer=False)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    print(f"  trained {net_dir.name}: {model.count_params()} params, test {metric} {score:.4f}, "
          f"loss {loss:.4f}, {time.monotonic() - start:.1f} s -> {out}")


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run; user errors print one clear line and exit 2."""
    # SIGINT may arrive ignored (a background job) and SIGTERM would skip the clean-up of
    # temp files: route both through KeyboardInterrupt so `finally` blocks run.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    parser = argparse.ArgumentParser(prog="python -m kiln.quantize", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    conv = sub.add_parser("convert", help="build variants of a trained model")
    conv.add_argument("--net-dir", type=Path, required=True, help="network folder (net.toml or net.py)")
    conv.add_argument("--variant", action="append", required=True, help="variant to build (repeatable)")
    conv.add_argument("--out-dir", type=Path, required=True, help="where <variant>.tflite/.json go")
    tr = sub.add_parser("train", help="retrain a net's model file")
    tr.add_argument("--net-dir", type=Path, required=True, help="folder holding net.py")
    tr.add_argument("--out", type=Path, help=f"model file to write (default: NET_DIR/{MODEL_FILE})")
    new = sub.add_parser("new-net", help="make a network folder from a trained model")
    new.add_argument("--name", required=True, help="the network's name (its folder under --models-dir)")
    new.add_argument("--from", dest="source", type=Path, required=True, help="the trained model")
    new.add_argument("--dataset", default="", help="its data (DATASET=)")
    new.add_argument("--labels", help="labels .npy for a .npy dataset")
    new.add_argument("--models-dir", type=Path, required=True, help="where network folders live")
    args = parser.parse_args(argv)
    try:
        if args.command == "new-net":
            from kiln.quantize.newnet import create

            create(args.name, args.source, args.dataset, args.labels, args.models_dir)
        elif args.command == "convert":
            bad = [v for v in args.variant if v not in VARIANTS]
            if bad:
                raise KilnError(unknown_value("MODEL", bad[0], VARIANTS))
            convert(args.net_dir, args.variant, args.out_dir)
        else:
            train(args.net_dir, args.out or args.net_dir / MODEL_FILE)
    except KilnError as exc:
        print(f"kiln.quantize: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("kiln.quantize: interrupted; no partial output was kept", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
