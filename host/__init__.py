"""Kiln's host side: talk to the board over UART, run test sets, report.

The host tools import the build library (site_scons/kiln) for datasets and
errors; put it on the path here so `python -m host.infer` works from the
repository root without an installed package.
"""

import sys
from pathlib import Path

_SITE_SCONS = str(Path(__file__).resolve().parents[1] / "site_scons")
if _SITE_SCONS not in sys.path:
    sys.path.insert(0, _SITE_SCONS)
