"""host.report: the log survives a torn write, the summary counts each sample once."""

from __future__ import annotations

import json

import numpy as np

from host import report

INFO = {"board": "example_board", "clock_hz": 20_000_000, "cost_unit": "instructions",
        "model": {"name": "fashion_mnist/ptq", "total_macs": 1000,
                  "layers": [{"name": "a", "op": "CONV_2D", "kernel": "k1", "macs": 600},
                             {"name": "b", "op": "FULLY_CONNECTED", "kernel": "k2", "macs": 400}]}}


def _sample(i: int, label: int, dev: int, host: int, cost: int, exact: bool = True) -> dict:
    return {"kind": "sample", "i": i, "label": label, "device_pred": dev, "host_pred": host,
            "cost": cost, "exact": exact, "max_abs_diff": 0 if exact else 2}


def test_torn_last_line_is_cut_and_appending_continues(tmp_path) -> None:
    path = tmp_path / "infer.jsonl"
    log = report.Log(path)
    log.write(_sample(0, 1, 1, 1, 10))
    log.close()
    with open(path, "ab") as f:
        f.write(b'{"kind":"sample","i":1,"lab')  # a crash mid-line
    assert [r["i"] for r in report.read_log(path)] == [0]
    log = report.Log(path)  # repairs, then appends on a fresh line
    log.write(_sample(1, 2, 2, 2, 12))
    log.close()
    assert [r["i"] for r in report.read_log(path)] == [0, 1]
    assert all(json.loads(line) for line in path.read_text().splitlines())


def test_summary_counts_each_index_once_and_sums_events() -> None:
    records = [{"kind": "run", "dataset": "fashion_mnist"},
               _sample(0, 0, 0, 0, 100), _sample(1, 1, 2, 2, 300, exact=False), _sample(2, 2, 2, 2, 200),
               _sample(1, 1, 1, 1, 999),  # a duplicate index: the first record wins
               {"kind": "event", "event": "timeout"}, {"kind": "event", "event": "retry"},
               {"kind": "event", "event": "crc_error"}, {"kind": "event", "event": "reset"},
               {"kind": "segment", "samples": 2, "wall_s": 2.0, "bytes_tx": 1600, "bytes_rx": 40},
               {"kind": "segment", "samples": 1, "wall_s": 1.0, "bytes_tx": 800, "bytes_rx": 20}]
    s = report.summarize(records, INFO, ["a", "b", "c"], 921600, layer_costs=[150, 50])
    assert s["samples"] == 3
    assert np.isclose(s["device_accuracy"], 2 / 3) and np.isclose(s["host_accuracy"], 2 / 3)
    assert np.isclose(s["fidelity"], 2 / 3) and s["max_abs_diff"] == 2
    assert s["latency"]["mean"] == 200 and s["latency"]["max"] == 300
    assert s["latency"]["instructions_per_mac"] == 0.2
    assert "ms" not in s["latency"]  # instructions are not cycles
    assert s["confusion"] == [[1, 0, 0], [0, 0, 1], [0, 0, 1]]
    assert (s["retries"], s["timeouts"], s["crc_errors"], s["resets"], s["runs"]) == (1, 1, 1, 1, 2)
    assert s["throughput"]["samples_per_s"] == 1.0 and s["throughput"]["tx_bytes_per_s"] == 800
    assert [layer["share"] for layer in s["layers"]] == [0.75, 0.25]
    text = report.format_summary(s)
    assert "66.67%" in text and "instructions" in text and "FULLY_CONNECTED" in text


def test_cycles_convert_to_ms_at_the_board_clock(tmp_path) -> None:
    info = dict(INFO, cost_unit="cycles", clock_hz=160_000_000)
    s = report.summarize([_sample(0, 0, 0, 0, 1_600_000)], info, ["a"], 921600)
    assert np.isclose(s["latency"]["ms"]["mean"], 10.0)
    report.plot_confusion(s, tmp_path / "c.png")
    assert (tmp_path / "c.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_one_line_summary_gives_ms_only_for_cycles() -> None:
    """deploy-report's runs print one line each (host.infer --quiet)."""
    samples = [_sample(0, 0, 0, 0, 1_600_000), _sample(1, 1, 0, 0, 1_600_000, exact=False)]
    line = report.format_line(report.summarize(samples, INFO, ["a", "b"], 921600))
    assert line == ("fashion_mnist/ptq on example_board: 2 samples, device 50.00% / host 50.00%, "
                    "fidelity 50.00%, 1,600,000 instructions")
    cycles = dict(INFO, cost_unit="cycles", clock_hz=160_000_000)
    timed = report.summarize(samples, cycles, ["a", "b"], 921600)
    assert report.format_line(timed).endswith("1,600,000 cycles (10.000 ms)")


def test_info_view_shows_why_a_layer_runs_portable() -> None:
    """`scons info` joins the board's layers with the compiler's reasons."""
    info = {"board": "b", "model": {"name": "m", "layers": [
        {"op": "CONV_2D", "kernel": "kiln_dsp_conv_s8", "macs": 10, "name": "a"},
        {"op": "DEPTHWISE_CONV_2D", "kernel": "kiln_dwconv2d_s8", "macs": 5, "name": "b"}]}}
    lines = report.format_info(info, ["", "kiln_dsp_dw3x3_s8: stride is not 1"]).splitlines()
    at = next(i for i, line in enumerate(lines) if "kiln_dwconv2d_s8" in line)
    assert lines[at + 1].strip() == "not kiln_dsp_dw3x3_s8: stride is not 1"
    assert not any(line.strip().startswith("not") for line in lines[:at])


def test_info_view_shows_each_layers_weights_and_a_sparse_layers_dense_bytes() -> None:
    """With the compiler's layers, `scons info` gives each layer's weight bytes and, for a
    sparse layer, what its dense layout would take."""
    info = {"board": "b", "model": {"name": "m", "layers": [
        {"op": "CONV_2D", "kernel": "kiln_dsp_conv_s8", "macs": 10, "name": "a"},
        {"op": "FULLY_CONNECTED", "kernel": "kiln_dsp_fc_sparse_s8", "macs": 5, "name": "b"}]}}
    compiler = [{"weight_bytes": 432, "passed_over": ""},
                {"weight_bytes": 22_990, "dense_weight_bytes": 40_720, "passed_over": ""}]
    lines = report.format_info(info, ["", ""], compiler).splitlines()
    at = next(i for i, line in enumerate(lines) if "kiln_dsp_fc_sparse_s8" in line)
    assert "22,990" in lines[at] and "432" in lines[at - 1]
    assert lines[at + 1].strip() == "sparse: 22,990 B stored where the dense layout takes 40,720 B (56%)"
