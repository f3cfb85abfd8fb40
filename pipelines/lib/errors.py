"""Errors the CLI turns into a one-line message."""


class UsageError(Exception):
    """Bad input from the user (missing folder, unknown year, no warehouse yet): exit 2."""
