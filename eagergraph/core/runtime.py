"""Starting TensorFlow the way every training and prediction expects it: the one place that sets TensorFlow's
process-wide state (thread pools, op determinism)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager

_starting: Future | None = None  # start_tensorflow running on a thread of its own (start_tensorflow_in_background)
# Python's lock is handed over this often (seconds) while TensorFlow loads beside the data stages, instead of every
# 5 ms: the import holds the lock for long stretches, and each time normalize's numpy or Arrow call returns it waits
# up to the interval for the lock back. A 10M-row normalize beside the import took 9.25 s at 5 ms, 7.94 s at 0.1 ms
# (5.69 s alone; the import 4.8 s either way).
SWITCH_WHILE_LOADING = 1e-4


def start_tensorflow() -> None:
    """Import TensorFlow, set its thread pools, switch op determinism on and discover its devices, before the
    runtime's first operation (TensorFlow ignores thread settings made later). Safe to call again: the settings
    are the same every time. When `start_tensorflow_in_background` began it, this waits for it (and raises what
    it raised).

    Op determinism is what makes eager and graph training agree to float tolerance (the parity the comparison
    rests on): it is set here, once per process, with TensorFlow's public API, not by each training.
    """
    if _starting is not None:
        _starting.result()
    _start()


def start_tensorflow_in_background() -> None:
    """Begin `start_tensorflow` on a thread of its own, so that TensorFlow's import (seconds) overlaps the data
    stages still to run, which spend their time in Arrow and numpy, outside Python's lock. The flows call it once
    ingest has read and checked the input, so bad input still fails before TensorFlow loads; an error found later
    in the data stages exits once the import is done (the thread is not a daemon: a process does not exit in the
    middle of loading TensorFlow)."""
    global _starting
    if _starting is None:
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tensorflow-start")
        _starting = pool.submit(_start_beside)
        pool.shutdown(wait=False)  # the thread ends with its one job


def _start_beside() -> None:
    """`_start` on the background thread, with Python's lock handed back to the main thread quickly meanwhile."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(SWITCH_WHILE_LOADING)
    try:
        _start()
    finally:
        sys.setswitchinterval(interval)


def _start() -> None:
    import tensorflow as tf

    from eagergraph.core.model import configure_threads

    configure_threads()
    tf.config.experimental.enable_op_determinism()
    tf.config.list_physical_devices()


@contextmanager
def op_determinism_off() -> Iterator[None]:
    """The one exception to `start_tensorflow`'s op determinism: the benchmark's jitted Keras `fit`. Keras silently
    turns `jit_compile=True` off while op determinism is on, so the benchmark switches it off for that contender
    alone, to measure the XLA it asks for, and this restores it after.

    TensorFlow 2.21 has no public call to switch determinism off (only `tf.config.experimental.enable_op_determinism`),
    so this is the one use of its private `tensorflow.python.framework.config` (checked against TensorFlow 2.21).
    """
    from tensorflow.python.framework import config

    was_on = config.is_op_determinism_enabled()
    if was_on:
        config.disable_op_determinism()
    try:
        yield
    finally:
        if was_on:
            config.enable_op_determinism()
