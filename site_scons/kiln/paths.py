"""Where the build puts each output: the one description of the build tree.

    build/models/<net>/<variant>.tflite, .json      quantized variants
    build/<board>/<net>/<variant>/<kernels>/        firmware of one kernel set
    build/<board>/tflite/<file stem>/<kernels>/     firmware of one's own TFLITE=file.tflite
    build/<board>/runtime/<kernels>/                the runtime's objects, shared by those images
    build/check-host/                               check-host stamps
    build/bench.json                                the benchmark's figures (the default emulated board)
    build/<board>/bench.json                        the benchmark's figures on another emulated board
    build/<board>/tflite/<file stem>/bench.json     the benchmark of one's own TFLITE=file
    build/<board>/<net>/<variant>/<kernels>/deploy/ deploy-report's run of that image (infer.json, ...)
    build/<board>/<net>/deploy-report.*             deploy-report: .txt, .csv, .json, -latency.png, -flash.png

Every tool, test and host script asks here instead of joining paths itself.
"""

from __future__ import annotations

from pathlib import Path

from kiln import BUILD

#: The compiler's per-layer report beside the generated C (kiln.codegen.generate):
#: which kernel runs each layer, and why faster ones were passed over (`scons info`
#: and `python -m kiln.compile --report` print it).
LAYERS_REPORT = "kiln_layers.json"


def models_dir(net: str) -> Path:
    """The folder holding every variant of `net`."""
    return BUILD / "models" / net


def tflite(net: str, variant: str) -> Path:
    """The quantized .tflite of one variant."""
    return models_dir(net) / f"{variant}.tflite"


def firmware_dir(board: str, net: str, variant: str, kernels: str) -> Path:
    """The folder of one firmware image; `kernels` is a resolved kernel set
    (portable, dsp, ...), never "auto", so each set keeps its own results."""
    return BUILD / board / net / variant / kernels


def image_tag(kernels: str, optimize: str, sparse: bool = True) -> str:
    """The last folder of an image: its kernel set, its layout goal unless it is the
    default (OPTIMIZE=fit), and -dense for SPARSE=off: dsp, dsp-size, dsp-speed, dsp-dense."""
    tag = kernels if optimize == "fit" else f"{kernels}-{optimize}"  # fit: OPTIMIZE_GOALS[0]
    return tag if sparse else f"{tag}-dense"


def runtime_dir(board: str, kernels: str) -> Path:
    """The runtime's objects for one board's CPU and kernel set, shared by all its images."""
    return BUILD / board / "runtime" / kernels


def firmware_elf(board: str, net: str, variant: str, kernels: str) -> Path:
    """The ELF of one firmware image."""
    return firmware_dir(board, net, variant, kernels) / "firmware.elf"


def tflite_firmware_dir(board: str, tflite_file: str | Path, kernels: str) -> Path:
    """The folder of the firmware of a .tflite given with TFLITE=: named by the
    file's stem, beside the networks' folders of the same board."""
    return BUILD / board / "tflite" / Path(tflite_file).stem / kernels


def tflite_firmware_elf(board: str, tflite_file: str | Path, kernels: str) -> Path:
    """The ELF of the firmware of a .tflite given with TFLITE=."""
    return tflite_firmware_dir(board, tflite_file, kernels) / "firmware.elf"


def check_host_dir() -> Path:
    """Where check-host leaves its stamps."""
    return BUILD / "check-host"


def bench_json(board: str | None = None) -> Path:
    """The benchmark's figures: build/bench.json on the default emulated board
    (no `board`), build/<board>/bench.json on another, so boards never
    overwrite each other's figures."""
    return BUILD / board / "bench.json" if board else BUILD / "bench.json"


def tflite_bench_json(board: str, tflite_file: str | Path) -> Path:
    """The benchmark's figures for a .tflite given with TFLITE= (beside its kernel-set folders)."""
    return BUILD / board / "tflite" / Path(tflite_file).stem / "bench.json"


def deploy_run_dir(board: str, net: str, variant: str, kernels: str) -> Path:
    """deploy-report's run of one image (its infer.json, infer.jsonl): beside the image, apart
    from `scons infer`'s results, which a short run must not replace."""
    return firmware_dir(board, net, variant, kernels) / "deploy"


def deploy_report(board: str, net: str, kernels: str | None = None) -> dict[str, Path]:
    """deploy-report's files, by kind: txt, csv, json, latency_png, flash_png. `kernels` is the
    image tag when the images are not the board's default ones (KERNELS=portable,
    OPTIMIZE=size, SPARSE=off): it goes in the names, so each kind of image keeps its report."""
    stem = "deploy-report" + (f"-{kernels}" if kernels else "")
    folder = BUILD / board / net
    return {"txt": folder / f"{stem}.txt", "csv": folder / f"{stem}.csv", "json": folder / f"{stem}.json",
            "latency_png": folder / f"{stem}-latency.png", "flash_png": folder / f"{stem}-flash.png"}
