"""Results of an inference run: the per-sample log, the summary, the tables.

infer.jsonl is the source of truth. Its lines are JSON objects with a "kind":
  run      what was run (model hash, board, dataset); first line of the file
  sample   one sample: index, label, both predictions, cost, agreement
  event    a timeout, CRC error, retry or reset, as it happened
  segment  one sitting of the runner (wall time, bytes each way)
The summary (infer.json) is always recomputed from the whole log, so a
resumed run neither loses nor double-counts anything.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from kiln.atomic import write_atomic

# ---- the log --------------------------------------------------------------------

def read_log(path: Path) -> list[dict]:
    """Every complete line of a log; a torn last line (a crash mid-write) is ignored."""
    if not path.exists():
        return []
    records = []
    for line in path.read_bytes().split(b"\n"):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except ValueError:
            continue  # only the last line can be torn: it was never fsynced whole
    return records


def repair_log(path: Path) -> None:
    """Cut a torn last line off, so appended lines start on a fresh line."""
    if not path.exists():
        return
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1
    if end != len(data):
        with open(path, "r+b") as f:
            f.truncate(end)
            f.flush()
            os.fsync(f.fileno())


class Log:
    """Appends records to infer.jsonl, each one flushed and fsynced."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        repair_log(path)
        self.file = open(path, "a", encoding="utf-8")

    def write(self, record: dict) -> None:
        """Append one record durably."""
        self.file.write(json.dumps(record, separators=(",", ":")) + "\n")
        self.file.flush()
        os.fsync(self.file.fileno())

    def close(self) -> None:
        """Close the file."""
        self.file.close()




# ---- the summary ------------------------------------------------------------------

def samples_by_index(records: list[dict]) -> dict[int, dict]:
    """Sample records keyed by dataset index; the first record of an index wins."""
    out: dict[int, dict] = {}
    for r in records:
        if r.get("kind") == "sample":
            out.setdefault(int(r["i"]), r)
    return out


def _stats(values: list[float]) -> dict[str, float]:
    a = np.asarray(values, dtype=np.float64)
    return {"mean": float(a.mean()), "min": float(a.min()), "max": float(a.max()),
            "p50": float(np.percentile(a, 50)), "p99": float(np.percentile(a, 99))}


