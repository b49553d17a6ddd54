"""Small helpers that print C literals deterministically."""

from __future__ import annotations

import numpy as np


def c_float(x: float) -> str:
    """A float32 literal that reads back to the same float32 (9 significant digits)."""
    v = float(np.float32(x))
    if v != v:  # GCC and Clang builtins: no <math.h> in freestanding code
        return "__builtin_nanf(\"\")"
    if v in (float("inf"), float("-inf")):
        return "__builtin_inff()" if v > 0 else "(-__builtin_inff())"
    if v == float(np.finfo(np.float32).max):
        return "FLT_MAX"
    if v == -float(np.finfo(np.float32).max):
        return "-FLT_MAX"
    text = f"{v:.9g}"
    if "e" not in text and "." not in text:
        text += ".0"
    return text + "f"


def c_int(x: int) -> str:
    """An int32 literal (INT32_MIN written so that no unary minus overflows)."""
    x = int(x)
    if x == -(1 << 31):
        return "(-2147483647 - 1)"
    return str(x)


def c_values(values, ctype: str, per_line: int = 16) -> str:
    """Comma-separated initializer lines for a flat array."""
    flat = np.asarray(values).ravel()
    if ctype == "float":
        items = [c_float(v) for v in flat.astype(np.float32)]
    elif ctype == "uint32_t":
        items = [f"{int(v)}u" for v in flat]
    else:
        items = [c_int(v) for v in flat]
    lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
    return ",\n    ".join(lines)


def c_array(name: str, ctype: str, values, align: int = 0, static: bool = True) -> str:
    """A const array definition (empty arrays get one dummy element: C forbids size 0)."""
    flat = np.asarray(values).ravel()
    attr = f" __attribute__((aligned({align})))" if align else ""
    body = c_values(flat if flat.size else [0], ctype)
    return (f"{'static ' if static else ''}const {ctype} {name}[{max(flat.size, 1)}]{attr} = {{\n"
            f"    {body}\n}};")


def c_string(text: str, width: int = 100) -> str:
    """A C string literal of `text` (UTF-8), split into adjacent literals of at most
    about `width` characters (never inside an escape)."""
    tokens = []
    for byte in text.encode("utf-8"):  # non-ASCII bytes become octal escapes
        ch = chr(byte)
        if ch in '"\\?':
            tokens.append("\\" + ch)
        elif 32 <= byte < 127:
            tokens.append(ch)
        else:
            tokens.append(f"\\{byte:03o}")
    parts, cur = [], ""
    for tok in tokens:
        if len(cur) + len(tok) > width:
            parts.append(cur)
            cur = ""
        cur += tok
    if cur or not parts:
        parts.append(cur)
    return "\n    ".join(f'"{p}"' for p in parts)


def c_ident(text: str) -> str:
    """A C identifier fragment from any text."""
    out = "".join(ch if ch.isalnum() else "_" for ch in text)
    return out if out and not out[0].isdigit() else "_" + out


def c_comment(text: str, limit: int = 100) -> str:
    """Text safe inside a C comment: ASCII only, no comment terminator, bounded length."""
    text = text[:limit].encode("ascii", "replace").decode("ascii")
    return text.replace("*/", "* /").replace("\n", " ")
