"""What every Kiln SCons tool shares: how a build step reports its errors.

Only the tools in site_tools/ import this; the library (kiln/) never imports
SCons. Errors follow SCons' own conventions:
- while the SConstruct is read, `fail(message)` prints `scons: *** message`
  as SCons does and stops before building anything;
- while a target builds, `action(fn, label)` turns a KilnError into SCons'
  BuildError (`scons: *** [target] message`), and anything unexpected into
  one line asking for a report, with the traceback only under VERBOSE=1.
"""

from __future__ import annotations

import difflib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

import SCons.Action
import SCons.Errors
import SCons.Script
from kiln import boards
from kiln.errors import KilnError, describe_failure

#: An SCons Python action: fn(target, source, env) -> exit status (None is 0).
ActionFunction = Callable[..., int | None]


def fail(message: str) -> NoReturn:
    """Stop the build while the SConstruct is read, with `message` (problem and fix).

    Printed in SCons' own error form and exited directly: a UserError would
    add the Python file and line of this function, which is noise to a user.
    """
    sys.stderr.write(f"scons: *** {message}\n")
    sys.stderr.flush()
    SCons.Script.Exit(2)


def board(name: str) -> boards.Board:
    """The board `name` (kiln.boards), or stop the build naming the problem."""
    try:
        return boards.load(name)
    except KilnError as exc:
        fail(str(exc))


def action(fn: ActionFunction, label: str | Callable[..., str] | None,
           varlist: tuple[str, ...] | list[str] = ()) -> SCons.Action.Action:
    """An SCons action running `fn`, with Kiln's error reporting.

    `label` is what the build prints for the step (a string with $TARGET and
    $SOURCE, or a strfunction); `varlist` names the construction variables
    whose values are part of the step's signature.
    """

    def run(target, source, env) -> int:  # noqa: ANN001 - SCons action signature
        try:
            return fn(target, source, env) or 0
        except SCons.Errors.BuildError:
            raise
        except Exception as exc:  # noqa: BLE001 - the one place that catches everything
            message = describe_failure(exc, f"building {target[0]}", bool(env.get("VERBOSE")))
            raise SCons.Errors.BuildError(node=target[0], errstr=message, exitstatus=2) from None

    run.__name__ = fn.__name__
    run.__doc__ = fn.__doc__
    return SCons.Action.Action(run, label, varlist=list(varlist))


# ---- variable validators: SCons calls validator(key, value, env) ----------------

Validator = Callable[[str, str, object], None]


def whole_number(example: str, empty_ok: bool = False) -> Validator:
    """A validator for a positive whole number (or empty, meaning "the default")."""

    def check(key: str, value: str, env: object) -> None:
        text = str(value).strip()
        if empty_ok and not text:
            return
        if not text.isdigit() or int(text) < 1:
            fail(f"{key}={value} is not a positive whole number: use e.g. {key}={example}")

    return check


def existing_file(what: str) -> Validator:
    """A validator for the path of an existing file (empty: not given)."""

    def check(key: str, value: str, env: object) -> None:
        if value and not Path(str(value)).expanduser().is_file():
            fail(f"{key}={value}: no such file; pass the path of {what}")

    return check


def net_name(key: str, value: str, env: object) -> None:
    """A validator for NET: a network folder under models/ (new-net checks a new name itself)."""
    from kiln import registry

    if value in registry.nets() or "new-net" in SCons.Script.COMMAND_LINE_TARGETS:
        return
    close = difflib.get_close_matches(value, registry.nets(), n=1)
    hint = f" (did you mean NET={close[0]}?)" if close else ""
    fail(f"unknown NET '{value}'{hint}: a network is a folder models/<net>/ holding a trained model "
         "(model.keras, model.h5, saved_model/, model.onnx or model.tflite) and a net.toml manifest, "
         f"or a net.py; make one with 'scons new-net NET={value} FROM=path/to/model DATASET=...'. "
         f"Networks: {', '.join(registry.nets())}")


def net_spec(name: str) -> object:
    """The network folder models/`name` (a kiln.netspec.NetSpec), or stop the build naming the problem."""
    from kiln import ROOT, netspec

    try:
        return netspec.load(ROOT / "models" / name)
    except KilnError as exc:
        fail(str(exc))


def variant_for(spec: object, given: str) -> str:
    """MODEL= for network `spec` (a kiln.netspec.NetSpec): as given if its source allows it, its
    default when not given; an impossible variant stops the build saying why."""
    variant = given or spec.default_variant  # type: ignore[attr-defined]
    reason = spec.why_not(variant)  # type: ignore[attr-defined]
    if reason:
        fail(reason)
    return variant


def tflite_path(value: str) -> Path | None:
    """The absolute path of TFLITE= (already checked by existing_file), or None."""
    return Path(str(value)).expanduser().resolve() if value else None


def byte_count(key: str, value: str, env: object) -> None:
    """A validator for a byte count such as 600000, 586K or 1M (empty: none)."""
    if not str(value).strip():
        return
    from kiln.sizereport import parse_bytes  # pyelftools: only when a budget is given

    try:
        parse_bytes(value, key)
    except KilnError as exc:
        fail(str(exc))


def refuse_together(arguments: dict, key: str, others: tuple[str, ...]) -> None:
    """Stop when `key` and any of `others` are all given on the command line
    (SCons' ARGUMENTS): they choose the same thing, and one would be ignored."""
    if not arguments.get(key):
        return
    clash = [o for o in others if o in arguments]
    if clash:
        given = " and ".join(f"{o}={arguments[o]}" for o in clash)
        fail(f"{key}={arguments[key]} and {given} both choose the model: drop {' and '.join(clash)} "
             f"to build {key}={arguments[key]}, or drop {key} to build the network")


def refuse_targets(targets: list[str], refused: tuple[str, ...], message: str) -> None:
    """Stop when any of `refused` is among the command line's `targets`, with `message`."""
    asked = [t for t in refused if t in targets]
    if asked:
        fail(f"{' and '.join(asked)}: {message}")


def check_unknown(variables: object) -> None:
    """Stop on command-line variables the build does not declare (a typo such as
    MODLE=qat would otherwise be ignored and the default built)."""
    unknown = variables.UnknownVariables()  # type: ignore[attr-defined]
    if not unknown:
        return
    valid = sorted(variables.keys())  # type: ignore[attr-defined]
    lines = []
    for key, value in unknown.items():
        close = difflib.get_close_matches(key.upper(), valid, n=1)
        hint = f" (did you mean {close[0]}={value}?)" if close else ""
        lines.append(f"unknown variable {key}={value}{hint}")
    fail("; ".join(lines) + f". Valid variables: {', '.join(valid)} (scons --help describes them)")


def c_prefix(key: str, value: str, env: object) -> None:
    """A validator for PREFIX= (kiln.prefix; empty: the model's name)."""
    if str(value).strip():
        from kiln.prefix import check_prefix

        try:
            check_prefix(str(value))
        except KilnError as exc:
            fail(str(exc))


def refuse_together_board_cpu(arguments: dict) -> None:
    """export takes BOARD= or CPU=, not both: the CPU would override the board's."""
    if arguments.get("CPU") and arguments.get("BOARD"):
        fail(f"CPU={arguments['CPU']} and BOARD={arguments['BOARD']} both choose the CPU to export for: "
             "give BOARD= (its CPU, and its flash for OPTIMIZE=fit) or CPU= alone")
