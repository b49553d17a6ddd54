"""The variants' result summary: a text table, a CSV and a PNG of accuracy against size.

Reads the per-variant JSON files written by kiln.quantize; no TensorFlow.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

from kiln.atomic import write_atomic
from kiln.errors import KilnError

#: (CSV column, table heading, JSON key or None for computed, table format)
COLUMNS = (
    ("variant", "Model", "variant", "{}"),
    ("accuracy", "Accuracy", "accuracy", "{:.2%}"),
    ("loss", "Loss", "loss", "{:.4f}"),
    ("tflite_bytes", "TFLite B", "tflite_bytes", "{:,}"),
    ("gzip_bytes", "gzip B", "gzip_bytes", "{:,}"),
    ("compression", "Compression", "compression", "{:.2f}x"),
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


def _row(report: dict) -> dict:
    row = {col: report.get(key) for col, _, key, _ in COLUMNS if key}
    row["io_dtype"] = f"{report['input']['dtype']}/{report['output']['dtype']}"
    return row


def format_table(reports: list[dict], net: str) -> str:
    """The exercise's "Result Summary" as an aligned text table."""
    rows = [["n/a" if _row(r)[col] is None else fmt.format(_row(r)[col]) for col, _, _, fmt in COLUMNS]
            for r in reports]
    heads = [head for _, head, _, _ in COLUMNS]
    widths = [max(len(x) for x in col) for col in zip(heads, *rows, strict=True)]
    line = "  ".join("-" * w for w in widths)

    def fmt_line(cells: list[str]) -> str:
        # The variant name reads left-aligned, numbers right-aligned.
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths, strict=True)))

    out = [f"Result Summary: {net} (test set, measured from each .tflite)", line, fmt_line(heads), line]
    out += [fmt_line(row) for row in rows]
    out.append(line)
    out.append("Compression: trained model file size / gzip size of the .tflite.")
    return "\n".join(out)


def write_csv(reports: list[dict], path: str | os.PathLike) -> None:
    """One row per variant with the summary columns, written atomically."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=[col for col, *_ in COLUMNS], lineterminator="\n")
    writer.writeheader()
    for report in reports:
        writer.writerow(_row(report))
    write_atomic(path, buf.getvalue().encode())


def plot(reports: list[dict], path: str | os.PathLike, net: str) -> None:
    """A PNG scatter of test accuracy against gzip size, one labelled point per variant."""
    import matplotlib

    matplotlib.use("Agg")  # headless: no display on build machines
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=100)
    for r in (r for r in reports if r["accuracy"] is not None):  # unlabelled test sets have none
        ax.scatter(r["gzip_bytes"] / 1024, r["accuracy"] * 100)
        ax.annotate(r["variant"], (r["gzip_bytes"] / 1024, r["accuracy"] * 100),
                    textcoords="offset points", xytext=(4, 4), fontsize=8)
    ax.set_xlabel("gzip size of the .tflite (KiB)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"{net}: accuracy against compressed size")
    ax.grid(True, alpha=0.3)
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png")
    plt.close(fig)
    write_atomic(path, buf.getvalue())
