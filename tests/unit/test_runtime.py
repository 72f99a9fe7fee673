"""TensorFlow's start-up on a thread of its own while the data stages run: waited for, and its failure raised."""

from __future__ import annotations

import sys
import threading

import pytest

from eagergraph.core import runtime


def test_a_background_start_runs_once_is_waited_for_and_raises_its_error(monkeypatch: pytest.MonkeyPatch) -> None:
    started, release, calls, intervals = threading.Event(), threading.Event(), [], []
    before = sys.getswitchinterval()

    def failing_start() -> None:
        calls.append(threading.current_thread().name)
        intervals.append(sys.getswitchinterval())
        started.set()
        release.wait(30)
        raise RuntimeError("TensorFlow failed to load")

    monkeypatch.setattr(runtime, "_start", failing_start)
    monkeypatch.setattr(runtime, "_starting", None)
    runtime.start_tensorflow_in_background()
    assert started.wait(30)  # running elsewhere while this thread goes on
    runtime.start_tensorflow_in_background()  # a second call starts nothing more
    release.set()
    with pytest.raises(RuntimeError, match="TensorFlow failed to load"):
        runtime.start_tensorflow()
    assert len(calls) == 1 and calls[0] != threading.current_thread().name
    # Python's lock changed hands faster while it loaded, and as before once it failed
    assert intervals == [pytest.approx(runtime.SWITCH_WHILE_LOADING)] and runtime.SWITCH_WHILE_LOADING < before
    assert sys.getswitchinterval() == before
