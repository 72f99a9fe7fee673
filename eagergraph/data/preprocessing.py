"""The model's preprocessing, defined once: standardize with the training statistics, then append the squares.

Written on array arithmetic only, so the same functions run on numpy arrays (the normalize and engineer-features
stages, the benchmark) and on TensorFlow tensors (inside the exported SavedModel); the caller passes the concat
of its array library. No TensorFlow import here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

Array = TypeVar("Array")
SQUARE_SUFFIX = "_sq"


def standardize(raw: Array, mean: Array, std: Array) -> Array:
    """(x - mean) / std with the statistics fitted on the training split."""
    return (raw - mean) / std


def with_squares(z: Array, concat: Callable[[Sequence[Array]], Array]) -> Array:
    """The model's inputs: the standardized features, then their squares (the order `input_names` gives)."""
    return concat([z, z * z])


def preprocess(raw: Array, mean: Array, std: Array, concat: Callable[[Sequence[Array]], Array],
               to_float32: Callable[[Array], Array] = lambda a: a) -> Array:
    """Raw features → model inputs: what normalize + engineer-features write, and what the SavedModel computes.

    The stages standardize in float64 and store float32 (`to_float32`), then square in float32; so does this.
    """
    return with_squares(to_float32(standardize(raw, mean, std)), concat)


def input_names(base: list[str]) -> list[str]:
    """Names of the model's inputs, in `with_squares` order: the features, then their squares."""
    return [*base, *(f"{name}{SQUARE_SUFFIX}" for name in base)]
