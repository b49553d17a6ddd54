"""scons deploy-report: every variant built and run on the emulated board, side by side.

The end-to-end test (slow) runs the real thing for fashion_mnist: TensorFlow's variants,
arm-none-eabi-gcc images, QEMU over the serial link, tflite-micro as the host reference,
and checks each row against the files and reports the build writes for that variant.
The fast tests cover the parts with logic of their own: label placement in the PNGs
(measured with matplotlib's renderer), compression against the float model, the board
choice, and the table's latency columns.
"""

from __future__ import annotations

import csv
import gzip
import json
import random
from pathlib import Path

import matplotlib.pyplot as plt
import pytest
from kiln import boards, deploy_report, labelplot, paths, registry, report_models, sizereport
from kiln import firmware as fw
from kiln.errors import KilnError
from support import ROOT, have, run_scons

NET = "fashion_mnist"
EMULATED = boards.load(boards.emulated()[0])
HARDWARE = boards.hardware()[0]
LIMIT = 12


# ---- labels that never overlap -----------------------------------------------------------

def _label_boxes(fig) -> tuple[list[str], list, list]:  # noqa: ANN001 - a matplotlib Figure
    """(label texts, their window extents, the markers' boxes) as the renderer draws them."""
    ax = fig.axes[0]
    renderer = fig.canvas.get_renderer()
    texts = [t for t in ax.texts if t.get_text()]
    offsets = ax.collections[0].get_offsets()
    half = labelplot.MARKER_PX / 2
    markers = [(x - half, y - half, x + half, y + half) for x, y in ax.transData.transform(offsets)] \
        if len(offsets) else []
    return [t.get_text() for t in texts], [t.get_window_extent(renderer) for t in texts], markers


def _apart(a, b) -> bool:  # noqa: ANN001 - matplotlib Bboxes or (x0, y0, x1, y1)
    ax0, ay0, ax1, ay1 = a.extents if hasattr(a, "extents") else a
    bx0, by0, bx1, by1 = b.extents if hasattr(b, "extents") else b
    return ax1 <= bx0 or bx1 <= ax0 or ay1 <= by0 or by1 <= ay0


def _cloud(n: int, seed: int = 7) -> list[tuple[float, float, str]]:
    rng = random.Random(seed)
    return [(rng.gauss(0, 1), rng.gauss(0, 1), f"variant_{k}") for k in range(n)]


#: Point sets that crowd labels: the fashion_mnist report's shape (identical figures for the
#: float and pruned models, int8 models close together), a tight random cloud, a diagonal.
CROWDS = {
    "variants": [(676_755, 95.0, "float"), (806_300, 95.0, "dynamic"), (120_000, 95.0, "ptq"),
                 (231_895, 95.0, "qat"), (676_568, 90.0, "prune_struct"), (676_528, 95.0, "prune_unstruct"),
                 (678_298, 95.0, "prune_poly"), (244_310, 95.0, "pqat")],
    "cloud": _cloud(14),
    "diagonal": [(k, k, f"a rather long label {k}") for k in range(10)],
}


@pytest.mark.parametrize("crowd", sorted(CROWDS))
def test_labels_never_overlap_each_other_or_a_point(crowd: str) -> None:
    points = CROWDS[crowd]
    fig = labelplot.scatter(points, "x", "y", crowd)
    try:
        texts, boxes, markers = _label_boxes(fig)
        # Every point is named exactly once (points drawn on top of each other share a label).
        assert sorted(name for text in texts for name in text.split(", ")) == sorted(p[2] for p in points)
        for i, box in enumerate(boxes):
            assert all(_apart(box, other) for other in boxes[i + 1:]), f"{texts[i]!r} overlaps a label"
            assert all(_apart(box, m) for m in markers), f"{texts[i]!r} covers a point"
            assert fig.bbox.contains(box.x0, box.y0) and fig.bbox.contains(box.x1, box.y1)
    finally:
        plt.close(fig)


def test_points_drawn_on_top_of_each_other_share_one_label() -> None:
    fig = labelplot.scatter(CROWDS["variants"], "x", "y", "t")
    try:
        texts, _, _ = _label_boxes(fig)
    finally:
        plt.close(fig)
    assert "float, prune_unstruct, prune_poly" in texts and "ptq" in texts


