"""Run a test set on the board over UART; report accuracy, latency and fidelity.

    python -m host.infer --board BOARD --tflite build/models/<net>/<variant>.tflite \\
        --elf build/<board>/<net>/<variant>/<kernels>/firmware.elf [--port P] [--limit N] [--resume]

Without --port, an emulated board (an [emulator] section in its board.toml)
is booted in QEMU (and stopped afterwards, and restarted if it dies mid-run);
a hardware board is looked for on the serial devices its [uart] host_ports
name. Results go beside the ELF: infer.jsonl (one line per sample, appended
as they come), infer.json (the summary) and confusion.png.
--info prints what the board runs and exits.
"""

from __future__ import annotations

import argparse
import glob
import json
import math
import os
import signal
import sys
import time
from pathlib import Path

import numpy as np
from kiln import boards, netdata, netspec, paths, registry
from kiln.atomic import write_json
from kiln.errors import KilnError

from host import client as cl
from host import datasets, report
from host.progress import Progress
from host.protocol import DeviceError
from host.qemu import Qemu, QemuError

MAX_RESTARTS = 3


# ---- finding and starting the board ---------------------------------------------------

def find_board_port(board: boards.Board) -> str:
    """The serial port of a plugged-in hardware board (the first match of its
    [uart] host_ports globs, in their order), or a KilnError."""
    for pattern in board.host_ports:
        found = sorted(glob.glob(pattern))
        if found:
            return found[0]
    looked = f" (looked for {', '.join(board.host_ports)})" if board.host_ports else ""
    raise KilnError(f"no {board.name} found{looked}: plug it in ({board.description or board.name}), "
                    "or name the port with PORT=/dev/ttyACMn (or socket://host:port)")


class Board:
    """A connection to the board: a given port, or a QEMU this process owns."""

    def __init__(self, args: argparse.Namespace, on_event) -> None:  # noqa: ANN001
        self.args = args
        self.on_event = on_event
        self.qemu: Qemu | None = None
        self.client: cl.Client | None = None
        self.restarts = 0
        self.spent = cl.LinkStats()  # stats of closed connections

    @property
    def owns_emulator(self) -> bool:
        """True when this process started QEMU (so it may restart it)."""
        return self.qemu is not None

    def connect(self) -> cl.Client:
        """Open the port (booting QEMU first when needed) and check the device answers."""
        port = self.args.port
        if not port:
            if not self.args.board:
                raise KilnError("no port and no board: pass --port, or --board (one of "
                                f"{', '.join(boards.names())})")
            board = boards.load(self.args.board)
            if board.emulated:
                if not self.args.elf:
                    raise KilnError("booting the emulator needs the firmware: pass --elf")
                try:
                    self.qemu = Qemu.for_board(board, self.args.elf, serial=self.args.serial)
                    port = self.qemu.start()
                except QemuError as exc:
                    raise KilnError(str(exc)) from exc
            else:
                port = find_board_port(board)
        self.client = cl.Client(port, self.args.baud, retries=self.args.retries,
                                compute_timeout=self.args.timeout, on_event=self.on_event)
        self.client.check_alive()
        return self.client

    def restart(self, reason: str) -> cl.Client:
        """Reboot the emulator after the link died, and reconnect."""
        if not self.owns_emulator or self.restarts >= MAX_RESTARTS:
            raise cl.LinkError(reason)
        self.restarts += 1
        self.on_event("reset", f"emulator restarted ({reason})")
        self.close()
        self.qemu = None
        return self.connect()

    def stats(self) -> cl.LinkStats:
        """Link statistics over every connection so far."""
        s = cl.LinkStats(**{k: v for k, v in vars(self.spent).items() if k != "device_errors"})
        if self.client is not None:
            for k in ("bytes_tx", "bytes_rx", "frames_tx", "frames_rx"):
                setattr(s, k, getattr(s, k) + getattr(self.client.stats, k))
        return s

    def close(self) -> None:
        """Close the port and stop QEMU if this process started it."""
        if self.client is not None:
            for k in ("bytes_tx", "bytes_rx", "frames_tx", "frames_rx"):
                setattr(self.spent, k, getattr(self.spent, k) + getattr(self.client.stats, k))
            self.client.close()
            self.client = None
        if self.qemu is not None:
            self.qemu.stop()


