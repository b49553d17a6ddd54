"""Portable kernels by operator family, one module each (activations, elementwise, ...).

Every module in this package registers its kernels when imported; importing
the package imports them all, so a new family is one new module here plus
its C under firmware/runtime/portable/ and its header under
firmware/runtime/include/kiln/ops/ (included from kiln/kernels.h).
"""

from __future__ import annotations

import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
