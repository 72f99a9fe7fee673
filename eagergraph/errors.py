"""The errors meant for the user, and how any error becomes the one line the CLI prints."""

from __future__ import annotations


class UserError(ValueError):
    """Anything the user can mend (their data, their options, their artifacts folder): the CLI prints its one-line
    message and exits with status 2, never a traceback."""


class DataError(UserError):
    """Input data that cannot be used; the message is one line naming what is wrong and where."""


class ConfigError(UserError):
    """A configuration value or file that cannot be used; the message is one line for the user."""


class RegistryError(UserError):
    """An artifacts folder or run directory in a state the command cannot act on (missing, unwritable, not a
    complete run, nothing to roll back to); the message is one line for the user."""


USER_ERRORS: tuple[type[BaseException], ...] = (UserError,)


def first_line(error: BaseException) -> str:
    """The first line of an error's message (the class name when it has none)."""
    return (str(error).strip().splitlines() or [type(error).__name__])[0]
