"""What Prefect still holds when a command ends, sent before the command's last line: the log and event workers
drained, Prefect's temporary server stopped. Prefect's loggers are quieted meanwhile, and logger levels are
process-wide state, which only the CLI sets."""

from __future__ import annotations

import logging
import sys


def _deliver_pending_events(timeout: float) -> None:
    """Wait until Prefect's events worker has sent what it holds. Prefect 3.9 has no public call for this (logs have
    `APILogHandler.flush`; events have none), so this is the one place eagergraph reaches into a Prefect internal:
    `EventsWorker.drain_all`, a classmethod of `prefect._internal.concurrency.services.QueueService`, checked
    against Prefect 3.9 (pyproject pins prefect to 3.9.x, so an upgrade re-checks this)."""
    from prefect.events.worker import EventsWorker

    EventsWorker.drain_all(timeout=timeout)


def deliver_pending(timeout: float = 10) -> None:
    """Send what Prefect's log and event workers still hold, now, while the server is up: left to the interpreter's
    exit, they print "Still processing items" (or retry against a stopped server) after the command's output."""
    from prefect.logging.handlers import APILogHandler

    # Prefect's queue services log "Still processing items: N items remaining" on loggers named after their class
    # while they drain (a progress note, not a problem): kept off the command's stderr for the drain we ask for.
    quiet = [logging.getLogger(name) for name in ("APILogWorker", "EventsWorker")]
    levels = [logger.level for logger in quiet]
    for logger in quiet:
        logger.setLevel(logging.ERROR)
    try:
        APILogHandler().flush()
        _deliver_pending_events(timeout=timeout)
    finally:
        for logger, level in zip(quiet, levels):
            logger.setLevel(level)


def stop_temporary_servers() -> None:
    """Stop Prefect's temporary per-run server now (it would log "Stopping temporary server" at exit, after
    the run's output). Its log line goes to stderr's side: the logger is silenced for the call."""
    if "prefect.server.api.server" not in sys.modules:
        return
    from prefect.server.api.server import SubprocessASGIServer

    deliver_pending()  # stopped first, the workers would retry against a closed port, then print after the output
    logger = logging.getLogger("prefect")  # the temporary server logs through Prefect's root logger
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        # The constructor without a port returns the temporary server every Prefect client shares (a singleton);
        # `stop` is its public method, as Prefect's own test fixtures call it.
        SubprocessASGIServer().stop()
    finally:
        logger.setLevel(level)
