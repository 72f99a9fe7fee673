"""A hand-made normalizer (the data contract's schema), its model inputs written out in numpy, a tiny model:
shared by the unit and CLI tests of the exported SavedModel."""

from __future__ import annotations

import keras
import numpy as np

from eagergraph.data.normalize import Normalizer
from eagergraph.data.preprocessing import encode

# normalizer.json in the data contract's schema, made by hand: one imputed and one plain numeric feature, text
# categories (one with a space in its name and a comma in a value), integers and booleans as canonical text.
NORMALIZER = {
    "features": ["age", "fare", "sex", "home town", "pclass", "alone"],
    "numeric": [{"name": "age", "mean": 29.7, "std": 14.5, "impute": 28.0, "missing": 3},
                {"name": "fare", "mean": 32.2, "std": 49.7, "impute": None, "missing": 0}],
    "categorical": [{"name": "sex", "vocabulary": ["male", "female"], "missing": 0, "distinct": 2},
                    {"name": "home town", "vocabulary": ["Paris, TX", "Oslo", "Lima"], "missing": 4, "distinct": 3},
                    {"name": "pclass", "vocabulary": ["3", "1", "2"], "missing": 0, "distinct": 3},
                    {"name": "alone", "vocabulary": ["true", "false"], "missing": 1, "distinct": 2}],
    "classes": ["no", "yes"], "train_rows": 100, "test_rows": 25,
}
N_INPUTS = 2 + 2 + 1 + (2 + 2) + (3 + 2) + (3 + 2) + (2 + 2)  # z, z², age's indicator, one-hots with unseen + missing


def reference_encode(columns: dict[str, np.ndarray], normalizer: dict) -> np.ndarray:
    """The model inputs by the one definition (`eagergraph.data.preprocessing.encode`), from raw columns as the
    serving side canonicalizes them (trimmed text; blank text is a missing cell)."""
    cells = {name: [(v.strip() or None) if isinstance(v, str) else v for v in values] if values.dtype == object else values
             for name, values in ((name, np.asarray(values)) for name, values in columns.items())}
    return encode(cells, Normalizer(**normalizer))


def tiny_model(n_inputs: int) -> keras.Model:
    """An untrained but deterministic MLP: the preprocessing is what is compared, not what the model learned."""
    keras.utils.set_random_seed(7)
    init = keras.initializers.RandomNormal(stddev=0.8, seed=7)
    return keras.Sequential([keras.Input((n_inputs,)), keras.layers.Dense(8, activation="tanh", kernel_initializer=init),
                             keras.layers.Dense(1, activation="sigmoid", kernel_initializer=init)])