# ---- checking the board runs our model -----------------------------------------------------

def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-12)


def which_model(sha256: str) -> str | None:
    """<net>/<variant> of the built .tflite with this hash, if any."""
    for path in sorted(p for net in registry.nets() for p in paths.models_dir(net).glob("*.tflite")):
        if report_sha(path) == sha256:
            return f"{path.parent.name}/{path.stem}"
    return None


def report_sha(path: Path) -> str:
    """SHA-256 of a file (indirection kept small for which_model)."""
    from host.reference import sha256_file

    return sha256_file(path)


def check_info(info: dict, ref, args: argparse.Namespace) -> None:  # noqa: ANN001 - a Reference
    """Stop with a clear message unless the board runs exactly the local model."""
    model = info.get("model") or {}
    # The variables that chose this model: NET/MODEL, or TFLITE= for one's own file.
    chosen = getattr(args, "select", None) or f"NET={args.net} MODEL={args.variant}"
    flash = f"scons flash {chosen} BOARD={args.board}"
    if args.board and info.get("board") and info["board"] != args.board:
        raise KilnError(f"the device on {args.port or 'the port'} is a {info['board']} board, not "
                        f"{args.board}: run with BOARD={info['board']}")
    if model.get("tflite_sha256") != ref.sha256:
        runs = which_model(model.get("tflite_sha256", "")) or model.get("name") or "an unknown model"
        raise KilnError(f"the board runs {runs} (tflite sha256 {str(model.get('tflite_sha256'))[:12]}...), "
                        f"not {ref.path} ({ref.sha256[:12]}...): flash this one with '{flash}'"
                        + ("" if getattr(args, "select", None) else
                           f", or test what it runs with MODEL={runs.split('/')[-1]}"))
    problems = []
    for key, specs in (("inputs", ref.inputs), ("outputs", ref.outputs)):
        got_all = model.get(key) or []
        if len(got_all) != len(specs):
            problems.append(f"{len(got_all)} {key} != {len(specs)}")
            continue
        for n, (spec, got) in enumerate(zip(specs, got_all, strict=True)):
            want = spec.as_info()
            fields = ("dtype", "shape", "bytes", "zero_point") if key == "inputs" else ("bytes",)
            problems += [f"{key[:-1]} {n} {k} {got.get(k)} != {want[k]}" for k in fields
                         if got.get(k) != want[k]]
            if key == "inputs" and want["dtype"] != "float32" and not _close(float(got.get("scale") or 0),
                                                                               want["scale"]):
                problems.append(f"input {n} scale {got.get('scale')} != {want['scale']}")
    if problems:
        raise KilnError(f"the board's model input does not match {ref.path}: {'; '.join(problems)}; "
                        f"rebuild and flash it with '{flash}'")


# ---- the run ----------------------------------------------------------------------------

def _prepare_log(path: Path, resume: bool, run: dict) -> tuple[set[int], list[dict]]:
    """Start or continue infer.jsonl; the indices already done and the old records."""
    if resume and path.exists():
        records = report.read_log(path)
        old = next((r for r in records if r.get("kind") == "run"), None)
        if old:
            for key in ("tflite_sha256", "dataset", "board"):
                if old.get(key) != run.get(key):
                    raise KilnError(f"{path} holds a run with {key} {old.get(key)!r}, this one has "
                                    f"{run.get(key)!r}: run without RESUME=1 to start over")
        return set(report.samples_by_index(records)), records
    if path.exists():
        # A fresh run keeps the previous log as infer.jsonl.prev rather than losing it.
        os.replace(path, path.with_name(path.name + ".prev"))
    return set(), []


