"""Weight layouts per layer for the board's flash (OPTIMIZE=fit|speed|size,
kiln.codegen.layout): the size layout keeps int8 weights and stays bit-exact,
the default narrows only as many layers as the flash needs, and a model that
fits in no layout is refused with the numbers. On the firmware: the size layout
runs bit-exact on the emulated M33, a board with little flash gets the narrowed
image, and a region overflow at link time says what to try."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from kiln import ROOT, boards, codegen, datasets, paths
from kiln.codegen.layout import CODE_RESERVE, Budget
from kiln.errors import KilnError
from support import have, run_both, run_scons, tracked_copy, variant_path

WEIGHTED = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")


def _compile(net: str, budget: Budget) -> codegen.CompiledModel:
    return codegen.compile_model(variant_path(net, "ptq"), kernels="dsp", budget=budget)


def test_size_layout_halves_the_weights_and_stays_bit_exact() -> None:
    speed, size = _compile("fashion_mnist", Budget("speed")), _compile("fashion_mnist", Budget("size"))
    print(f"fashion_mnist weights: speed {speed.weight_bytes} B, size {size.weight_bytes} B")
    assert size.weight_bytes < 0.55 * speed.weight_bytes
    kernels = {la.op: la for la in size.layers if la.op in WEIGHTED}
    # the dense layer's 40 KB narrow; the stem's few hundred bytes keep its fused kernel
    assert kernels["FULLY_CONNECTED"].kernel == "kiln_dsp_fc_w8_s8"
    assert kernels["CONV_2D"].kernel == "kiln_dsp_conv1_pool_s8"
    # the report says why the faster kernel was passed over
    assert "weights kept int8 for flash" in kernels["FULLY_CONNECTED"].why
    everywhere = codegen.compile_model(variant_path("fashion_mnist", "ptq"), kernels="dsp",
                                       budget=Budget("size", CODE_RESERVE + size.weight_bytes - 1, "tiny"))
    assert {la.kernel for la in everywhere.layers if la.op in WEIGHTED} == {
        "kiln_dsp_conv_w8_s8", "kiln_dsp_fc_w8_s8"}   # every layer when the board needs it
    images, _ = datasets.load_fashion_mnist("test")
    res, _ = run_both(variant_path("fashion_mnist", "ptq"), images[:500].astype(np.float32) / 255.0,
                      kernels="dsp", budget=Budget("size"))
    assert res.ok and res.identical_samples == 500, res.summary()


def test_fit_narrows_the_cheapest_layers_until_the_model_fits() -> None:
    speed = _compile("cifar_cnn", Budget("speed"))
    wide = {la.name: la for la in speed.layers if la.op in WEIGHTED}
    # A little too big: the fully connected layer (int8 weights cost it least) is enough.
    flash = CODE_RESERVE + speed.weight_bytes - 200
    fit = _compile("cifar_cnn", Budget("fit", flash, "tiny"))
    chosen = {la.name: la.kernel for la in fit.layers if la.op in WEIGHTED}
    assert fit.weight_bytes <= flash - CODE_RESERVE < speed.weight_bytes
    assert [n for n in chosen if chosen[n] != wide[n].kernel] == \
        [la.name for la in fit.layers if la.op == "FULLY_CONNECTED"]
    # Far too big for the speed layout: convolutions narrow too, but not all of them.
    size = _compile("cifar_cnn", Budget("size", min_saving=0))
    flash = CODE_RESERVE + (speed.weight_bytes + size.weight_bytes) // 2
    fit = _compile("cifar_cnn", Budget("fit", flash, "tiny"))
    kernels = [la.kernel for la in fit.layers if la.op in WEIGHTED]
    print(f"cifar_cnn in {flash - CODE_RESERVE} B: {kernels}")
    assert fit.weight_bytes <= flash - CODE_RESERVE
    convs = [k for k in kernels if k not in ("kiln_dsp_fc_s8", "kiln_dsp_fc_w8_s8")]
    assert any("_w8_" in k for k in convs) and any("_w8_" not in k for k in convs)


def _wino_block(tmp_path: Path, name: str, build, monkeypatch=None) -> tuple[int, int]:  # noqa: ANN001
    """The size layout's Winograd block (channel pairs) and the model's arena."""
    import opmodels

    path = tmp_path / f"{name}.tflite"
    if not path.exists():
        path.write_bytes(opmodels.convert(opmodels.build(build, 3), int8=True))
    cm = codegen.compile_model(path, kernels="dsp", budget=Budget("size", min_saving=0))
    (wino,) = [la for la in cm.layers if la.kernel == "kiln_dsp_wino_w8_s8"]
    block = int(re.search(r"\.block = (\d+)", "\n".join(wino.decls) + wino.call).group(1))
    return block, cm.plan.arena_bytes


@pytest.mark.slow
def test_winograd_scratch_grows_into_the_room_the_arena_has(tmp_path: Path, monkeypatch) -> None:
    """kiln_dsp_wino_w8_s8 makes U in blocks of channel pairs, as many as its scratch holds.
    After a 72 KB first layer a 16x16x32 -> 64 layer has room for two passes of 16 pairs
    (34 KB) in the arena that layer needs anyway; alone it is the peak, and runs the
    smallest scratch (four passes of 8). Either way the arena is the smallest scratch's."""
    import opmodels

    L = opmodels._keras().layers
    roomy = lambda: opmodels._seq((96, 96, 8), L.Conv2D(32, 1, strides=6),  # noqa: E731
                                  L.Conv2D(64, 3, padding="same"))
    alone = lambda: opmodels._seq((16, 16, 32), L.Conv2D(64, 3, padding="same"))  # noqa: E731
    grown, arena = _wino_block(tmp_path, "roomy", roomy)
    assert _wino_block(tmp_path, "alone", alone)[0] == 8
    monkeypatch.setattr(codegen, "_grow_scratch", lambda graph, p, elastic: p)
    smallest, arena_smallest = _wino_block(tmp_path, "roomy", roomy)
    assert (grown, smallest) == (16, 8)
    assert arena == arena_smallest


