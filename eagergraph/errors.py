"""The errors meant for the user, and how any error becomes the one line the CLI prints."""

from __future__ import annotations


class DataError(ValueError):
    """Input data that cannot be used; the message is one line naming what is wrong and where."""


class ConfigError(ValueError):
    """A configuration value or file that cannot be used; the message is one line for the user."""


USER_ERRORS: tuple[type[BaseException], ...] = (DataError, ConfigError)


def first_line(error: BaseException) -> str:
    """The first line of an error's message (the class name when it has none)."""
    return (str(error).strip().splitlines() or [type(error).__name__])[0]