def summarize(records: list[dict], info: dict, classes: list[str], baud: int,
              layer_costs: list[int] | None = None) -> dict[str, Any]:
    """The run summary (infer.json) from log records and the device's INFO."""
    samples = samples_by_index(records)
    rows = [samples[i] for i in sorted(samples)]
    n = len(rows)
    # A dataset without labels (label None) has no accuracy: fidelity and latency only.
    labelled = all(r.get("label") is not None for r in rows)
    labels = np.array([r["label"] if labelled else -1 for r in rows], dtype=np.int64)
    dev = np.array([r["device_pred"] for r in rows], dtype=np.int64)
    host = np.array([r["host_pred"] for r in rows], dtype=np.int64)
    n_classes = max(len(classes), int(labels.max(initial=-1)) + 1, int(dev.max(initial=-1)) + 1) \
        if labelled else 0
    confusion = np.zeros((n_classes, n_classes), dtype=np.int64)
    if labelled:
        np.add.at(confusion, (labels, dev), 1)
    per_class = {}
    for c in range(n_classes):
        total = int(confusion[c].sum())
        name = classes[c] if c < len(classes) else str(c)
        per_class[name] = {"samples": total,
                           "accuracy": float(confusion[c, c] / total) if total else None}

    unit = info.get("cost_unit", "cycles")
    clock = float(info.get("clock_hz") or 0)
    model = info.get("model", {})
    costs = [int(r["cost"]) for r in rows]
    latency: dict[str, Any] = {"unit": unit}
    if costs:
        latency.update(_stats(costs))
        if unit == "cycles" and clock:
            latency["ms"] = {k: v / clock * 1e3 for k, v in _stats(costs).items()}
        if model.get("total_macs"):
            latency[f"{unit}_per_mac"] = latency["mean"] / model["total_macs"]

    events = Counter(r["event"] for r in records if r.get("kind") == "event")
    segments = [r for r in records if r.get("kind") == "segment"]
    wall = sum(s["wall_s"] for s in segments)
    tx = sum(s["bytes_tx"] for s in segments)
    rx = sum(s["bytes_rx"] for s in segments)
    seg_samples = sum(s["samples"] for s in segments)
    line_rate = baud / 10.0
    throughput = {
        "wall_s": wall, "samples_per_s": seg_samples / wall if wall else None,
        "bytes_tx": tx, "bytes_rx": rx,
        "tx_bytes_per_s": tx / wall if wall else None, "rx_bytes_per_s": rx / wall if wall else None,
        "line_bytes_per_s": line_rate,
        "tx_utilisation": tx / wall / line_rate if wall else None,
        "rx_utilisation": rx / wall / line_rate if wall else None,
        "note": ("emulated UART: no real baud rate, utilisation is against BAUD"
                 if unit == "instructions" else "against BAUD, 10 bits a byte"),
    }

    layers = []
    if layer_costs is not None:
        descs = model.get("layers", [])
        total = sum(layer_costs) or 1
        for k, cost in enumerate(layer_costs):
            d = descs[k] if k < len(descs) else {}
            layers.append({"name": d.get("name", f"layer{k}"), "op": d.get("op", "?"),
                           "kernel": d.get("kernel", "?"), "macs": d.get("macs", 0),
                           "cost": cost, "share": cost / total})

    run = next((r for r in records if r.get("kind") == "run"), {})
    return {
        "samples": n,
        "model": model.get("name", run.get("model")),
        "tflite_sha256": model.get("tflite_sha256", run.get("tflite_sha256")),
        "board": info.get("board", run.get("board")),
        "dataset": run.get("dataset"),
        "reference": run.get("reference", "tflite-micro"),
        "labelled": labelled,
        "device_accuracy": float((dev == labels).mean()) if n and labelled else None,
        "host_accuracy": float((host == labels).mean()) if n and labelled else None,
        "prediction_agreement": float((dev == host).mean()) if n else None,
        "fidelity": float(np.mean([r["exact"] for r in rows])) if n else None,
        # Per output tensor, in the model's order (one entry for a one-output model).
        "fidelity_per_output": ([float(v) for v in np.mean([r.get("exact_outputs", [r["exact"]])
                                                             for r in rows], axis=0)] if n else []),
        "max_abs_diff": max((float(r["max_abs_diff"]) for r in rows), default=None),
        "latency": latency,
        "layers": layers,
        "per_class": per_class,
        "classes": [classes[c] if c < len(classes) else str(c) for c in range(n_classes)],
        "confusion": confusion.tolist(),
        "throughput": throughput,
        "retries": events.get("retry", 0),
        "timeouts": events.get("timeout", 0),
        "crc_errors": events.get("crc_error", 0),
        "resets": events.get("reset", 0),
        "device_errors": events.get("device_error", 0),
        "runs": len(segments),
    }


# ---- printing --------------------------------------------------------------------

def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.2f}%"


def _num(x: float | None, fmt: str = ",.0f") -> str:
    return "-" if x is None else format(x, fmt)


