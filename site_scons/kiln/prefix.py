"""The prefix of a generated model's public C names (<prefix>_invoke, PREFIX_ARENA_BYTES):
kept apart from kiln.codegen so that SConstruct can check PREFIX= without loading the compiler."""

from __future__ import annotations

import re

from kiln.errors import KilnError

#: The prefix of Kiln's own firmware and host builds.
DEFAULT_PREFIX = "kiln_model"
_PREFIX = re.compile(r"[a-z][a-z0-9_]{0,31}")


def check_prefix(prefix: str) -> None:
    """Raise KilnError unless `prefix` can start a model's public C symbols: a
    lowercase C identifier of at most 32 characters, clear of the runtime's kiln_
    namespace (the default kiln_model aside)."""
    if not _PREFIX.fullmatch(prefix or ""):
        raise KilnError(f"PREFIX={prefix} is not a C prefix: use lowercase letters, digits and _, "
                        "starting with a letter, at most 32 characters (e.g. PREFIX=kws)")
    if prefix != DEFAULT_PREFIX and (prefix == "kiln" or prefix.startswith("kiln_")):
        raise KilnError(f"PREFIX={prefix} would share the runtime's kiln_ names: "
                        "choose another, e.g. PREFIX=my_model")


def default_prefix(name: str) -> str:
    """A prefix from a model's name (net/variant or file stem): fashion_mnist/ptq -> fashion_mnist_ptq."""
    out = "".join(c if c.isalnum() else "_" for c in name.lower()).strip("_")
    out = out if out[:1].isalpha() else f"m_{out}"
    out = out[:32].rstrip("_")
    return f"m_{out}"[:32] if out == "kiln" or out.startswith("kiln_") else out
