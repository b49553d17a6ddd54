"""The supported-operator table (kiln.optable): generated from the registry, printed by
`scons ops`, and committed as docs/operators.md, which must never drift from the registry."""

from __future__ import annotations

from kiln import optable
from kiln.codegen.registry import entries
from support import ROOT, run_scons


def test_docs_table_is_the_registry() -> None:
    assert optable.main(["--check", str(ROOT / "docs/operators.md")]) == 0, (
        "docs/operators.md is out of date: PYTHONPATH=site_scons .venv/bin/python -m kiln.optable "
        "--write docs/operators.md")


def test_scons_ops_lists_every_registered_operator() -> None:
    out = run_scons("ops").stdout
    ops = {impl.op for impl in entries()}
    listed = {line.split()[0] for line in out.splitlines()[2:] if line and not line[0].isdigit()}
    assert ops <= listed, sorted(ops - listed)
    assert f"{len(ops)} operators" in out
    # Optimized kernels show in their own column.
    conv = next(line for line in out.splitlines() if line.startswith("CONV_2D "))
    assert conv.rstrip().endswith("int8") and "hybrid" in conv
