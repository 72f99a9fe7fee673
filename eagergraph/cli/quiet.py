"""TensorFlow's native start-up notices kept off the terminal, unless debugging: the CLI's business alone.

TensorFlow's C++ side logs through absl before absl is initialized ("Could not find cuda drivers on your
machine", "failed call to cuInit"); TF_CPP_MIN_LOG_LEVEL does not reach those lines, and they would break the
CLI's contract of one line on stderr per error. So the command, once, at its start, points file descriptor 2 at
/dev/null and gives Python's `sys.stderr` a descriptor of its own on the real stderr: every Python message
(errors, tracebacks, warnings) still reaches the terminal, native chatter does not. Nothing below the CLI
touches file descriptors; `eagergraph --debug` leaves them alone.
"""

from __future__ import annotations

import os
import sys

_debug = False
_redirected = False


def debugging() -> bool:
    """Whether this command was started with `eagergraph --debug`."""
    return _debug


def set_debugging(debug: bool) -> None:
    """Record `--debug` and, without it, keep native (C++) output off the terminal for the rest of the command."""
    global _debug
    _debug = debug
    if not debug:
        _native_stderr_to_devnull()


def _native_stderr_to_devnull() -> None:
    global _redirected
    if _redirected:
        return  # already done (the CLI called twice in one process)
    _redirected = True
    sys.stderr.flush()
    python_stderr = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)
    stream = os.fdopen(python_stderr, "w", buffering=1, encoding=sys.stderr.encoding, errors="backslashreplace")
    sys.stderr = stream
