"""Which Python files a build step runs: a static import scanner for kiln.

A build step that runs kiln code (the compiler, a quantization recipe,
check-host) must be redone when that code changes. Rather than lists kept by
hand, `module_files("kiln.codegen")` reads the module's source, follows every
`import kiln...` and `from kiln... import` (at any depth, including imports
inside functions, and relative ones) and returns every file reached, package
`__init__.py` files included. Nothing is imported or run.

The scan reads import statements with regular expressions rather than a full
parse: SCons runs it on every build, even one with nothing to do, and a name
in a docstring that looks like an import only adds a dependency, never hides one.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

PACKAGE = "kiln"
_BASE = Path(__file__).resolve().parent.parent  # the folder holding kiln/


@cache
def _file_of(module: str) -> Path | None:
    """The source file of a kiln module, or None when it is not one (an attribute)."""
    rel = Path(*module.split("."))
    for cand in (_BASE / rel.with_suffix(".py"), _BASE / rel / "__init__.py"):
        if cand.is_file():
            return cand
    return None


def _packages_of(module: str) -> list[str]:
    """Every package whose __init__ runs when `module` is imported."""
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


_FROM = re.compile(r"^[ \t]*from[ \t]+(\.*)([\w.]*)[ \t]+import[ \t]+(\([^)]*\)|[^\n#]*)", re.M)
_IMPORT = re.compile(r"^[ \t]*import[ \t]+([^\n#]+)", re.M)
_COMMENT = re.compile(r"#[^\n]*")
_IMPORTS_ALL = re.compile(r"pkgutil\.iter_modules\(__path__\)")


def _resolve(dots: str, name: str, module: str, is_package: bool) -> str:
    """The absolute module a `from` statement names, relative imports resolved."""
    if not dots:
        return name
    parts = module.split(".")
    base = parts if is_package else parts[:-1]
    base = base[: len(base) - (len(dots) - 1)]
    return ".".join(base + ([name] if name else []))


def _names(text: str) -> list[str]:
    """The imported names of `a, b as c` or `(a,\n b)`."""
    return [n.split()[0] for n in text.strip("() \t\n").replace("\n", " ").split(",") if n.strip()]


@cache
def _imports(module: str) -> tuple[str, ...]:
    """The kiln modules `module`'s source names, directly."""
    path = _file_of(module)
    if path is None:
        return ()
    # Comments go first: one inside a parenthesized name list may hold a ")".
    text = _COMMENT.sub("", path.read_text())
    found = [n for m in _IMPORT.finditer(text) for n in _names(m.group(1))]
    for m in _FROM.finditer(text):
        target = _resolve(m.group(1), m.group(2), module, path.name == "__init__.py")
        found.append(target)
        # `from kiln.x import y`: y is a submodule or just a name in x.
        found += [f"{target}.{name}" for name in _names(m.group(3))]
    if path.name == "__init__.py" and _IMPORTS_ALL.search(text):
        # A package that imports every module in its folder (the operator families).
        found += [f"{module}.{f.stem}" for f in sorted(path.parent.glob("*.py")) if f.stem != "__init__"]
    return tuple(m for m in found if m == PACKAGE or m.startswith(PACKAGE + "."))


def script_imports(path: Path) -> list[str]:
    """The kiln modules a script outside the package (a models/<net>/net.py) imports."""
    text = path.read_text()
    found = [n for m in _IMPORT.finditer(text) for n in _names(m.group(1))]
    for m in _FROM.finditer(text):
        if not m.group(1):
            found += [m.group(2)] + [f"{m.group(2)}.{name}" for name in _names(m.group(3))]
    return [m for m in found if m == PACKAGE or m.startswith(PACKAGE + ".")]


def module_files(*modules: str) -> list[Path]:
    """Every kiln source file that importing `modules` can run, sorted."""
    return list(_closure(tuple(sorted(set(modules)))))


@cache
def _closure(modules: tuple[str, ...]) -> tuple[Path, ...]:
    seen: set[str] = set()
    todo = list(modules)
    while todo:
        module = todo.pop()
        if module in seen or _file_of(module) is None:
            continue
        seen.add(module)
        todo += _packages_of(module)
        todo += _imports(module)
    return tuple(sorted({f for m in seen if (f := _file_of(m)) is not None}))
