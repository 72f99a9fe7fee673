"""How a flow runs one stage: in its own thread, or on the task runner's worker processes, timed."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def on_workers() -> bool:
    """Whether stages go to the task runner's worker processes (Dask). With the default thread runner they run in
    the flow's own thread, one at a time: TensorFlow never shares a process's threads, and an interrupt (SIGINT,
    SIGTERM) stops the training itself instead of waiting for a worker thread to finish it."""
    from prefect.context import FlowRunContext
    from prefect.task_runners import ThreadPoolTaskRunner

    context = FlowRunContext.get()
    return context is not None and not isinstance(context.task_runner, ThreadPoolTaskRunner)


@contextmanager
def untagged() -> Iterator[None]:
    """Task runs created inside carry none of the flow run's tags.

    The command line tags each flow run with the product and its data (for the UI's run list), and Prefect gives a
    flow run's tags to its task runs too; a tagged task run then asks the server for a tag concurrency slot before
    it starts, through Prefect's event-loop thread. That wait took 0.3–1 s a stage while TensorFlow loaded beside
    the data stages (8.4 s of a 10M-row run). eagergraph sets no tag concurrency limits on its task runs, so they
    are created untagged; the flow runs keep their tags.
    """
    from prefect.context import TagsContext

    with TagsContext(current_tags=set()):
        yield


def run_stage(seconds: dict[str, float], stage: Any, *args: Any, hits: set[str] | None = None, **kwargs: Any) -> Any:
    """Run a stage and wait for it (in the flow's thread, or on a worker process), untagged; record its wall time,
    and its name in `hits` when Prefect found its result in the cache."""
    started = time.perf_counter()
    with untagged():
        if on_workers():
            future = stage.submit(*args, **kwargs)
            result, state = future.result(), future.state
        elif hits is not None:  # the state tells a hit; a failed stage raises its own error from `result()`
            state = stage(*args, return_state=True, **kwargs)
            result = state.result()
        else:
            result, state = stage(*args, **kwargs), None
    if hits is not None and state is not None and state.name == "Cached":
        hits.add(stage.name)
    seconds[stage.name] = time.perf_counter() - started
    return result


def run_side_by_side(seconds: dict[str, float], stage: Any, calls: list[tuple], threads_too: bool = False,
                     **kwargs: Any) -> list[Any]:
    """Run one stage over several argument tuples: all at once on worker processes (or on the thread pool when
    `threads_too`, for stages that hold no TensorFlow state), else one after another in the flow's thread.
    The stage's time is the wall time of all of them."""
    started = time.perf_counter()
    with untagged():
        if threads_too or on_workers():
            futures = [stage.submit(*args, **kwargs) for args in calls]
            results = [future.result() for future in futures]
        else:
            results = [stage(*args, **kwargs) for args in calls]
    seconds[stage.name] = time.perf_counter() - started
    return results