def predict(values: np.ndarray, spec) -> int:  # noqa: ANN001 - a reference.TensorSpec
    """The class a model output says: argmax over classes; the value itself for an int32 output
    (an on-device ARG_MAX); for a single score, 1 when it is above one half (a probability: its
    quantized range ends near 1, or a float in [0, 1]) or above 0 (a logit)."""
    if values.size == 1:
        if spec.dtype in ("int32", "bool"):
            return int(values[0])
        real = float(values[0]) if not spec.quantized else spec.scale * (float(values[0]) - spec.zero_point)
        top = spec.scale * (np.iinfo(values.dtype).max - spec.zero_point) if spec.quantized else real
        threshold = 0.5 if 0.0 <= top <= 1.01 else 0.0
        return int(real > threshold)
    return int(values.argmax())


def _sample_record(i: int, label: int | None, res: cl.InferResult, host_out: bytes, ref) -> dict:  # noqa: ANN001
    devs, hsts = ref.split_outputs(res.output), ref.split_outputs(host_out)
    dev, hst = devs[ref.label_index], hsts[ref.label_index]
    diffs = [np.abs(d.astype(np.float64) - h.astype(np.float64)) for d, h in zip(devs, hsts, strict=True)]
    kind = int if dev.dtype.kind in "iu" else float
    return {"kind": "sample", "i": i, "label": label, "device_pred": predict(dev, ref.output),
            "host_pred": predict(hst, ref.output), "cost": res.cost, "exact": res.output == host_out,
            # Fidelity per output tensor: a multi-head model may differ in one head only.
            "exact_outputs": [bool(np.array_equal(d, h)) for d, h in zip(devs, hsts, strict=True)],
            "max_abs_diff": max((float(d.max()) for d in diffs if d.size), default=0.0),
            "device": dev.astype(kind).tolist(), "host": hst.astype(kind).tolist(),
            "t": round(time.time(), 3)}


def _manifest_label_output(net_dir: str | None) -> str:
    """net.toml's [model] label_output: the output predictions are read from ("" for the first)."""
    if not net_dir or not (Path(net_dir) / netspec.MANIFEST).is_file():
        return ""
    return netspec.load(net_dir).label_output


def _already_quantized(data_dtype: np.dtype, input_dtype: str) -> bool:
    """True when a dataset's values are the model's input integers already: int8
    for an int8 input, uint8 for a uint8 input (uint8 images are otherwise
    normalized as in training)."""
    return np.dtype(data_dtype).name == input_dtype and input_dtype in ("int8", "uint8")


