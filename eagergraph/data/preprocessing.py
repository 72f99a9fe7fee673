"""The model's preprocessing, defined once: impute, standardize with the training statistics, square, add a
missing indicator per imputed column, and one-hot every categorical column over its vocabulary plus an unseen
slot and a missing slot (an unseen value activates no slot, a missing one its slot only where the train split had
missing cells: `active_codes`).

`encode` is the numpy reference (the SavedModel's serving function must match it); the data stages compute the
same thing column by column on Arrow batches (`category_codes_arrow` in place of `category_codes`, the rest
shared), and a unit test holds the two equal. `standardize`, `bounded_z`, `with_squares` and `preprocess` are
written on array arithmetic (and a clip function: `np.clip` or `tf.clip_by_value`, which take the same arguments),
so they run on numpy arrays and on TensorFlow tensors alike. No TensorFlow import here.

A feature's z is clipped to ±Z_BOUND before it is used and squared: an outlier (a z of 30 would square to 900)
cannot feed the network an unbounded input, in training or in serving. Five standard deviations keep every value
of a normal column as it is (beyond 5σ: about 6 in 10 million) and bound the squares at 25.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

if TYPE_CHECKING:
    import pyarrow as pa

Array = TypeVar("Array")
Z_BOUND = 5.0  # a standardized feature is clipped to [-Z_BOUND, Z_BOUND] before it is used and squared
SQUARE_SUFFIX = "_sq"
MISSING_SUFFIX = "_missing"
UNSEEN = "<unseen>"  # the one-hot slot of values not in the vocabulary (new, or beyond the cap)
MISSING = "<missing>"  # the one-hot slot of missing cells


# A categorical feature's slots, the one rule both halves of the encoding (numpy here, TensorFlow in the SavedModel)
# follow: its vocabulary's values in order, then UNSEEN, then MISSING.
def unseen_slot(vocabulary_size: int) -> int:
    return vocabulary_size


def missing_slot(vocabulary_size: int) -> int:
    return vocabulary_size + 1


def slot_count(vocabulary_size: int) -> int:
    return vocabulary_size + 2


NO_SLOT = -1  # a code that activates no slot: its one-hot is all zeros


def active_codes(codes: Array, vocabulary_size: int, missing_trained: bool, where: Callable[..., Array]) -> Array:
    """Slot codes as the one-hot takes them (`where` is `np.where` or `tf.where`): scikit-learn's
    `handle_unknown="ignore"`, an unseen value activates no slot (all zeros: it contributes nothing, rather than
    an untrained weight); a missing cell activates the missing slot only when the train split had missing cells
    in that column (the slot was trained), else no slot either."""
    codes = where(codes == unseen_slot(vocabulary_size), codes * 0 + NO_SLOT, codes)
    if not missing_trained:
        codes = where(codes == missing_slot(vocabulary_size), codes * 0 + NO_SLOT, codes)
    return codes


def missing_trained(spec: dict) -> bool:
    """Whether a categorical column's missing slot was trained: the train split had missing cells in it (a
    normalizer written before the count was kept: as it was then, trained)."""
    return int(spec.get("missing", 1)) > 0


def standardize(raw: Array, mean: Array, std: Array) -> Array:
    """(x - mean) / std with the statistics fitted on the training split."""
    return (raw - mean) / std


def bounded_z(raw: Array, mean: Array, std: Array, clip: Callable[[Array, float, float], Array]) -> Array:
    """A feature's model value: standardized with the training statistics, then clipped to ±Z_BOUND (`clip` is
    `np.clip` or `tf.clip_by_value`). The target is standardized, never clipped."""
    return clip(standardize(raw, mean, std), -Z_BOUND, Z_BOUND)


def destandardize(z: Array, mean: Array, std: Array) -> Array:
    """The inverse of `standardize`: a standardized value back in the column's own units."""
    return z * std + mean


def with_squares(z: Array, concat: Callable[[Sequence[Array]], Array]) -> Array:
    """The standardized features, then their squares (the order `input_names` gives for numeric columns)."""
    return concat([z, z * z])


def preprocess(raw: Array, mean: Array, std: Array, concat: Callable[[Sequence[Array]], Array],
               to_float32: Callable[[Array], Array], clip: Callable[[Array, float, float], Array]) -> Array:
    """Numeric raw features (no missing values) → model inputs: standardized and clipped in float64, stored
    float32, squared in float32. `encode` is the general form with imputation and categorical columns."""
    return with_squares(to_float32(bounded_z(raw, mean, std, clip)), concat)


# ---------------------------------------------------------------- every column kind


def input_names(normalizer: Any) -> list[str]:
    """Names of the model's inputs in `encode` order: z of every numeric feature, their squares, a missing
    indicator per imputed column, then one-hot slots per categorical column (`sex=male`, `sex=<unseen>`, ...).

    A numeric input keeps its column's name; a derived name (square, indicator, one-hot slot) that is already
    taken, by a user's column (`x_sq` beside `x`) or an earlier input, takes the first free `_2`, `_3`, ...
    suffix (`x_sq_2`), so the engineered files never hold two columns of one name."""
    numeric = [spec["name"] for spec in normalizer.numeric]
    derived = [f"{name}{SQUARE_SUFFIX}" for name in numeric]
    derived += [f"{spec['name']}{MISSING_SUFFIX}" for spec in normalizer.numeric if spec["impute"] is not None]
    for spec in normalizer.categorical:
        derived += [f"{spec['name']}={value}" for value in (*spec["vocabulary"], UNSEEN, MISSING)]
    taken = set(normalizer.features) | set(numeric)
    return list(numeric) + [free_name(name, taken) for name in derived]