def test_placement_is_deterministic_and_spills_beside_a_full_plot() -> None:
    # Twenty labels around one point in an area with room for a few: the rest go in a
    # column to the right of it, still apart.
    anchors = [(50.0, 50.0)] * 20
    sizes = [(60.0, 10.0)] * 20
    bounds = labelplot.Box(0, 0, 100, 100)
    first = labelplot.place_labels(anchors, sizes, bounds)
    assert first == labelplot.place_labels(anchors, sizes, bounds)
    boxes = [p.box for p in first]
    assert all(not a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
    assert any(b.x0 > bounds.x1 for b in boxes) and any(b.within(bounds) for b in boxes)
    assert all(p.leader for p in first if not p.box.within(bounds))


def test_groups_join_overlapping_markers_transitively() -> None:
    m = labelplot.MARKER_PX
    pts = [(0, 0), (0.9 * m, 0), (1.8 * m, 0), (10 * m, 0), (10 * m, 0)]
    assert labelplot.groups(pts) == [[0, 1, 2], [3, 4]]


# ---- compression as the exercise means it --------------------------------------------------

def _variant(name: str, gz: int, accuracy: float = 0.9) -> dict:
    return {"variant": name, "accuracy": accuracy, "loss": 0.3, "tflite_bytes": 2 * gz, "gzip_bytes": gz,
            "keras_bytes": 97_944, "sparsity": 0.0, "params": 20_410, "source": {"file": "model.h5"},
            "input": {"dtype": "float32"}, "output": {"dtype": "float32"}}


def test_compression_is_against_the_float_tflite_gzip() -> None:
    reports = [_variant("float", 77_276), _variant("ptq", 17_725), _variant("prune_poly", 23_221)]
    rows = {r["variant"]: r for r in report_models.rows(reports)}
    assert rows["float"]["compression_vs_float_gzip"] == 1.0
    assert rows["ptq"]["compression_vs_float_gzip"] == pytest.approx(77_276 / 17_725)
    assert rows["prune_poly"]["compression_vs_float_gzip"] == pytest.approx(77_276 / 23_221)
    # The trained file's ratio stays, under its own name.
    assert rows["float"]["model_file_over_gzip"] == pytest.approx(97_944 / 77_276)
    text = report_models.format_table(reports, NET)
    head = text.splitlines()[2]
    assert "vs float gz" in head and "model.h5/gz" in head and "Compression" not in head
    assert "1.00x" in text and f"{77_276 / 17_725:.2f}x" in text


def test_compression_without_a_float_variant_is_na(tmp_path: Path) -> None:
    reports = [_variant("ptq", 17_725)]
    assert report_models.rows(reports)[0]["compression_vs_float_gzip"] is None
    assert "n/a" in report_models.format_table(reports, NET)
    report_models.write_csv(reports, tmp_path / "r.csv")
    row = next(csv.DictReader((tmp_path / "r.csv").open()))
    assert row["compression_vs_float_gzip"] == "" and float(row["model_file_over_gzip"]) > 0


# ---- the board, and the latency columns -----------------------------------------------------

def test_board_is_the_emulated_one_unless_told() -> None:
    default = registry.DEFAULT_BOARD
    assert deploy_report.board_for("", "", default).name == EMULATED.name
    assert deploy_report.board_for("", "/dev/ttyACM0", default).name == default
    assert deploy_report.board_for(HARDWARE, "/dev/ttyACM0", default).name == HARDWARE
    with pytest.raises(KilnError, match=f"deploy-report on {HARDWARE} flashes each variant.*PORT="):
        deploy_report.board_for(HARDWARE, "", default)
    with pytest.raises(KilnError, match="drop PORT=/dev/ttyACM0"):
        deploy_report.board_for(EMULATED.name, "/dev/ttyACM0", default)


def _rep(board: boards.Board, unit: str, ms: float | None) -> dict:
    latency = {"unit": unit, "mean": 1_600_000.0, **({"ms": {"mean": ms}} if ms is not None else {})}
    infer = {"samples": 5, "host_accuracy": 0.8, "device_accuracy": 0.8, "fidelity": 1.0,
             "max_abs_diff": 0.0, "latency": latency, "dataset": NET}
    size = {"flash_used": 50_000, "ram_used": 10_000,
            "components": [{"name": "model weights", "flash": 40_000, "ram": 0},
                           {"name": "model arena", "flash": 0, "ram": 8_000}]}
    row = deploy_report.row("ptq", {"accuracy": 0.89, "test_samples": 10_000, "tflite_bytes": 23_344,
                                    "gzip_bytes": 17_725}, infer, size)
    return {"net": NET, "board": board.name, "cpu": board.cpu, "emulated": board.emulated,
            "clock_hz": board.clock_hz, "cost_unit": unit, "image_tag": "dsp", "dataset": NET, "rows": [row]}


def test_ms_only_where_the_board_counts_cycles() -> None:
    hw = boards.load(HARDWARE)
    timed = _rep(hw, "cycles", 10.0)
    assert timed["rows"][0]["latency_ms"] == 10.0
    assert timed["rows"][0]["weights_share"] == 0.8 and timed["rows"][0]["arena_bytes"] == 8_000
    line = deploy_report.format_table(timed).splitlines()[4]
    assert "1,600,000" in line and "10.000" in line
    untimed = deploy_report.format_table(_rep(EMULATED, "instructions", None))
    assert untimed.splitlines()[4].split()[6] == "-"  # the ms column
    assert "Instructions" in untimed and "no time in ms" in untimed


@pytest.mark.parametrize("args, board", [
    ([], EMULATED.name),
    (["PORT=socket://localhost:9"], registry.DEFAULT_BOARD),
    ([f"BOARD={HARDWARE}", "PORT=/dev/ttyACM0"], HARDWARE),
])
def test_scons_declares_a_run_of_every_variant_on_the_chosen_board(args: list[str], board: str) -> None:
    proc = run_scons("-n", "deploy-report", f"NET={NET}", "LIMIT=3", *args)
    runs = [line.split()[1:] for line in proc.stdout.splitlines() if line.startswith("  INFER ")]
    assert runs == [[board, f"{NET}/{v}"] for v in registry.variants(NET)]


def test_scons_refuses_a_hardware_board_without_a_port() -> None:
    proc = run_scons("-n", "deploy-report", f"BOARD={HARDWARE}", check=False)
    assert proc.returncode == 2
    assert f"scons: *** deploy-report on {HARDWARE} flashes each variant" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


# ---- end to end on the emulated board ----------------------------------------------------------

@pytest.mark.slow
@pytest.mark.skipif(not have("qemu-system-arm") or not have("arm-none-eabi-gcc"),
                    reason="qemu-system-arm or arm-none-eabi-gcc missing (toolchain/setup)")
def test_deploy_report_runs_every_variant_on_the_emulated_board() -> None:
    variants = registry.variants(NET)
    assert len(variants) == 8
    kernels = fw.resolve_kernels("auto", fw.cpu_flags(EMULATED.cpu))
    # `scons infer`'s own results beside each ELF stay as they are.
    own = {v: paths.firmware_dir(EMULATED.name, NET, v, kernels) / "infer.json" for v in variants}
    before = {v: p.stat().st_mtime_ns for v, p in own.items() if p.exists()}

    proc = run_scons("-j2", "deploy-report", f"NET={NET}", f"LIMIT={LIMIT}", timeout=1800)

    files = paths.deploy_report(EMULATED.name, NET)
    rep = json.loads(files["json"].read_text())
    assert rep["board"] == EMULATED.name and rep["image_tag"] == kernels
    assert [r["variant"] for r in rep["rows"]] == list(variants)
    table = files["txt"].read_text()
    assert table.rstrip() in proc.stdout
    shown = [line.split()[0] for line in table.splitlines() if line.split() and line.split()[0] in variants]
    assert shown == list(variants)
    for r in rep["rows"]:
        v = r["variant"]
        model = json.loads(paths.tflite(NET, v).with_suffix(".json").read_text())
        blob = paths.tflite(NET, v).read_bytes()
        assert r["host_accuracy"] == model["accuracy"] and r["test_samples"] == 10_000
        assert r["samples"] == LIMIT
        assert r["fidelity"] == 1.0, f"{v}: the board's outputs differ from tflite-micro's"
        assert r["device_accuracy"] == r["host_accuracy_on_samples"]
        assert r["latency_unit"] == "instructions" and r["latency_mean"] > 0 and r["latency_ms"] is None
        assert (r["tflite_bytes"], r["gzip_bytes"]) == (len(blob), len(gzip.compress(blob, 9, mtime=0)))
        # The memory figures are size-report's (its size.json) for the very image that ran.
        elf = paths.firmware_elf(EMULATED.name, NET, v, kernels)
        assert ROOT / r["files"]["elf"] == elf  # the report's paths are relative to the repository
        size = sizereport.report(elf, elf.with_suffix(".map"), EMULATED)
        parts = {c["name"]: c for c in size["components"]}
        assert (r["flash_bytes"], r["ram_bytes"]) == (size["flash_used"], size["ram_used"])
        assert r["weights_bytes"] == parts["model weights"]["flash"] > 0
        assert r["arena_bytes"] == parts["model arena"]["ram"] > 0
        assert r["weights_share"] == pytest.approx(r["weights_bytes"] / r["flash_bytes"])
        run_dir = paths.deploy_run_dir(EMULATED.name, NET, v, kernels)
        assert ROOT / r["files"]["infer"] == run_dir / "infer.json"
    assert {v: own[v].stat().st_mtime_ns for v in before} == before

    with files["csv"].open() as f:
        rows = list(csv.DictReader(f))
    assert [r["variant"] for r in rows] == list(variants)
    assert list(rows[0]) == list(deploy_report.FIELDS)
    for kind in ("latency_png", "flash_png"):
        assert files[kind].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert ROOT / rep["files"]["txt"] == files["txt"]
