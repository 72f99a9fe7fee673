"""`eagergraph ARGS` run in the test process, as the console script runs it: the docs tier's commands and the
troubleshooting table's errors, without a TensorFlow import per command."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def prefect_console_to_stdout() -> Iterator[None]:
    """Prefect's console log handler keeps the stream it was made with; while a command runs here, it writes to the
    command's own (captured) stdout, as the installed command's Prefect lines go to its stdout. The formatter and
    filters the command puts on it (eagergraph.cli.terminal.quiet_expected_tracebacks) are taken off after."""
    import logging

    from prefect.logging.handlers import PrefectConsoleHandler

    handlers = [h for h in logging.getLogger().handlers if isinstance(h, PrefectConsoleHandler)]
    before = [(h.stream, h.console.file, h.formatter, list(h.filters)) for h in handlers]
    for handler in handlers:
        handler.stream = handler.console.file = sys.stdout
    try:
        yield
    finally:
        for handler, (stream, file, formatter, filters) in zip(handlers, before):
            handler.stream, handler.console.file, handler.formatter, handler.filters = stream, file, formatter, filters


@contextlib.contextmanager
def in_folder(folder: Path) -> Iterator[None]:
    before = os.getcwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(before)


def run_eagergraph(args: list[str], folder: Path, env: dict[str, str] | None = None) -> tuple[int, str]:
    """`eagergraph ARGS` in this process, as the console script runs it: (exit status, stdout and stderr)."""
    from typer.testing import CliRunner

    import eagergraph.cli.quiet as quiet
    from eagergraph.cli.app import main

    runner = CliRunner()
    redirected, quiet._redirected = quiet._redirected, True  # no file-descriptor games inside the test process
    argv, sys.argv = sys.argv, ["eagergraph", *args]
    try:
        with in_folder(folder), runner.isolation(env=env) as (_, _, output), prefect_console_to_stdout():
            try:
                main()
                code = 0
            except SystemExit as stop:
                code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
            sys.stdout.flush()
            sys.stderr.flush()
            text = output.getvalue().decode("utf-8", "replace")
    finally:
        sys.argv = argv
        quiet._redirected = redirected
    return code, text