def run(args: argparse.Namespace) -> dict:
    """Run the test set and write the report files; the summary."""
    from host.reference import Reference

    ref = Reference(args.tflite, args.output or _manifest_label_output(args.net_dir))
    data = datasets.load(args.dataset, args.labels, args.net_dir)
    limit = len(data) if args.limit is None else min(args.limit, len(data))
    out_dir = Path(args.out)
    log_path = out_dir / "infer.jsonl"
    log: report.Log | None = None

    def on_event(kind: str, detail: str) -> None:
        if log is not None:
            log.write({"kind": "event", "event": kind, "detail": detail, "t": round(time.time(), 3)})
        if args.verbose:
            print(f"\n{kind}: {detail}", file=sys.stderr)

    board = Board(args, on_event)
    done_now = 0
    start = time.monotonic()
    try:
        client = board.connect()
        info = client.info()
        check_info(info, ref, args)
        run_rec = {"kind": "run", "tflite_sha256": ref.sha256, "model": info["model"].get("name"),
                   "reference": ref.oracle,
                   "board": info.get("board"), "dataset": data.name, "limit": limit,
                   "info": info, "started": round(time.time(), 3)}
        done, old = _prepare_log(log_path, args.resume, run_rec)
        log = report.Log(log_path)
        if not any(r.get("kind") == "run" for r in old):
            log.write(run_rec)
        todo = [i for i in range(limit) if i not in done]
        if done:
            print(f"resuming: {len(done)} samples already in {log_path}, {len(todo)} to go", file=sys.stderr)
        data_labels = data.labels
        # Inputs already in the model's integer input dtype (int8, or uint8 for a
        # uint8-input model) are quantized and pass unchanged; everything else is
        # normalized as in training and quantized by ref.encode as the model says.
        # int8 data is never an image: ref.encode refuses it for a float or uint8 model.
        arrays = []
        for array, spec in zip(datasets.arrays_for(data, [t.name for t in ref.inputs]), ref.inputs,
                               strict=True):
            array = netdata.fit_layout(array[:limit], tuple(spec.shape[1:]), f"dataset {data.name}")
            if array.dtype != np.int8 and not _already_quantized(array.dtype, spec.dtype):
                array = data.model_inputs(array)
            arrays.append(array)
        bar = Progress(limit, "infer", done=limit - len(todo), quiet=args.quiet)
        correct = exact = 0
        start = time.monotonic()

        encoded: dict[int, bytes] = {}

        def items(indices: list[int]):  # noqa: ANN202 - a generator
            for i in indices:
                encoded[i] = ref.encode([a[i] for a in arrays])
                yield i, encoded[i]

        while todo:
            try:
                for res in client.infer_stream(items(todo), ref.output_bytes, depth=args.depth):
                    # The reference runs while the device computes the next input.
                    sent = encoded.pop(res.key)
                    label = None if data_labels is None else int(data_labels[res.key])
                    rec = _sample_record(res.key, label, res, ref.run(sent), ref)
                    log.write(rec)
                    done.add(res.key)
                    done_now += 1
                    correct += rec["device_pred"] == rec["label"]
                    exact += rec["exact"]
                    acc = "" if label is None else f"acc {100 * correct / done_now:.1f}% "
                    bar.update(1, f"{acc}exact {100 * exact / done_now:.1f}%")
            except cl.LinkError as exc:
                if not board.owns_emulator:
                    raise
                client = board.restart(str(exc))
            todo = [i for i in todo if i not in done]
            encoded.clear()
        bar.close()
        try:
            layer_costs = client.profile() if limit else None
        except (cl.LinkError, DeviceError) as exc:
            # Every sample is saved already; only the per-layer table is missing.
            print(f"infer: no per-layer costs: {exc}", file=sys.stderr)
            layer_costs = None
    except KeyboardInterrupt:
        print(f"\ninterrupted: {done_now} new samples saved in {log_path}; "
              "continue with RESUME=1 (--resume)", file=sys.stderr)
        raise
    finally:
        if log is not None:
            s = board.stats()
            log.write({"kind": "segment", "samples": done_now, "wall_s": round(time.monotonic() - start, 3),
                       "bytes_tx": s.bytes_tx, "bytes_rx": s.bytes_rx, "t": round(time.time(), 3)})
            log.close()
        board.close()

    records = report.read_log(log_path)
    summary = report.summarize(records, info, data.class_names(), args.baud, layer_costs)
    summary["files"] = {"log": str(log_path), "summary": str(out_dir / "infer.json")}
    if summary["confusion"]:  # none without labels
        summary["files"]["confusion"] = str(out_dir / "confusion.png")
    write_json(out_dir / "infer.json", summary)
    written = [out_dir / "infer.json", log_path]
    if summary["confusion"]:
        report.plot_confusion(summary, out_dir / "confusion.png")
        written.append(out_dir / "confusion.png")
    if args.quiet:
        print(f"  {report.format_line(summary)}")
    else:
        print(report.format_summary(summary))
        print(f"\n  wrote {', '.join(map(str, written))}")
    return summary


