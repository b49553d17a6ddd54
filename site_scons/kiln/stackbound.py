"""The firmware's stack, bounded at build time from its objects.

GCC's -fstack-usage gives every function's own frame (`<object>.su`); the
objects' relocations give the calls between functions (BL and tail-call B to
a symbol), and their disassembly the indirect calls (BLX/BX through a
register). The bound is the deepest path from the reset handler, plus, for
each exception handler in the vector table, its own deepest path and the
exception frame the core pushes, as if every handler nested once on top of
the thread's deepest point.

Assumptions, each checked or stated:
* no recursion (a cycle in the call graph is an error: it has no bound);
* no variable-size frames (a `dynamic` entry in a .su is an error);
* an indirect call may reach any function whose address is taken
  (relocations outside the vector table);
* a function outside the objects (newlib's memcpy, memset, strlen, the
  __aeabi helpers) is a leaf of at most LIBRARY_FRAME bytes;
* an exception frame is the Armv8-M extended frame with floating-point state,
  26 words, plus 4 bytes of alignment (EXCEPTION_FRAME).

    report = bound([Path("obj/app/main.o"), ...])
    report.bytes, report.path                 # the bound and its deepest path
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from kiln.errors import KilnError

OBJDUMP = "arm-none-eabi-objdump"
LIBRARY_FRAME = 128
EXCEPTION_FRAME = 26 * 4 + 4
_CALLS = {"R_ARM_THM_CALL", "R_ARM_THM_JUMP24", "R_ARM_THM_JUMP19", "R_ARM_THM_JUMP11", "R_ARM_CALL",
          "R_ARM_JUMP24"}
_ADDRESS = {"R_ARM_ABS32", "R_ARM_THM_MOVW_ABS_NC", "R_ARM_THM_MOVT_ABS", "R_ARM_TARGET1"}
_FUNC = re.compile(r"^[0-9a-f]+ <(?P<name>[^>]+)>:$")
_RELOC = re.compile(r"^\s+[0-9a-f]+:\s+(?P<type>R_ARM_\w+)\s+(?P<sym>\S+?)(?:[+-]0x[0-9a-f]+)?$")
_INDIRECT = re.compile(r"^\s+[0-9a-f]+:\s+(?:blx|bx)\s+(?P<reg>r\d+|ip|sl|fp)\b")
_SECTION = re.compile(r"^RELOCATION RECORDS FOR \[(?P<name>[^\]]+)\]:$")
#: Sections whose relocations name functions without taking their address for a call.
_NOT_CODE_REFS = (".debug", ".ARM.exidx", ".ARM.extab", ".comment")
_DATA_RELOC = re.compile(r"^[0-9a-f]+\s+(?P<type>R_ARM_\w+)\s+(?P<sym>\S+?)(?:[+-]0x[0-9a-f]+)?$")


@dataclass
class Function:
    """One function of one object: its frame and whom it calls."""

    obj: Path
    name: str
    frame: int = 0
    calls: set[str] = field(default_factory=set)   # symbols (resolved later)
    indirect: bool = False


@dataclass
class StackReport:
    """The bound, the deepest thread path, and what the bound assumed."""

    bytes: int
    path: list[str]
    handlers: dict[str, int]
    library: set[str]


def _run(args: list[str]) -> str:
    try:
        return subprocess.run(args, check=True, capture_output=True, text=True).stdout
    except FileNotFoundError:
        raise KilnError(f"{args[0]} not found: install the Arm GNU toolchain "
                        "('apt-get install gcc-arm-none-eabi', or run toolchain/setup)") from None
    except subprocess.CalledProcessError as exc:
        raise KilnError(f"{args[0]} failed on {args[-1]}: {exc.stderr.strip()}") from None


def _target(sym: str) -> str:
    """A relocation's function: `.text.f` (a section symbol under -ffunction-sections) is f."""
    return sym[len(".text."):] if sym.startswith(".text.") else sym