def format_summary(s: dict[str, Any]) -> str:
    """The summary as text tables."""
    lat = s["latency"]
    unit = lat["unit"]
    out = [f"{s['model']} on {s['board']}: {s['samples']} samples of {s['dataset']}", ""]
    rows = [
        ("device accuracy", _pct(s["device_accuracy"])),
        (f"host accuracy ({s.get('reference', 'tflite-micro').split(' (')[0]})", _pct(s["host_accuracy"])),
        ("fidelity (bit-identical outputs)", _pct(s["fidelity"])),
        *((f"  output {k}", _pct(v)) for k, v in enumerate(s.get("fidelity_per_output", []))
          if len(s.get("fidelity_per_output", [])) > 1),
        ("max |device - host|", _num(s["max_abs_diff"], "g")),
        ("same prediction as host", _pct(s["prediction_agreement"])),
    ]
    if "mean" in lat:
        rows.append((f"latency ({unit}) mean / median / min / max",
                     f"{_num(lat['mean'])} / {_num(lat['p50'])} / {_num(lat['min'])} / {_num(lat['max'])}"))
        if "ms" in lat:
            ms = lat["ms"]
            rows.append(("latency (ms) mean / median / min / max",
                         f"{ms['mean']:.3f} / {ms['p50']:.3f} / {ms['min']:.3f} / {ms['max']:.3f}"))
        if f"{unit}_per_mac" in lat:
            rows.append((f"{unit} per MAC", f"{lat[f'{unit}_per_mac']:.2f}"))
        if unit == "instructions":
            rows.append(("", "(emulator: instruction counts, not cycles)"))
    t = s["throughput"]
    if t["wall_s"]:
        rows += [
            ("wall time", f"{t['wall_s']:.1f} s, {t['samples_per_s']:.1f} samples/s"),
            ("link host->board", f"{t['tx_bytes_per_s']:,.0f} B/s ({_pct(t['tx_utilisation'])} of "
                                 f"{t['line_bytes_per_s']:,.0f} B/s)"),
            ("link board->host", f"{t['rx_bytes_per_s']:,.0f} B/s ({_pct(t['rx_utilisation'])})"),
        ]
    rows.append(("retries / timeouts / CRC errors / resets",
                 f"{s['retries']} / {s['timeouts']} / {s['crc_errors']} / {s['resets']}"))
    width = max(len(k) for k, _ in rows)
    out += [f"  {k:<{width}}  {v}" for k, v in rows]

    if s["layers"]:
        out += ["", f"  per layer (last inference, {unit}):",
                f"  {'#':>3} {'op':<18} {'kernel':<26} {'MACs':>10} {unit:>12} {'share':>7}"]
        for k, layer in enumerate(s["layers"]):
            out.append(f"  {k:>3} {layer['op']:<18.18} {layer['kernel']:<26.26} {layer['macs']:>10,} "
                       f"{layer['cost']:>12,} {100 * layer['share']:>6.1f}%")

    if not s["per_class"]:
        return "\n".join([*out, "", "  no labels: accuracy not measured (LABELS= or x_labels.npy adds it)"])
    out += ["", "  per class:"]
    width = max([len(c) for c in s["per_class"]] + [5])
    for name, pc in s["per_class"].items():
        if pc["samples"]:
            out.append(f"  {name:<{width}}  {_pct(pc['accuracy']):>8}  of {pc['samples']}")
    out += ["", "  confusion (rows: label, columns: device prediction):"]
    conf = s["confusion"]
    cell = max(4, len(str(max((max(r) for r in conf), default=0))) + 1)
    out.append("  " + " " * width + "".join(f"{c:>{cell}}" for c in range(len(conf))))
    for k, row in enumerate(conf):
        name = s["classes"][k]
        out.append(f"  {name:<{width}}" + "".join(f"{v:>{cell}}" for v in row))
    return "\n".join(out)


def format_line(s: dict[str, Any]) -> str:
    """The summary in one line: the model, accuracy, fidelity and mean latency."""
    lat = s["latency"]
    parts = [f"{s['model']} on {s['board']}: {s['samples']} samples"]
    if s["labelled"]:
        parts.append(f"device {_pct(s['device_accuracy'])} / host {_pct(s['host_accuracy'])}")
    parts.append(f"fidelity {_pct(s['fidelity'])}")
    if "mean" in lat:
        parts.append(f"{_num(lat['mean'])} {lat['unit']}" + (f" ({lat['ms']['mean']:.3f} ms)" if "ms" in lat
                                                             else ""))
    return ", ".join(parts)


def _tensor(t: dict) -> str:
    return (f"{t.get('dtype')} {t.get('shape')} ({t.get('bytes')} B) "
            f"scale {t.get('scale')} zero point {t.get('zero_point')}")


def _core(info: dict) -> str:
    """' (cortex-m4)': the core INFO names; empty for firmware older than the `cpu` field."""
    return f" ({info['cpu']})" if info.get("cpu") else ""