def show_info(args: argparse.Namespace) -> dict:
    """Print what the board runs (INFO as a model view)."""
    board = Board(args, lambda kind, detail: None)
    try:
        info = board.connect().info()
    finally:
        board.close()
    layers = _compiler_layers(args, info)
    print(report.format_info(info, [la.get("passed_over", "") for la in layers] if layers else None,
                             layers))
    return info


def _compiler_layers(args: argparse.Namespace, info: dict) -> list[dict] | None:
    """The compiler's report per layer (kernel passed over and why, weight bytes, a
    sparse layer's dense bytes), from kiln_layers.json beside the ELF's generated C, when
    it describes the model the board runs."""
    if not getattr(args, "elf", None):
        return None
    path = Path(args.elf).parent / "gen" / paths.LAYERS_REPORT
    try:
        rep = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if rep.get("tflite_sha256") != info.get("model", {}).get("tflite_sha256"):
        return None
    return list(rep.get("layers", []))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line arguments (every SCons variable has a flag here)."""
    ap = argparse.ArgumentParser(prog="python -m host.infer", description=__doc__.split("\n")[0])
    ap.add_argument("--board", default="", help="board name (an emulated board boots QEMU when no --port)")
    ap.add_argument("--net", default="fashion_mnist")
    ap.add_argument("--variant", default="ptq")
    ap.add_argument("--tflite", help="the model the board should run (the host reference)")
    ap.add_argument("--select", help="the scons variables choosing the model, for hints "
                    "(default: NET=<net> MODEL=<variant>)")
    ap.add_argument("--elf", help="the firmware (for QEMU; results are written beside it)")
    ap.add_argument("--out", help="results folder (default: the ELF's folder)")
    ap.add_argument("--port", default="", help="/dev/ttyACM0, socket://host:port, rfc2217://...")
    ap.add_argument("--baud", type=int, help="UART baud rate (default: the board's default_baud)")
    ap.add_argument("--limit", type=int, help="first N samples only")
    ap.add_argument("--resume", action="store_true", help="continue the run in infer.jsonl")
    ap.add_argument("--dataset", default="",
                    help="fashion_mnist, a .npy of inputs, an MNIST or CIFAR-10 folder")
    ap.add_argument("--labels", help="labels .npy for a .npy dataset")
    ap.add_argument("--net-dir", help="the network folder (its net.toml names the default dataset)")
    ap.add_argument("--output", default="", help="the output tensor predictions are read from, by name "
                    "(default: net.toml's label_output, else the first)")
    ap.add_argument("--serial", choices=("pty", "tcp"), default="pty", help="QEMU's UART link")
    ap.add_argument("--retries", type=int, default=3)
    ap.add_argument("--timeout", type=float, default=2.0, help="compute allowance per request, seconds")
    ap.add_argument("--depth", type=int, choices=(1, 2), default=2, help="requests in flight")
    ap.add_argument("--info", action="store_true", help="print what the board runs and exit")
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--quiet", action="store_true",
                    help="no progress bar, and the results as one line (runs side by side)")
    args = ap.parse_args(argv)
    if args.baud is None:
        if not args.board:
            ap.error("--baud or --board is required (the baud rate defaults to the board's)")
        try:
            args.baud = boards.load(args.board).default_baud
        except KilnError as exc:
            ap.error(str(exc))
    if args.limit is not None and args.limit < 0:
        ap.error("--limit must be 0 or more")
    if not args.info and not args.tflite:
        ap.error("--tflite is required to run inference")
    if not args.out and not args.info:
        if not args.elf:
            ap.error("--out or --elf is required (results are written beside the ELF)")
        args.out = str(Path(args.elf).parent)
    return args


def main(argv: list[str] | None = None) -> int:
    """Entry point: 0 on success, 1 on a user-facing error, 130 when interrupted."""
    args = parse_args(argv)
    # SIGTERM stops QEMU and closes the log properly, like Ctrl-C.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        if args.info:
            show_info(args)
        else:
            run(args)
    except (KilnError, cl.LinkError, DeviceError) as exc:
        print(f"infer: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
