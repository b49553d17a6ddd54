"""Errors that Kiln reports to users: each names the problem and the fix."""


class KilnError(Exception):
    """A user-facing build error; the message is printed as is."""
