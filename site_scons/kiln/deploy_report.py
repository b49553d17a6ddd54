"""deploy-report: every variant of a network, built and run on one board, side by side.

The exercise's last question, for each variant: its accuracy, latency and memory on the
board. Nothing is measured here; the figures come from what the build already wrote:

- the variant's JSON from `scons models`: host accuracy over the whole test set
  (TensorFlow Lite), the .tflite and gzip sizes;
- infer.json from the run on the board (host.infer, through env.KilnInfer): device and
  host (tflite-micro) accuracy over the LIMIT samples, fidelity, and latency in the
  board's cost unit (cycles on hardware, instructions on the emulator), with ms at the
  board's clock where it counts cycles;
- the firmware ELF and its map (kiln.sizereport, as `scons size-report` reads them):
  flash and RAM in total, the model weights' flash, the arena.

They are written as a text table, a CSV, a JSON and two PNGs (kiln.labelplot). No SCons here.
"""

from __future__ import annotations

import csv
import io
import json
import os
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kiln import boards, labelplot, sizereport
from kiln.atomic import write_atomic, write_json
from kiln.boards import Board
from kiln.errors import KilnError
from kiln.texttable import format_rows

#: One row per variant: these fields, in this order, are the CSV's columns.
FIELDS = ("variant", "host_accuracy", "test_samples", "samples", "host_accuracy_on_samples",
          "device_accuracy", "fidelity", "max_abs_diff", "latency_unit", "latency_mean", "latency_ms",
          "flash_bytes", "weights_bytes", "weights_share", "ram_bytes", "arena_bytes", "tflite_bytes",
          "gzip_bytes")

#: The width the notes under the table are wrapped to.
NOTE_WIDTH = 100

#: The size report's components holding the model's constant data (flash) and its arena (RAM).
WEIGHTS, ARENA = "model weights", "model arena"


@dataclass(frozen=True)
class Run:
    """What the build made for one variant: its models JSON, the run's infer.json, the ELF."""

    variant: str
    model_json: Path
    infer_json: Path
    elf: Path


def board_for(given: str, port: str, default_board: str) -> Board:
    """The board deploy-report runs on.

    BOARD= given: that board; an emulated one boots each image in QEMU (so PORT= is refused),
    a hardware one is flashed with each image in turn and needs PORT=. Without BOARD=: the
    first emulated board (the default board's stand-in), or `default_board` when PORT= names
    a hardware board's port.
    """
    if not given:
        if port:
            return boards.load(default_board)
        emulated = boards.emulated()
        if not emulated:
            raise KilnError("deploy-report runs on an emulated board by default, and none is found under "
                            "firmware/boards/: name a hardware board and its port, BOARD=... PORT=...")
        return boards.load(emulated[0])
    board = boards.load(given)
    if board.emulated and port:
        raise KilnError(f"deploy-report boots each variant's image in QEMU on {given} itself: drop "
                        f"PORT={port} (a PORT= is for a hardware board)")
    if not board.emulated and not port:
        raise KilnError(f"deploy-report on {given} flashes each variant in turn and runs it over its serial "
                        f"port: name the port, e.g. PORT=/dev/ttyACM0, or drop BOARD= to run on the "
                        f"emulated {boards.emulated()[0] if boards.emulated() else 'board'}")
    return board


def _load(path: Path, fix: str) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise KilnError(f"cannot read {path}: {exc}; {fix}") from exc


def _component(size: dict, name: str, kind: str) -> int:
    return next((c[kind] for c in size["components"] if c["name"] == name), 0)


