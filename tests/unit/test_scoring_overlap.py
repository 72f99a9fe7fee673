"""Reading ahead and writing behind (`eagergraph.scoring.overlap`): order kept, at most `depth` items in flight, and
a failure on the background thread raised in the caller (no TensorFlow, no server)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from eagergraph.scoring.overlap import WriteBehind, read_ahead


def test_read_ahead_keeps_order_runs_elsewhere_and_stays_bounded() -> None:
    produced: list[int] = []
    threads: set[str] = set()

    def items() -> Iterator[int]:
        for i in range(10):
            threads.add(threading.current_thread().name)
            produced.append(i)
            yield i

    seen = []
    for item in read_ahead(items(), depth=2):
        assert len(produced) - len(seen) <= 3  # the one being handed over, and at most two read ahead
        seen.append(item)
    assert seen == list(range(10))
    assert threads and threading.current_thread().name not in threads


def test_read_ahead_raises_the_readers_error_at_its_item() -> None:
    def items() -> Iterator[int]:
        yield 1
        raise ValueError("row 7 is bad")

    seen = []
    with pytest.raises(ValueError, match="row 7 is bad"):
        for item in read_ahead(items()):
            seen.append(item)
    assert seen == [1]


def test_write_behind_writes_in_order_bounded_and_raises_the_first_failure() -> None:
    written: list[int] = []
    release = threading.Event()

    def write(i: int) -> None:
        release.wait(5)
        written.append(i)

    with WriteBehind(depth=2) as behind:
        caller = threading.Thread(target=lambda: [behind(write, i) for i in range(3)])
        caller.start()
        caller.join(0.3)
        assert caller.is_alive() and written == []  # the third call waits while two are pending
        release.set()
        caller.join(5)
        for i in range(3, 20):
            behind(write, i)
    assert written == list(range(20))

    def fail(i: int) -> None:
        if i == 3:
            raise OSError("disk full")
        written.append(i)

    with pytest.raises(OSError, match="disk full"), WriteBehind() as behind:
        for i in range(10):
            behind(fail, i)
