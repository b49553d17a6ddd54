"""Shared fixtures and markers.

Markers (registered in pyproject.toml):
- `slow`: builds firmware, converts with TensorFlow at length, or runs QEMU
  for many samples. `pytest -m "not slow"` is the fast loop (under 3 minutes
  on 2 cores); the whole suite runs in CI.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from kiln import bench, paths, registry
from support import ROOT, have, run_scons

_NEEDS = {
    "arm-none-eabi-gcc": "arm-none-eabi-gcc not installed (run toolchain/setup)",
    "qemu-system-arm": "qemu-system-arm not installed (run toolchain/setup)",
}


@pytest.fixture(scope="session")
def cross_compiler() -> None:
    """Skip when the Arm toolchain is missing (CI installs it: toolchain/setup)."""
    if not have("arm-none-eabi-gcc"):
        pytest.skip(_NEEDS["arm-none-eabi-gcc"])


@pytest.fixture(scope="session")
def emulator() -> None:
    """Skip when QEMU is missing."""
    if not have("qemu-system-arm"):
        pytest.skip(_NEEDS["qemu-system-arm"])


def _suite_models() -> dict[str, list[Path]]:
    """The trained variants the slow tests read, by network: every fashion_mnist variant,
    cifar_cnn's float, ptq and dynamic, and the benchmark suite's ptq models."""
    wanted = [("fashion_mnist", v) for v in registry.variants("fashion_mnist")]
    wanted += [("cifar_cnn", v) for v in ("float", "ptq", "dynamic")] + list(bench.ALL)
    nets: dict[str, list[Path]] = {}
    for net, variant in wanted:
        nets.setdefault(net, [])
        if paths.tflite(net, variant) not in nets[net]:
            nets[net].append(paths.tflite(net, variant))
    return nets


@pytest.fixture(scope="session")
def dsp_spec_models(tmp_path_factory) -> dict:
    """test_dsp_fidelity's spec models (.tflite by spec name), each converted on first
    use and shared with test_dsp_qemu, which runs some of the same models on the board."""
    from test_dsp_fidelity import Converted

    return Converted(tmp_path_factory.mktemp("dspmodels"))


@pytest.fixture(scope="session", autouse=True)
def _models_built_two_at_a_time(request) -> None:
    """Build the missing suite models before the first test, two TensorFlow conversions or
    fine-tunings at a time on two cores, where each test's support.variant_path would build
    its own alone (about a minute of a clean CI).

    A network's variants are targets only under its NET=, but every benchmark network's ptq
    model is a target under any NET= (`scons bench` declares them): those ride along with the
    first network that has variants to build, so that no network with a single missing model
    runs scons on one core. Only for a session with slow tests: the fast loop reads no
    trained model."""
    if not any(item.get_closest_marker("slow") for item in request.session.items):
        return
    anywhere = {paths.tflite(net, variant) for net, variant in bench.ALL}
    missing = {net: [t for t in targets if not t.exists()] for net, targets in _suite_models().items()}
    runs = {net: [t for t in targets if t not in anywhere] for net, targets in missing.items()}
    runs = {net: targets for net, targets in runs.items() if targets}
    riders = [t for targets in missing.values() for t in targets if t in anywhere]
    if riders:
        first = next(iter(runs), registry.DEFAULT_NET)
        runs[first] = runs.get(first, []) + riders
    for net, targets in runs.items():
        run_scons("-j2", f"NET={net}", *[str(t.relative_to(ROOT)) for t in targets], timeout=3600)