def free_name(name: str, taken: set[str]) -> str:
    """`name`, or the first of `name_2`, `name_3`, ... not in `taken` (which gains it): the one rule that keeps a
    derived name apart from a user's columns."""
    unique, n = name, 2
    while unique in taken:
        unique, n = f"{name}_{n}", n + 1
    taken.add(unique)
    return unique


def indicator_names(normalizer: Any) -> dict[str, str]:
    """Each imputed numeric column's missing-indicator column in the normalized splits (`age` → `age_missing`), by
    `free_name` beside the features (a user's own `age_missing` keeps its name; the indicator takes `_2`)."""
    taken = set(normalizer.features)
    return {spec["name"]: free_name(spec["name"] + MISSING_SUFFIX, taken)
            for spec in normalizer.numeric if spec["impute"] is not None}


def numeric_z(values: np.ndarray, spec: dict) -> tuple[np.ndarray, np.ndarray]:
    """One numeric column (float64, NaN = missing) → (z as float32, missing flags): the gaps filled with the
    column's imputation value first (they stay NaN when the column has none), standardized and clipped to ±Z_BOUND
    in float64."""
    missing = np.isnan(values)
    filled = np.where(missing, spec["impute"], values) if spec["impute"] is not None and missing.any() else values
    return bounded_z(filled, spec["mean"], spec["std"], np.clip).astype(np.float32), missing


def category_codes(values: np.ndarray, vocabulary: list[str]) -> np.ndarray:
    """Python str / None values → slot index: the value's place in the vocabulary, len(vocabulary) for an unseen
    value, len(vocabulary) + 1 for a missing one."""
    values = np.asarray(values, dtype=object)
    codes = np.full(len(values), unseen_slot(len(vocabulary)), dtype=np.int32)
    for index, value in enumerate(vocabulary):
        codes[values == value] = index
    codes[np.equal(values, None)] = missing_slot(len(vocabulary))
    return codes


def category_codes_arrow(values: "pa.Array | pa.ChunkedArray", vocabulary: list[str]) -> np.ndarray:
    """`category_codes` on an Arrow string column, vectorized (a hash lookup per value, no Python loop)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_dictionary(values.type) and isinstance(values, pa.Array):  # the distinct values looked up once
        distinct = category_codes_arrow(values.dictionary, vocabulary)
        codes = distinct[values.indices.fill_null(0).to_numpy(zero_copy_only=False)] if len(distinct) else \
            np.full(len(values), missing_slot(len(vocabulary)), np.int32)
        codes[values.is_null().to_numpy(zero_copy_only=False)] = missing_slot(len(vocabulary))
        return codes
    index = pc.index_in(values, value_set=pa.array(vocabulary, pa.string()))  # null for missing and unseen
    codes = pc.fill_null(index, unseen_slot(len(vocabulary))).to_numpy(zero_copy_only=False).astype(np.int32)
    codes[values.is_null().to_numpy(zero_copy_only=False)] = missing_slot(len(vocabulary))
    return codes


def one_hot(codes: np.ndarray, slots: int, flag_type: type = np.float32) -> list[np.ndarray]:
    """Slot codes → `slots` columns of 0/1 (float32, or `flag_type`)."""
    return [(codes == slot).astype(flag_type, copy=False) for slot in range(slots)]


def expand(z: list[np.ndarray], missing: list[np.ndarray], codes: list[np.ndarray], normalizer: Any,
           flag_type: type = np.float32) -> list[np.ndarray]:
    """Per-column parts (z and missing flags of each numeric feature, slot codes of each categorical one) →
    the model's input columns in `input_names` order: z and z² float32, the 0/1 inputs (missing indicators, one-hot
    slots; `flag_inputs`) float32 or `flag_type` (the engineered files store them as booleans, a bit a row)."""
    columns = [*z, *(column * column for column in z)]
    columns += [flags.astype(flag_type, copy=False) for flags, spec in zip(missing, normalizer.numeric)
                if spec["impute"] is not None]
    for column, spec in zip(codes, normalizer.categorical):
        size = len(spec["vocabulary"])
        columns += one_hot(active_codes(np.asarray(column), size, missing_trained(spec), np.where), slot_count(size),
                           flag_type)
    return columns


def flag_inputs(normalizer: Any) -> list[str]:
    """The model's 0/1 inputs (missing indicators, one-hot slots): every input after the z and z² columns."""
    return input_names(normalizer)[2 * len(normalizer.numeric):]


def encode(columns: dict[str, np.ndarray], normalizer: Any) -> np.ndarray:
    """The reference definition: raw columns (numeric float64 with NaN for missing; categorical Python str / None)
    → model inputs, float32 rows × inputs. The data stages and the SavedModel reproduce exactly this."""
    parts = [numeric_z(np.asarray(columns[spec["name"]], dtype=np.float64), spec) for spec in normalizer.numeric]
    codes = [category_codes(columns[spec["name"]], spec["vocabulary"]) for spec in normalizer.categorical]
    inputs = expand([z for z, _ in parts], [flags for _, flags in parts], codes, normalizer)
    rows = len(next(iter(columns.values()))) if columns else 0
    return np.stack(inputs, axis=1) if inputs else np.empty((rows, 0), np.float32)
