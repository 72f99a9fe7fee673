"""What the terminal shows when a command goes wrong: one line on stderr, tracebacks only with --debug.

The contract (DESIGN.md): bad input or usage exits with status 2 and one line on stderr naming the problem;
an interrupted run exits with 128 + the signal number after its temporary directory is removed. Prefect's own
log lines go to stdout in the CLI (`prepare_environment`), so stderr carries errors only; the failure message
still reaches the Prefect API and UI in full, traceback included, through Prefect's API log handler.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import traceback
from collections.abc import Iterator
from types import FrameType

import typer

from eagergraph.errors import USER_ERRORS, first_line

EXIT_BAD_INPUT = 2
PREFIX = "eagergraph: error: "


def fail(message: str) -> None:
    """One line on stderr and exit status 2: the contract for bad input and usage."""
    typer.echo(f"{PREFIX}{message}", err=True)
    raise typer.Exit(EXIT_BAD_INPUT)


class _TerminationRequested(BaseException):
    """SIGTERM outside a flow run (inside one, Prefect raises its own TerminationSignal)."""

    def __init__(self, signal_number: int) -> None:
        super().__init__(signal_number)
        self.signal = signal_number


def _raise_termination(signal_number: int, frame: FrameType | None) -> None:
    raise _TerminationRequested(signal_number)


@contextlib.contextmanager
def reported_errors(debug: bool) -> Iterator[None]:
    """Turn user errors and interrupts into the CLI's exit contract; anything else keeps its traceback.

    SIGTERM is made to raise, like SIGINT does, so the flow's context managers (the staged run directory) clean
    up on the way out. Prefect swaps in its own SIGTERM handler while a flow runs, marks the run Crashed, then
    re-delivers the signal to the handler installed here.
    """
    from prefect.exceptions import TerminationSignal

    previous = signal.signal(signal.SIGTERM, _raise_termination)
    try:
        yield
    except USER_ERRORS as error:
        if debug:
            traceback.print_exc()
        fail(first_line(error))
    except Exception as error:  # only a Prefect server problem is reported in one line; the rest re-raised
        message = server_problem(error)
        if message is None:
            raise
        if debug:
            traceback.print_exc()
        fail(message)
    except (KeyboardInterrupt, TerminationSignal, _TerminationRequested) as stop:
        number = getattr(stop, "signal", signal.SIGINT)
        if debug:
            traceback.print_exc()
        typer.echo(f"{PREFIX}interrupted by {signal.Signals(number).name}; "
                   "unfinished output was discarded, earlier runs are untouched", err=True)
        raise typer.Exit(128 + number) from None
    finally:
        signal.signal(signal.SIGTERM, previous)


def server_problem(error: BaseException) -> str | None:
    """One line for a Prefect server that cannot be reached or refuses our credentials; None for other errors."""
    import httpx
    from prefect.settings import PREFECT_API_URL

    url = PREFECT_API_URL.value() or "(temporary local server)"
    cause: BaseException | None = error
    while cause is not None:  # Prefect wraps some of these (RuntimeError "Failed to reach API at ...")
        status = getattr(getattr(cause, "response", None), "status_code", None)
        if status in (401, 403):
            return (f"the Prefect server at {url} refused the request ({status}): set PREFECT_API_AUTH_STRING to the "
                    "server's user:password (its PREFECT_SERVER_API_AUTH_STRING)")
        if isinstance(cause, (httpx.ConnectError, httpx.ConnectTimeout)):
            return (f"cannot reach the Prefect server at {url} ({first_line(cause)}); start the local one with "
                    "`eagergraph server start --background`, or unset a PREFECT_API_URL that names another")
        cause = cause.__cause__ or cause.__context__
    return None


class _ConsoleFormatter(logging.Formatter):
    """Wraps the console's formatter: records of user errors keep their one-line message, lose the traceback."""

    def __init__(self, inner: logging.Formatter, hidden: tuple[type[BaseException], ...]) -> None:
        super().__init__()
        self.inner = inner
        self.hidden = hidden

    def format(self, record: logging.LogRecord) -> str:
        if record.exc_info and isinstance(record.exc_info[1], self.hidden):
            record = logging.makeLogRecord({**record.__dict__, "exc_info": None, "exc_text": None})
        return self.inner.format(record)


def _user_error_names(kinds: tuple[type[BaseException], ...] = USER_ERRORS) -> tuple[str, ...]:
    """The class names of every user error (UserError and all its subclasses), as Prefect's messages spell them."""
    names: list[str] = []
    todo = list(kinds)
    while todo:
        kind = todo.pop()
        names.append(kind.__name__)
        todo.extend(kind.__subclasses__())
    return tuple(names)


class UserErrorLines(logging.Filter):
    """Keeps Prefect's lines about a user error off the console: "Task run failed with exception: DataError(...)",
    the task's and the flow's "Finished in state Failed('... DataError: ...')" repeat, with Prefect's decoration,
    the one line the CLI prints on stderr. Lines about other errors pass, and so does everything else."""

    def __init__(self) -> None:
        super().__init__()
        self.names = _user_error_names()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], USER_ERRORS):
            return False
        text = record.getMessage()
        return not any(f"{name}(" in text or f"{name}:" in text for name in self.names)


def quiet_expected_tracebacks() -> None:
    """Drop the tracebacks of user errors, and Prefect's ERROR lines that repeat them, from Prefect's console log
    (the API log keeps them all: the UI shows the whole story).

    Prefect configures logging when it is imported; its console handler sits on the root logger.
    """
    import prefect  # noqa: F401  (configures Prefect's logging)
    from prefect.logging.handlers import PrefectConsoleHandler

    for handler in logging.getLogger().handlers:
        if isinstance(handler, PrefectConsoleHandler) and not isinstance(handler.formatter, _ConsoleFormatter):
            handler.setFormatter(_ConsoleFormatter(handler.formatter or logging.Formatter(), USER_ERRORS))
            handler.addFilter(UserErrorLines())