def _uart_and_fault(info: dict) -> list[str]:
    """INFO's uart and last_fault lines (firmware older than these fields has neither)."""
    from host import protocol

    lines = []
    uart = protocol.uart_clock(info)
    if uart is not None:
        lines.append(f"uart      {uart['baud']:,} baud = {uart['kernel_hz'] / 1e6:g} MHz / {uart['divisor']} "
                     f"(requested {uart['baud_requested']:,}: {uart['error'] * 100:+.2f}%), clock reference "
                     f"{uart.get('clock_ref', '?')}")
    fault = protocol.describe_fault(info)
    if fault is not None:
        lines.append(f"restarted after {fault}")
    return lines


def format_info(info: dict, passed_over: list[str] | None = None,
                compiler: list[dict] | None = None) -> str:
    """INFO as a model view: the board, then the model layer by layer; with the
    compiler's report (`passed_over`, one entry per layer), why each layer did not
    get a faster kernel, and (`compiler`: its layers) each layer's weight bytes, a
    sparse layer's beside those of its dense layout."""
    m = info.get("model", {})
    ios = [f"{kind[:-1]:<9} {_tensor(t)}" + (f"  {t['name']}" if len(m.get(kind, [])) > 1 else "")
           for kind in ("inputs", "outputs") for t in m.get(kind, [])]
    head = [
        f"board     {info.get('board')}{_core(info)} at {info.get('clock_hz', 0) / 1e6:g} MHz, firmware "
        f"{info.get('firmware')}, cost unit {info.get('cost_unit')}, max payload {info.get('max_payload')} B",
        f"model     {m.get('name')}",
        f"sha256    {m.get('tflite_sha256')}",
        *ios,
        f"memory    arena {m.get('arena_bytes', 0):,} B, weights {m.get('weight_bytes', 0):,} B, stack "
        f"{info.get('stack_used', 0):,} B used of {info.get('stack_reserved', 0):,} B reserved",
        f"compute   {m.get('total_macs', 0):,} MACs in {len(m.get('layers', []))} layers",
        *_uart_and_fault(info),
        "",
        f"  {'#':>3} {'op':<20} {'kernel':<28} {'MACs':>10} {'weights B':>10}  output",
    ]
    for k, layer in enumerate(m.get("layers", [])):
        c = compiler[k] if compiler and k < len(compiler) else {}
        weights = f"{c['weight_bytes']:,}" if "weight_bytes" in c else "-"
        head.append(f"  {k:>3} {layer.get('op', '?'):<20} {layer.get('kernel', '?'):<28} "
                    f"{layer.get('macs', 0):>10,} {weights:>10}  {layer.get('name', '')}")
        if c.get("dense_weight_bytes"):
            head.append(f"        sparse: {c['weight_bytes']:,} B stored where the dense layout takes "
                        f"{c['dense_weight_bytes']:,} B ({c['weight_bytes'] / c['dense_weight_bytes']:.0%})")
        if passed_over and k < len(passed_over) and passed_over[k]:
            head.append(f"        not {passed_over[k]}")
    return "\n".join(head)


def plot_confusion(summary: dict[str, Any], path: Path) -> None:
    """The confusion matrix as a PNG (written atomically)."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    conf = np.asarray(summary["confusion"])
    names = summary["classes"]
    fig, ax = plt.subplots(figsize=(1.0 + 0.6 * len(names), 0.8 + 0.55 * len(names)), dpi=100)
    ax.imshow(conf, cmap="Blues")
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("device prediction")
    ax.set_ylabel("label")
    top = conf.max() if conf.size else 0
    for (r, c), v in np.ndenumerate(conf):
        if v:
            ax.text(c, r, str(v), ha="center", va="center", fontsize=7,
                    color="white" if v > top / 2 else "black")
    acc = summary["device_accuracy"]
    ax.set_title(f"{summary['model']} on {summary['board']}: "
                 f"{summary['samples']} samples, accuracy {_pct(acc)}")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    write_atomic(path, buf.getvalue())