def _frames(obj: Path) -> dict[str, int]:
    su = obj.with_suffix(".su")
    if not su.exists():
        raise KilnError(f"{su} is missing: the firmware must be compiled with -fstack-usage "
                        "(toolchain/cpus.toml [common] cflags)")
    frames: dict[str, int] = {}
    for line in su.read_text().splitlines():
        if not line.strip():
            continue
        where, size, kind = line.rsplit("\t", 2)
        if "dynamic" in kind and "bounded" not in kind:
            raise KilnError(f"{where.rsplit(':', 1)[-1]} ({su}) has a variable-size stack frame: "
                            "the stack cannot be bounded; use fixed-size arrays")
        frames[where.rsplit(":", 1)[-1]] = max(frames.get(where.rsplit(":", 1)[-1], 0), int(size))
    return frames


def read_object(obj: Path, objdump: str = OBJDUMP) -> tuple[dict[str, Function], set[str], list[str]]:
    """An object's functions, the functions whose address it takes outside a
    vector table, and its vector table's entries."""
    frames = _frames(obj)
    funcs: dict[str, Function] = {}
    cur: Function | None = None
    for line in _run([objdump, "-dr", "--no-show-raw-insn", str(obj)]).splitlines():
        m = _FUNC.match(line)
        if m:
            name = m["name"]
            cur = funcs.setdefault(name, Function(obj, name, frames.get(name, 0)))
            continue
        if cur is None:
            continue
        m = _RELOC.match(line)
        if m and m["type"] in _CALLS:
            cur.calls.add(_target(m["sym"]))
            continue
        m = _INDIRECT.match(line)
        if m:
            cur.indirect = True
    taken: set[str] = set()
    vectors: list[str] = []
    section = ""
    for line in _run([objdump, "-r", str(obj)]).splitlines():
        m = _SECTION.match(line)
        if m:
            section = m["name"]
            continue
        m = _DATA_RELOC.match(line)
        if not m or m["type"] not in _ADDRESS or section.startswith(_NOT_CODE_REFS):
            continue
        if section == ".vectors":
            vectors.append(_target(m["sym"]))
        else:
            taken.add(_target(m["sym"]))
    return funcs, taken, vectors


def bound(objects: list[Path], objdump: str = OBJDUMP) -> StackReport:
    """The stack bound of the program linked from `objects` (see the module docstring)."""
    per_object: dict[Path, dict[str, Function]] = {}
    taken: set[str] = set()
    vectors: list[str] = []
    for obj in objects:
        funcs, t, v = read_object(Path(obj), objdump)
        per_object[Path(obj)] = funcs
        taken |= t
        vectors += v
    globals_: dict[str, Function] = {}
    for funcs in per_object.values():
        for name, f in funcs.items():
            globals_.setdefault(name, f)   # static clashes resolve within their object below

    def resolve(caller: Function, sym: str) -> Function | None:
        return per_object[caller.obj].get(sym) or globals_.get(sym)

    indirect_targets = [globals_[n] for n in sorted(taken) if n in globals_]
    library: set[str] = set()
    memo: dict[int, tuple[int, list[str]]] = {}
    active: set[int] = set()

    def depth(f: Function) -> tuple[int, list[str]]:
        key = id(f)
        if key in memo:
            return memo[key]
        if key in active:
            raise KilnError(f"{f.name} ({f.obj.name}) is recursive: the stack has no bound; "
                            "make the recursion a loop")
        active.add(key)
        best, best_path = 0, []
        callees = [resolve(f, s) or s for s in f.calls]
        if f.indirect:
            callees += indirect_targets
        for c in callees:
            if isinstance(c, str):
                library.add(c)
                d, p = LIBRARY_FRAME, [c]
            else:
                d, p = depth(c)
            if d > best:
                best, best_path = d, p
        active.discard(key)
        memo[key] = (f.frame + best, [f.name, *best_path])
        return memo[key]

    if not vectors:
        raise KilnError("no vector table (.vectors) among the objects: cannot find the reset handler")
    entries = list(dict.fromkeys(_target(v) for v in vectors if v in globals_))
    reset = globals_.get("Reset_Handler") or globals_[entries[0]]
    total, path = depth(reset)
    handlers = {}
    for name in entries:
        if globals_[name] is reset:
            continue
        handlers[name] = depth(globals_[name])[0] + EXCEPTION_FRAME
    total += sum(handlers.values())
    return StackReport(bytes=(total + 7) // 8 * 8, path=path, handlers=handlers, library=library)