def row(variant: str, model: dict, infer: dict, size: dict) -> dict:
    """One variant's row (the FIELDS) from its models JSON, infer.json and size report."""
    lat = infer["latency"]
    flash, weights = size["flash_used"], _component(size, WEIGHTS, "flash")
    return {
        "variant": variant,
        "host_accuracy": model.get("accuracy"),
        "test_samples": model.get("test_samples"),
        "samples": infer["samples"],
        "host_accuracy_on_samples": infer.get("host_accuracy"),
        "device_accuracy": infer.get("device_accuracy"),
        "fidelity": infer.get("fidelity"),
        "max_abs_diff": infer.get("max_abs_diff"),
        "latency_unit": lat["unit"],
        "latency_mean": lat.get("mean"),
        # Only cycles convert to time; the emulator's instructions do not (host.report).
        "latency_ms": lat["ms"]["mean"] if "ms" in lat else None,
        "flash_bytes": flash,
        "weights_bytes": weights,
        "weights_share": weights / flash if flash else None,
        "ram_bytes": size["ram_used"],
        "arena_bytes": _component(size, ARENA, "ram"),
        "tflite_bytes": model["tflite_bytes"],
        "gzip_bytes": model["gzip_bytes"],
    }


def gather(net: str, board: Board, image_tag: str, runs: list[Run]) -> dict:
    """The whole report (JSON-able): the board, the images' tag (their folder's name, kiln.paths.
    image_tag: dsp, portable, dsp-size...), and one row per run in the given order."""
    rows, dataset = [], ""
    for run in runs:
        model = _load(run.model_json, f"rebuild it: 'scons models NET={net}'")
        infer = _load(run.infer_json, "run 'scons deploy-report' again")
        size = sizereport.report(run.elf, run.elf.with_suffix(".map"), board)
        files = {"model": str(run.model_json), "infer": str(run.infer_json), "elf": str(run.elf)}
        rows.append({**row(run.variant, model, infer, size), "files": files})
        dataset = dataset or infer.get("dataset") or ""
    return {"net": net, "board": board.name, "description": board.description, "cpu": board.cpu,
            "emulated": board.emulated, "clock_hz": board.clock_hz, "cost_unit": board.cost_unit,
            "image_tag": image_tag, "dataset": dataset, "rows": rows}


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.2f}%"


def _int(x: float | None) -> str:
    return "-" if x is None else f"{x:,.0f}"


def _samples(rep: dict) -> str:
    """The number of samples run on the board, as headings show it."""
    counts = {r["samples"] for r in rep["rows"]}
    return f"{counts.pop():,}" if len(counts) == 1 else "N"


def _columns(rep: dict) -> list[tuple[str, Callable[[dict], str]]]:
    """The text table's (heading, cell of a row) pairs."""
    n = _samples(rep)
    tests = {r["test_samples"] for r in rep["rows"]}
    everything = f"{tests.pop():,}" if len(tests) == 1 and None not in tests else "all"
    return [
        ("Model", lambda r: r["variant"]),
        (f"Host ({everything})", lambda r: _pct(r["host_accuracy"])),
        (f"Host ({n})", lambda r: _pct(r["host_accuracy_on_samples"])),
        (f"Device ({n})", lambda r: _pct(r["device_accuracy"])),
        ("Fidelity", lambda r: _pct(r["fidelity"])),
        (rep["cost_unit"].capitalize(), lambda r: _int(r["latency_mean"])),
        ("ms", lambda r: "-" if r["latency_ms"] is None else f"{r['latency_ms']:.3f}"),
        ("Flash B", lambda r: _int(r["flash_bytes"])),
        ("Weights B", lambda r: f"{r['weights_bytes']:,}" + (f" ({r['weights_share']:.0%})"
                                                              if r["weights_share"] is not None else "")),
        ("RAM B", lambda r: _int(r["ram_bytes"])),
        ("Arena B", lambda r: _int(r["arena_bytes"])),
        ("TFLite B", lambda r: _int(r["tflite_bytes"])),
        ("gzip B", lambda r: _int(r["gzip_bytes"])),
    ]


def _where(rep: dict) -> str:
    how = "emulated by QEMU" if rep["emulated"] else f"at {rep['clock_hz'] / 1e6:g} MHz"
    return f"{rep['board']} ({rep['cpu']}, {how}), images {rep['image_tag']}"


