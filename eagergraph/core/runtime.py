"""Starting TensorFlow the way every training and prediction expects it: the one place that sets TensorFlow's
process-wide state (thread pools, op determinism)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


def start_tensorflow() -> None:
    """Import TensorFlow, set its thread pools, switch op determinism on and discover its devices, before the
    runtime's first operation (TensorFlow ignores thread settings made later). Safe to call again: the settings
    are the same every time.

    Op determinism is what makes eager and graph training agree to float tolerance (the parity the comparison
    rests on): it is set here, once per process, with TensorFlow's public API, not by each training.
    """
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
