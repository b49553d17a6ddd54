"""kiln.pydeps against the interpreter: every kiln module a build step really
imports must be among the files its static scan returns, or editing that
module would leave a stale build (generated C from the old compiler).

Each entry point is imported in a fresh interpreter, with every kernel set
loaded the way the compiler loads them, and its sys.modules is compared with
the scan.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from kiln import pydeps
from support import ROOT

SITE = ROOT / "site_scons"

_PROBE = """
import importlib, json, sys
sys.path.insert(0, {site!r})
importlib.import_module({entry!r})
if {entry!r} == "kiln.codegen":
    from kiln.codegen import layout, registry
    registry.entries()  # every kernel set's module, as a build with KERNELS=auto loads them
print(json.dumps(sorted(m.__file__ for n, m in sys.modules.items()
                        if (n == "kiln" or n.startswith("kiln.")) and getattr(m, "__file__", None))))
"""


@pytest.mark.parametrize("entry", ["kiln.codegen", "kiln.hostcheck", "kiln.deploy_report",
                                   "kiln.report_models"])
def test_scan_covers_every_imported_module(entry: str) -> None:
    out = subprocess.run([sys.executable, "-c", _PROBE.format(site=str(SITE), entry=entry)],
                         capture_output=True, text=True, check=True, cwd=ROOT).stdout
    imported = {Path(f).resolve() for f in json.loads(out)}
    scanned = {Path(f).resolve() for f in pydeps.module_files(entry)}
    missing = sorted(str(f.relative_to(SITE)) for f in imported - scanned)
    assert not missing, f"{entry} imports modules its scan misses: {missing}"
    assert len(imported) > 3


def test_comments_and_package_wide_imports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A ")" in a comment inside a parenthesized import list, and a package whose
    __init__ imports every module beside it (pkgutil), both reach their modules."""
    pkg = tmp_path / "kiln"
    (pkg / "fam").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "entry.py").write_text(
        "from kiln import (  # noqa: E402 (a note)\n"
        "    alpha,  # registers (first)\n"
        "    beta,\n)\nimport kiln.fam\n")
    (pkg / "alpha.py").write_text("")
    (pkg / "beta.py").write_text("")
    (pkg / "fam" / "__init__.py").write_text(
        "import importlib, pkgutil\nfor m in pkgutil.iter_modules(__path__):\n"
        "    importlib.import_module(f'{__name__}.{m.name}')\n")
    (pkg / "fam" / "one.py").write_text("")
    (pkg / "fam" / "two.py").write_text("")
    monkeypatch.setattr(pydeps, "_BASE", tmp_path)
    for f in (pydeps._file_of, pydeps._imports, pydeps._closure):
        f.cache_clear()
    try:
        names = {str(f.relative_to(pkg)) for f in pydeps.module_files("kiln.entry")}
    finally:
        for f in (pydeps._file_of, pydeps._imports, pydeps._closure):
            f.cache_clear()
    assert {"alpha.py", "beta.py", "fam/one.py", "fam/two.py"} <= names, names
