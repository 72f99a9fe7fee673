"""TensorFlow's native start-up notices kept off stderr, unless debugging.

TensorFlow's C++ side logs through absl before absl is initialized ("Could not find cuda drivers on your
machine", twice per import); TF_CPP_MIN_LOG_LEVEL does not reach those lines, and they would break the CLI's
contract of one line on stderr per error. Python exceptions are unaffected: they are raised, not printed.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

DEBUG_ENV = "EAGERGRAPH_DEBUG"  # set by `eagergraph --debug`; child processes and flows see it too


def debugging() -> bool:
    """Whether tracebacks and native start-up messages should reach the terminal."""
    return os.environ.get(DEBUG_ENV, "") not in ("", "0")


@contextlib.contextmanager
def native_stderr_silenced(enabled: bool | None = None) -> Iterator[None]:
    """Point file descriptor 2 at /dev/null for the block (by default unless debugging), then restore it."""
    if enabled is None:
        enabled = not debugging()
    if not enabled:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def start_tensorflow() -> None:
    """Import TensorFlow and initialize its devices with native notices silenced (unless debugging).

    Device discovery prints its own notice on machines without a GPU ("failed call to cuInit"), so it
    happens here too rather than at the first operation.
    """
    with native_stderr_silenced():
        import tensorflow as tf

        from eagergraph.core.training import configure_threads

        configure_threads()  # before the runtime starts, or TensorFlow ignores it
        tf.config.list_physical_devices()
