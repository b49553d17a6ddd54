"""The variants' result summary: a text table, a CSV and a PNG of accuracy against size.

Reads the per-variant JSON files written by kiln.quantize; no TensorFlow.
Compression is measured as the exercise means it, against the float model:
the gzip size of float.tflite over the gzip size of each variant's .tflite.
The trained model file's size over the gzip size (a ratio of different
formats: the file holds training metadata too) keeps a column of its own,
headed with the file's name.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

from kiln import labelplot
from kiln.atomic import write_atomic
from kiln.errors import KilnError
from kiln.texttable import format_rows

#: The variant compression is measured against.
BASELINE = "float"

#: (CSV column, table heading, JSON key or None for computed, table format). The heading
#: "{source}" is the trained model file's name (e.g. model.h5).
COLUMNS = (
    ("variant", "Model", "variant", "{}"),
    ("accuracy", "Accuracy", "accuracy", "{:.2%}"),
    ("loss", "Loss", "loss", "{:.4f}"),
    ("tflite_bytes", "TFLite B", "tflite_bytes", "{:,}"),
    ("gzip_bytes", "gzip B", "gzip_bytes", "{:,}"),
    ("compression_vs_float_gzip", "vs float gz", None, "{:.2f}x"),
    ("model_file_over_gzip", "{source}/gz", None, "{:.2f}x"),
    ("sparsity", "Sparsity", "sparsity", "{:.1%}"),
    ("params", "Params", "params", "{:,}"),
    ("io_dtype", "I/O", None, "{}"),
)


def load_reports(paths: list[str]) -> list[dict]:
    """The variant JSONs at `paths`, in the given order; an unreadable one is named."""
    reports = []
    for path in paths:
        try:
            reports.append(json.loads(Path(path).read_text()))
        except (OSError, ValueError) as exc:
            raise KilnError(f"cannot read variant report {path}: {exc}; rebuild it: 'scons models'") from exc
    return reports


def compression(gzip_bytes: int, baseline_gzip_bytes: int | None) -> float | None:
    """How many times smaller than the float model: its .tflite's gzip size over this one's
    (None without a float variant to compare with)."""
    return baseline_gzip_bytes / gzip_bytes if baseline_gzip_bytes and gzip_bytes else None


def _baseline_gzip(reports: list[dict]) -> int | None:
    """The gzip size of the float variant's .tflite, when it is among `reports`."""
    return next((r["gzip_bytes"] for r in reports if r["variant"] == BASELINE), None)


def _row(report: dict, baseline_gzip: int | None) -> dict:
    row = {col: report.get(key) for col, _, key, _ in COLUMNS if key}
    row["compression_vs_float_gzip"] = compression(report["gzip_bytes"], baseline_gzip)
    row["model_file_over_gzip"] = report["keras_bytes"] / report["gzip_bytes"]
    row["io_dtype"] = f"{report['input']['dtype']}/{report['output']['dtype']}"
    return row


def rows(reports: list[dict]) -> list[dict]:
    """The summary's rows (CSV column -> value), compression measured against the float variant."""
    baseline = _baseline_gzip(reports)
    return [_row(r, baseline) for r in reports]


def _source_name(reports: list[dict]) -> str:
    """The trained model file's name (every variant is made from the same one)."""
    return reports[0]["source"]["file"] if reports and reports[0].get("source") else "model file"


def format_table(reports: list[dict], net: str) -> str:
    """The exercise's "Result Summary" as an aligned text table."""
    source = _source_name(reports)
    cells = [["n/a" if row[col] is None else fmt.format(row[col]) for col, _, _, fmt in COLUMNS]
             for row in rows(reports)]
    heads = [head.format(source=source) for _, head, _, _ in COLUMNS]
    out = [f"Result Summary: {net} (test set, measured from each .tflite)", *format_rows(heads, cells)]
    out.append(f"vs float gz: compression, gzip size of {BASELINE}.tflite / gzip size of the variant's "
               f".tflite{'' if _baseline_gzip(reports) else f' (n/a: no {BASELINE} variant)'}.")
    out.append(f"{source}/gz: the trained model file's size / gzip size of the .tflite (different formats: "
               "not a compression ratio).")
    return "\n".join(out)


def write_csv(reports: list[dict], path: str | os.PathLike) -> None:
    """One row per variant with the summary columns, written atomically."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=[col for col, *_ in COLUMNS], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows(reports))
    write_atomic(path, buf.getvalue().encode())


def plot(reports: list[dict], path: str | os.PathLike, net: str) -> None:
    """A PNG scatter of test accuracy against gzip size, one labelled point per variant
    (labels placed apart: kiln.labelplot). Flash on the board: `scons deploy-report`."""
    points = [(r["gzip_bytes"] / 1024, r["accuracy"] * 100, r["variant"])
              for r in reports if r["accuracy"] is not None]  # unlabelled test sets have none
    fig = labelplot.scatter(points, "gzip size of the .tflite (KiB)", "test accuracy (%)",
                            f"{net}: accuracy against compressed size",
                            note="" if points else "no accuracy: the test set has no labels")
    labelplot.save(fig, path)