def _notes(rep: dict, heads: list[str]) -> list[str]:
    """What the columns mean, each note wrapped to the terminal's usual width."""
    host_all, host_n, device_n, fidelity, unit = heads[1:6]
    n = _samples(rep)
    if rep["emulated"]:
        latency = (f"{unit}: per inference, the mean over the {n} samples, counted by the emulator; it "
                   "counts no cycles, so there is no time in ms.")
    else:
        latency = (f"{unit}: per inference, the mean over the {n} samples, counted on the board; ms at "
                   f"its {rep['clock_hz'] / 1e6:g} MHz clock.")
    notes = [
        f"{host_all}: the .tflite in TensorFlow Lite over the whole test set ('scons models'). {host_n}, "
        f"{device_n}: tflite-micro on this machine and the board over the first {n} samples; {fidelity}: "
        "the share of those whose outputs are bit-identical.",
        latency,
        "Flash B: text + data of the firmware; Weights B: the model's constant data (size-report's 'model "
        "weights') and its share of the flash. RAM B: data + bss, the stack included; Arena B: the model's "
        "tensors.",
    ]
    return [line for note in notes for line in textwrap.wrap(note, NOTE_WIDTH)]


def format_table(rep: dict) -> str:
    """The report as the terminal shows it: a title, the table, what each column means."""
    cols = _columns(rep)
    heads = [head for head, _ in cols]
    cells = [[cell(r) for _, cell in cols] for r in rep["rows"]]
    return "\n".join([
        f"Deploy report: {rep['net']} on {_where(rep)}, {_samples(rep)} test samples of "
        f"{rep['dataset'] or 'the test set'}",
        *format_rows(heads, cells),
        *_notes(rep, heads),
    ])


def write_csv(rep: dict, path: str | os.PathLike) -> None:
    """One row per variant with the FIELDS as columns, written atomically."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(FIELDS), lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rep["rows"])
    write_atomic(path, buf.getvalue())


def _accuracy_points(rep: dict, x: Callable[[dict], float | None]) -> list[tuple[float, float, str]]:
    return [(x(r), 100 * r["device_accuracy"], r["variant"]) for r in rep["rows"]
            if r["device_accuracy"] is not None and x(r) is not None]


def _no_points_note(rep: dict) -> str:
    return "" if any(r["device_accuracy"] is not None for r in rep["rows"]) else \
        "no accuracy: the test set has no labels"


def plot_latency(rep: dict, path: str | os.PathLike) -> None:
    """A PNG of device accuracy against latency: ms where the board counts cycles, else its
    cost unit (the emulator's instructions), in millions."""
    timed = all(r["latency_ms"] is not None for r in rep["rows"])
    if timed:
        points = _accuracy_points(rep, lambda r: r["latency_ms"])
        xlabel = f"ms per inference (at {rep['clock_hz'] / 1e6:g} MHz)"
    else:
        points = _accuracy_points(rep, lambda r: None if r["latency_mean"] is None
                                  else r["latency_mean"] / 1e6)
        xlabel = f"million {rep['cost_unit']} per inference"
        if rep["emulated"]:
            xlabel += " (emulated: not cycles)"
    fig = labelplot.scatter(points, xlabel, f"device accuracy on {_samples(rep)} samples (%)",
                            f"{rep['net']} on {rep['board']}: accuracy against latency", _no_points_note(rep))
    labelplot.save(fig, path)


def plot_flash(rep: dict, path: str | os.PathLike) -> None:
    """A PNG of device accuracy against the firmware's flash."""
    points = _accuracy_points(rep, lambda r: r["flash_bytes"] / 1024)
    fig = labelplot.scatter(points, "firmware flash (KiB)", f"device accuracy on {_samples(rep)} samples (%)",
                            f"{rep['net']} on {rep['board']}: accuracy against flash", _no_points_note(rep))
    labelplot.save(fig, path)


def write_all(rep: dict, files: dict[str, Path]) -> None:
    """Every file of the report (kiln.paths.deploy_report names them); the JSON lists them all."""
    rep = {**rep, "files": {kind: str(path) for kind, path in files.items()}}
    write_atomic(files["txt"], format_table(rep) + "\n")
    write_csv(rep, files["csv"])
    plot_latency(rep, files["latency_png"])
    plot_flash(rep, files["flash_png"])
    write_json(files["json"], rep, indent=2)  # last: its presence means the others are complete
