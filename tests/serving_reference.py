"""A hand-made normalizer (the data contract's schema), its model inputs written out in numpy, a tiny model:
shared by the unit and CLI tests of the exported SavedModel."""

from __future__ import annotations

import keras
import numpy as np

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
    """The data contract's model inputs, written out in numpy for this test.

    FOR THE LEAD: replace with `eagergraph.data.preprocessing.encode` once the data branch is merged (this local
    copy exists because that function was not there when the serving branch was written).
    """
    z, indicators, one_hots = [], [], []
    for column in normalizer["numeric"]:
        x = np.asarray(columns[column["name"]], dtype=np.float64)
        if column["impute"] is not None:
            indicators.append(np.isnan(x).astype(np.float32))
            x = np.where(np.isnan(x), column["impute"], x)
        z.append(((x - column["mean"]) / column["std"]).astype(np.float32))
    for column in normalizer["categorical"]:
        vocabulary = column["vocabulary"]
        values = [None if v is None or not str(v).strip() else str(v).strip() for v in columns[column["name"]]]
        index = [len(vocabulary) + 1 if v is None else vocabulary.index(v) if v in vocabulary else len(vocabulary)
                 for v in values]
        one_hots.append(np.eye(len(vocabulary) + 2, dtype=np.float32)[index])
    z_matrix = np.stack(z, axis=1)
    parts = [z_matrix, z_matrix * z_matrix] + ([np.stack(indicators, axis=1)] if indicators else [])
    return np.concatenate(parts + one_hots, axis=1)


def tiny_model(n_inputs: int) -> keras.Model:
    """An untrained but deterministic MLP: the preprocessing is what is compared, not what the model learned."""
    keras.utils.set_random_seed(7)
    init = keras.initializers.RandomNormal(stddev=0.8, seed=7)
    return keras.Sequential([keras.Input((n_inputs,)), keras.layers.Dense(8, activation="tanh", kernel_initializer=init),
                             keras.layers.Dense(1, activation="sigmoid", kernel_initializer=init)])


