"""Which runtime sources a generated model needs: the files that define the
kiln_* functions and tables it calls, and, transitively, the ones those call.

The scan reads the C text (no compiler): external definitions at the start of
a line, the definitions a top-level macro writes (UNARY(kiln_abs_f32, ...)),
the names a .c file pastes together for the .inc body it includes
(#define KILN_POOL_NAME(base) base##_s8) and external tables.
tests/test_export.py checks it against the symbols of every compiled runtime
object, so a new way of defining a kernel cannot go unnoticed.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from kiln.firmware import FIRMWARE, runtime_sources

RUNTIME = FIRMWARE / "runtime"
#: Always exported: the C API's helpers and the profiling clock's weak default.
API_SOURCE = RUNTIME / "portable" / "tensor_io.c"

_DEF = re.compile(r"^(?!static\b)(?![ \t#/*])[^;{}()\n]*?\b(kiln_\w+)\s*\([^;{}]*?\)\s*\{", re.M)
_MACRO_DEF = re.compile(r"^[A-Z][A-Z0-9_]*\(\s*(kiln_\w+)\b", re.M)
_DATA = re.compile(r"^(?!static\b)(?:const\s+)?\w+\s+(kiln_\w+)\s*\[", re.M)
_NAMER = re.compile(r"#define\s+(\w+)\(\s*(\w+)\s*\)\s+\2\s*##\s*(\w+)")
_INCLUDE = re.compile(r'#include\s+"([\w/]+\.(?:inc|h))"')
_USE = re.compile(r"\b(kiln_\w+)\b")
_CPLUSPLUS = re.compile(r"#ifdef __cplusplus.*?#endif", re.S)


def _bodies(text: str) -> str:
    """What a header holds between braces: its inline functions' bodies (which
    may call a kernel), without its prototypes (which name every kernel)."""
    out, depth = [], 0
    for ch in _CPLUSPLUS.sub("", text):   # its extern "C" { } would wrap the whole file
        depth += ch == "{"
        if depth:
            out.append(ch)
        depth -= ch == "}" and depth > 0
    return "".join(out)


def _with_includes(src: Path, seen: set[Path]) -> str:
    """`src` followed by every runtime file it includes, recursively, once each:
    an inline function in a header calls kernels too."""
    raw = src.read_text()
    text = _bodies(raw) if src.suffix == ".h" else raw
    for inc in _INCLUDE.findall(raw):
        for base in (src.parent, RUNTIME / "include"):
            path = (base / inc).resolve()
            if path.is_file():
                if path not in seen:
                    seen.add(path)
                    text += "\n" + _with_includes(path, seen)
                break
    return text


@cache
def source_text(src: Path) -> str:
    """A runtime source as the compiler sees its kiln_ names: with the headers
    and .inc bodies it includes appended and its pasted names
    (NAME(kiln_x) -> kiln_x_s8) written out."""
    text = _with_includes(src, {src.resolve()})
    for macro, _, suffix in _NAMER.findall(text):
        text = re.sub(rf"\b{macro}\(\s*(kiln_\w+)\s*\)", lambda m, s=suffix: m.group(1) + s, text)
    return text


def defined_names(src: Path) -> set[str]:
    """The external kiln_* functions and tables `src` defines."""
    text = source_text(src)
    return set(_DEF.findall(text)) | set(_MACRO_DEF.findall(text)) | set(_DATA.findall(text))


def needed_sources(c_texts: list[str], kernels: str) -> list[Path]:
    """The runtime .c files that the generated `c_texts` need with kernel set
    `kernels`, sorted; API_SOURCE always among them."""
    sources = runtime_sources(kernels)
    owner = {name: src for src in sources for name in defined_names(src)}
    chosen = {API_SOURCE}
    todo = [API_SOURCE]
    for text in c_texts:
        todo += [owner[n] for n in set(_USE.findall(text)) if n in owner]
    while todo:
        src = todo.pop()
        chosen.add(src)
        todo += [owner[n] for n in set(_USE.findall(source_text(src)))
                 if n in owner and owner[n] not in chosen]
    return sorted(chosen)


def support_files(kernels: str) -> list[Path]:
    """The headers and .inc bodies the runtime sources include: the public
    headers, and each kernel folder's private ones."""
    files = sorted((RUNTIME / "include").rglob("*.h"))
    for folder in ["portable"] + ([kernels] if kernels != "portable" else []):
        files += sorted(p for p in (RUNTIME / folder).iterdir() if p.suffix in (".h", ".inc"))
    return files
