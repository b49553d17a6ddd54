"""The benchmark's figures and table (host/bench.py) from measured runs, without QEMU:
one network's entry (footprint, target, pass/fail, portable fallbacks), and
the suite summary printed beside issue 13's targets."""

from __future__ import annotations

from kiln import bench

from host import bench as host_bench

RESOLUTION = 16


def _run(costs: list[int], kernels: list[str], total: int, flash: int, arena: int) -> dict:
    """A measured image as host.bench.measure returns it."""
    layers = [{"name": f"l{i}", "op": op, "kernel": k, "macs": m}
              for i, (op, k, m) in enumerate(zip(["CONV_2D", "DEPTHWISE_CONV_2D", "SOFTMAX"], kernels,
                                                 [1000, 500, 0], strict=True))]
    return {"model": {"layers": layers}, "total": total, "layers": costs, "outputs": [b"\x01\x02"],
            "footprint": {"flash_bytes": flash, "ram_bytes": arena + 24576, "arena_bytes": arena}}


def test_entry_keeps_todays_keys_and_adds_footprint_and_target() -> None:
    portable = _run([9000, 4000, 300], ["kiln_conv_s8", "kiln_dw_conv_s8", "kiln_softmax_s8"], 13400,
                    9000, 512)
    optimized = _run([900, 3900, 300], ["kiln_dsp_conv_s8", "kiln_dw_conv_s8", "kiln_softmax_s8"], 5200,
                     12000, 448)
    entry = host_bench.compare("ds_cnn", "ptq", portable, optimized, RESOLUTION)
    for key in ("variant", "macs", "instructions", "instructions_per_mac", "layers", "portable", "speedup",
                "outputs_identical"):
        assert key in entry
    assert entry["macs"] == 1500 and entry["instructions"] == 5200
    assert entry["instructions_per_mac"] == round(5200 / 1500, 3)
    assert (entry["flash_bytes"], entry["arena_bytes"]) == (12000, 448)
    assert entry["portable"]["flash_bytes"] == 9000
    assert entry["target_instructions"] == bench.TARGETS["ds_cnn"] and entry["meets_target"] is True
    # The depthwise layer ran its portable kernel in the dsp image: named as a fallback.
    assert host_bench.fallbacks(entry, "dsp") == ["1 DEPTHWISE_CONV_2D (kiln_dw_conv_s8)"]
    text = host_bench.table("ds_cnn", entry, "dsp")
    assert "flash / RAM / arena bytes: portable 9000" in text
    assert "portable kernels in the dsp image: 1 DEPTHWISE_CONV_2D" in text


def test_summary_prints_targets_with_pass_and_fail() -> None:
    def entry(net: str, total: int) -> dict:
        kernels = ["kiln_dsp_conv_s8", "kiln_dsp_dw_s8", "kiln_softmax_s8"]
        run = _run([total // 2, total // 2, 0], kernels, total, 100, 64)
        return host_bench.compare(net, "ptq", run, run, RESOLUTION)

    data = {"note": "n", "resnet8": entry("resnet8", 12_000_000),
            "fashion_mnist": entry("fashion_mnist", 90_000), "cifar_cnn": entry("cifar_cnn", 1_000_000)}
    assert data["resnet8"]["meets_target"] is False and data["cifar_cnn"]["meets_target"] is None
    lines = {line.split()[0]: line for line in host_bench.summary(data, "dsp").splitlines()[2:]}
    assert lines["resnet8"].endswith("FAIL") and "10.000M" in lines["resnet8"]
    assert lines["fashion_mnist"].endswith("pass") and "0.105M" in lines["fashion_mnist"]
    assert lines["cifar_cnn"].endswith("-")


def test_every_suite_network_has_a_target() -> None:
    assert {net for net, _ in bench.SUITE} <= set(bench.TARGETS)
    assert [n for n, _ in bench.ALL[:2]] == ["fashion_mnist", "cifar_cnn"]


def test_cost_figures_join_the_entry_and_the_table() -> None:
    """The plugin's figures (host/cycles.py) land in the entry and each layer,
    and the table and the summary print the cycle estimate."""
    run = _run([900, 3900, 300], ["kiln_dsp_conv_s8", "kiln_dsp_dwconv_s8", "kiln_softmax_s8"], 5200,
               12000, 448)
    entry = host_bench.compare("ds_cnn", "ptq", run, run, RESOLUTION)
    layer = [{"reads": r, "writes": 10, "taken": 5, "cycles": c} for r, c in ((400, 1500), (900, 6000),
                                                                               (50, 400))]
    host_bench.add_costs(entry, {"total": {"reads": 1350, "writes": 30, "taken": 15, "cycles": 7900},
                                 "layers": layer})
    assert entry["cycles"] == 7900 and entry["cycles_per_mac"] == round(7900 / 1500, 3)
    assert entry["layers"][1]["cycles_per_mac"] == 12.0 and entry["layers"][2]["cycles_per_mac"] == 0.0
    assert "7900 estimated cycles (5.267 per MAC), 1350 reads, 30 writes, 15 taken branches" in \
        host_bench.table("ds_cnn", entry, "dsp")
    row = host_bench.summary({"ds_cnn": entry}, "dsp").splitlines()[2]
    assert "0.008M" in row and "5.267" in row


def test_size_layout_figures_join_the_entry_table_and_summary() -> None:
    """The size layout's image (OPTIMIZE=size): its instructions against the default
    image's, its flash, and whether its outputs match, in the entry, the table and
    the summary's extra columns."""
    kernels = ["kiln_dsp_conv_s8", "kiln_dsp_fc_s8", "kiln_softmax_s8"]
    opt = _run([900, 3900, 300], kernels, 5200, 12000, 448)
    size = _run([900, 4500, 300], ["kiln_conv2d_s8", "kiln_dsp_fc_w8_s8", "kiln_softmax_s8"], 5980,
                7000, 448)
    entry = host_bench.compare("fc_autoencoder", "ptq", opt, opt, RESOLUTION)
    host_bench.add_size_layout(entry, size, {"total": {"cycles": 9000}, "layers": []}, opt["outputs"])
    s = entry["size_layout"]
    assert s["instructions"] == 5980 and s["vs_speed"] == 1.15 and s["flash_bytes"] == 7000
    assert s["outputs_identical"] and s["cycles"] == 9000 and "kiln_dsp_fc_w8_s8" in s["kernels"]
    assert "size layout (OPTIMIZE=size, int8 weights): 5980 instructions" in \
        host_bench.table("fc_autoencoder", entry, "dsp")
    line = host_bench.summary({"fc_autoencoder": entry}, "dsp").splitlines()[2]
    assert line.split()[-3:] == ["0.006M", "1.15", "7000"]
