"""Kiln's host side: talk to the board over UART, run test sets, report.

host/ may import the build library `kiln` (site_scons/kiln); the build
library never imports host/. Run the host tools with site_scons and the
repository root on PYTHONPATH (`kiln.child_env()` does that for the SCons
tools; pytest's `pythonpath` setting does it for the tests).
"""
