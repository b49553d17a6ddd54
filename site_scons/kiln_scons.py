"""What every Kiln SCons tool shares: how a build step reports its errors.

Only the tools in site_tools/ import this; the library (kiln/) never imports
SCons. Errors follow SCons' own conventions:
- while the SConstruct is read, `fail(message)` raises SCons' UserError:
  SCons prints `scons: *** message` and stops before building anything;
- while a target builds, `action(fn, label)` turns a KilnError into SCons'
  BuildError (`scons: *** [target] message`), and anything unexpected into
  one line asking for a report, with the traceback only under VERBOSE=1.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import NoReturn

import SCons.Action
import SCons.Errors
from kiln.errors import KilnError

#: An SCons Python action: fn(target, source, env) -> exit status (None is 0).
ActionFunction = Callable[..., int | None]


def fail(message: str) -> NoReturn:
    """Stop the build while the SConstruct is read, with `message` (problem and fix)."""
    raise SCons.Errors.UserError(message)


def internal_error(what: str, exc: BaseException) -> str:
    """The one line shown for an exception nobody expected."""
    return (f"internal error {what} ({type(exc).__name__}: {exc}); please report it "
            "(VERBOSE=1 shows the traceback)")


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
        except KilnError as exc:
            raise SCons.Errors.BuildError(node=target[0], errstr=str(exc), exitstatus=2) from None
        except Exception as exc:  # noqa: BLE001 - the one place that catches everything
            if env.get("VERBOSE"):
                traceback.print_exc()
            raise SCons.Errors.BuildError(
                node=target[0], errstr=internal_error(f"building {target[0]}", exc),
                exitstatus=2) from None

    run.__name__ = fn.__name__
    run.__doc__ = fn.__doc__
    return SCons.Action.Action(run, label, varlist=list(varlist))
