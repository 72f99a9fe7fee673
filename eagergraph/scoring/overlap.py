"""Reading ahead and writing behind on one background thread each, so that decoding the next block and encoding the
previous one run beside the model's call on the current one (TensorFlow, Arrow and Parquet release the GIL). At most
`depth` blocks wait on either side: memory stays flat in the file's rows."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")
DEPTH = 2  # blocks read ahead, or waiting to be written: enough to cover one block's jitter, no more
_END = object()


def read_ahead(items: Iterator[T], depth: int = DEPTH) -> Iterator[T]:
    """`items` in order, each produced on a background thread up to `depth` ahead of the consumer; an exception
    there is raised here, at the item it stopped."""
    with ThreadPoolExecutor(1, thread_name_prefix="eagergraph-read") as pool:
        pending: deque[Future] = deque(pool.submit(next, items, _END) for _ in range(depth))
        while (item := pending.popleft().result()) is not _END:
            pending.append(pool.submit(next, items, _END))
            yield item


class WriteBehind:
    """Calls run in order on one background thread, at most `depth` waiting; the first failure is raised at the next
    call or when the `with` block ends (which waits for every call)."""

    def __init__(self, depth: int = DEPTH) -> None:
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="eagergraph-write")
        self._pending: deque[Future] = deque()
        self._depth = depth

    def __call__(self, work: Callable[..., Any], *args: Any) -> None:
        while len(self._pending) >= self._depth:
            self._pending.popleft().result()
        self._pending.append(self._pool.submit(work, *args))

    def __enter__(self) -> "WriteBehind":
        return self

    def __exit__(self, kind: type[BaseException] | None, *exc: object) -> None:
        try:
            while self._pending:
                future = self._pending.popleft()
                if kind is None:
                    future.result()
                elif not future.cancel():
                    future.exception()  # failing already: wait for a call under way, and keep the first error
        finally:
            self._pool.shutdown(wait=True)
