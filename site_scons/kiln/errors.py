"""Errors that Kiln reports to users: each names the problem and the fix."""

import difflib


class KilnError(Exception):
    """A user-facing build error; the message is printed as is."""


class InvalidScale(KilnError):
    """Quantization scales whose ratio int32 requantization cannot represent:
    the caller adds which layer (kiln.codegen.build_layers)."""


class InternalError(KilnError):
    """Kiln failed where it should not: a bug. The original exception is the
    __cause__, shown with VERBOSE=1."""


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
