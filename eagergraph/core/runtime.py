"""Starting TensorFlow the way every training and prediction expects it."""

from __future__ import annotations


def start_tensorflow() -> None:
    """Import TensorFlow, set its thread pools and discover its devices, before the runtime's first operation
    (TensorFlow ignores thread settings made later)."""
    import tensorflow as tf

    from eagergraph.core.model import configure_threads

    configure_threads()
    tf.config.list_physical_devices()