def test_a_model_that_fits_no_layout_is_refused_with_the_numbers() -> None:
    size = _compile("cifar_cnn", Budget("size", min_saving=0))
    flash = CODE_RESERVE + size.weight_bytes - 1000
    with pytest.raises(KilnError) as exc:
        _compile("cifar_cnn", Budget("fit", flash, "tiny"))
    msg = str(exc.value)
    assert "does not fit tiny" in msg and f"{size.weight_bytes:,} B" in msg and f"{flash:,} B" in msg
    assert "1,000 B too many" in msg and "smaller model" in msg
    # OPTIMIZE=speed where only the narrowed layouts fit: the error points to them
    with pytest.raises(KilnError, match="OPTIMIZE=fit .* fits"):
        _compile("cifar_cnn", Budget("speed", CODE_RESERVE + size.weight_bytes + 100, "tiny"))


# ---- firmware --------------------------------------------------------------------------------

needs_firmware = pytest.mark.skipif(not have("arm-none-eabi-gcc") or not have("qemu-system-arm"),
                                    reason="arm-none-eabi-gcc or qemu-system-arm missing (toolchain/setup)")


@pytest.mark.slow
@needs_firmware
def test_size_layout_on_the_emulated_board() -> None:
    board = boards.emulated()[0]
    run_scons("infer", "LIMIT=20", "OPTIMIZE=size", f"BOARD={board}", "NET=fashion_mnist", "MODEL=ptq",
              timeout=600)
    out = paths.firmware_dir(board, "fashion_mnist", "ptq", paths.image_tag("dsp", "size"))
    summary = json.loads((out / "infer.json").read_text())
    assert summary["samples"] == 20 and summary["fidelity"] == 1.0
    layers = json.loads((out / "gen" / paths.LAYERS_REPORT).read_text())["layers"]
    assert "kiln_dsp_fc_w8_s8" in {la["kernel"] for la in layers}


def _board_copy(tree: Path, source: boards.Board, name: str, **lengths: int) -> str:
    """A copy of `source`'s folder in `tree` with some regions' lengths changed."""
    dest = tree / source.dir.relative_to(ROOT).with_name(name)
    shutil.copytree(tree / source.dir.relative_to(ROOT), dest)
    text = (dest / "board.toml").read_text()
    for region, length in lengths.items():
        text = re.sub(rf'(name = "{region}"\s*\norigin = \S+\s*\nlength = )\S+', rf"\g<1>{length:#x}", text)
    (dest / "board.toml").write_text(text)
    assert all(f"{v:#x}" in text for v in lengths.values()), text
    return name


@pytest.mark.slow
@needs_firmware
def test_small_flash_gets_the_narrowed_image_and_overflows_are_explained(tmp_path) -> None:
    source = boards.load(boards.emulated()[0])
    tree = tracked_copy(tmp_path / "repo")
    model = variant_path("cifar_cnn", "ptq")
    speed = _compile("cifar_cnn", Budget("speed"))
    flash = CODE_RESERVE + speed.weight_bytes - 200
    small = _board_copy(tree, source, "small_flash", FLASH=flash)

    run_scons("-j2", f"BOARD={small}", f"TFLITE={model}", cwd=tree)   # a fresh tree: its own runtime
    out = tree / paths.tflite_firmware_dir(small, model, "dsp").relative_to(ROOT)
    kernels = [la["kernel"] for la in json.loads((out / "gen" / paths.LAYERS_REPORT).read_text())["layers"]]
    assert "kiln_dsp_fc_w8_s8" in kernels and "kiln_dsp_conv_s8" in kernels

    proc = run_scons(f"BOARD={small}", f"TFLITE={model}", "OPTIMIZE=speed", cwd=tree, check=False)
    text = proc.stdout + proc.stderr
    assert proc.returncode and "does not fit small_flash with OPTIMIZE=speed" in text, text[-2000:]
    assert "Traceback" not in text

    little = _board_copy(tree, source, "little_ram", RAM=4096)
    proc = run_scons(f"BOARD={little}", f"TFLITE={model}", cwd=tree, check=False)
    text = proc.stdout + proc.stderr
    assert proc.returncode and "the image does not fit little_ram: RAM of 4,096 B overflowed by" in text, \
        text[-2000:]
    assert "more RAM" in text and "Traceback" not in text
