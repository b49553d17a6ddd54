"""Errors that Kiln reports to users: each names the problem and the fix."""

import difflib
import traceback


class KilnError(Exception):
    """A user-facing build error; the message is printed as is."""


class InvalidScale(KilnError):
    """Quantization scales whose ratio int32 requantization cannot represent:
    the caller adds which layer (kiln.codegen.build_layers)."""


class InternalError(KilnError):
    """Kiln failed where it should not: a bug. The original exception is the
    __cause__, shown with VERBOSE=1."""


def describe_failure(exc: BaseException, what: str, verbose: bool = False) -> str:
    """The one line a command-line tool prints for `exc`: a KilnError's own
    message, anything else as an internal error asking for a report. With
    `verbose` the traceback of an internal error goes to stderr first."""
    cause = exc.__cause__ if isinstance(exc, InternalError) else exc
    if verbose and cause is not None and (isinstance(exc, InternalError) or not isinstance(exc, KilnError)):
        traceback.print_exception(cause)
    if isinstance(exc, KilnError):
        return str(exc)
    return (f"internal error {what} ({type(exc).__name__}: {exc}); please report it "
            "(--verbose or VERBOSE=1 shows the traceback)")


def unknown_value(kind: str, value: str, valid: list[str] | tuple[str, ...]) -> str:
    """The message for a value not among `valid`: names it, suggests the closest, lists all."""
    close = difflib.get_close_matches(value, list(valid), n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return f"unknown {kind} '{value}'{hint}: valid values are {', '.join(valid) or '(none found)'}"


#: What to do about a model file that does not hold a well-formed model.
FIX_CORRUPT = "export the model again with the TFLite converter, or download it again"


def corrupt(name: str, what: str, detail: str) -> KilnError:
    """The error for a model file whose bytes cannot be read as a model."""
    return KilnError(f"'{name}' is truncated or corrupt at {what} ({detail}); {FIX_CORRUPT}")


def invalid(name: str, what: str, detail: str) -> KilnError:
    """The error for a model that reads but breaks the format's rules."""
    return KilnError(f"'{name}' is invalid: {what}: {detail}; {FIX_CORRUPT}")
