"""The one rule for a text cell, used by the data stages, the label, `predict` and (as `tf.strings` ops) the
SavedModel: trimmed of ASCII and Unicode whitespace, missing tokens as missing, booleans in one spelling; and the
column-type predicates the rule and the profiler share."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

# Cells that mean "no value" in exports (pandas' and R's defaults, plus `?` and `-`); whitespace-only cells too.
MISSING_TOKENS = ("", "NA", "N/A", "n/a", "NaN", "nan", "?", "-", "null", "NULL", "None", "#N/A")
# What a cell is trimmed of at both ends: ASCII and Unicode whitespace (no-break and typographic spaces, line and
# paragraph separators, ideographic space) and the byte-order mark. Written out, so the Arrow trim, Python's and
# the SavedModel's regular expression trim exactly the same characters.
WHITESPACE = (" \t\n\r\x0b\x0c\x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
              "\u200a\u2028\u2029\u202f\u205f\u3000\ufeff")
BOOLEAN_WORDS = ("true", "false")  # a cell whose lower case is one of these is that boolean: True, TRUE, JSON true


DICTIONARY_AT = 4096  # text cells from which `canonical_text` works on distinct values (fewer: cell by cell)


# ---------------------------------------------------------------- canonical cells


def canonical_text(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """A column as categorical text (the contract's canonical form): text trimmed of WHITESPACE, a boolean word in
    any case as "true"/"false", integers as decimal text, booleans as "true"/"false"; blank and missing-token cells
    null. The one rule of a text cell, used by the data stages, the label (`labels.label_cells`), the serving side
    (`eagergraph.core.serving_inputs`) and, written in `tf.strings` ops, the SavedModel (`core.export`)."""
    if pa.types.is_dictionary(values.type):  # the rule on each distinct value once; every cell takes its value's
        if isinstance(values, pa.ChunkedArray):
            return pa.chunked_array([canonical_text(chunk) for chunk in values.chunks], pa.string())
        return canonical_text(values.dictionary).take(values.indices)
    if not is_text(values.type):
        return pc.cast(values, pa.string())
    if isinstance(values, pa.Array) and len(values) >= DICTIONARY_AT:
        encoded = pc.dictionary_encode(values)  # a categorical column's few values: one hash per cell, then the
        if len(encoded.dictionary) * 4 <= len(values):  # string kernels on the distinct values only
            return canonical_text(encoded)
    trimmed = pc.utf8_trim(values.cast(pa.string()), characters=WHITESPACE)
    lower = pc.utf8_lower(trimmed)
    cleaned = pc.if_else(pc.is_in(lower, value_set=pa.array(BOOLEAN_WORDS)), lower, trimmed)
    return pc.if_else(pc.is_in(trimmed, value_set=pa.array(MISSING_TOKENS)), pa.scalar(None, pa.string()), cleaned)


def canonical_dictionary(values: pa.DictionaryArray) -> pa.DictionaryArray:
    """`canonical_text` of a dictionary column, kept a dictionary column: the rule runs on each distinct value once,
    values that became equal share one entry, and a cell whose value became missing is null (the dictionary holds
    no null). Counting its values is then a count per index (`np.bincount`), never a hash per cell."""
    cleaned = pc.dictionary_encode(canonical_text(values.dictionary))  # nulls stay null indices
    indices = cleaned.indices.take(values.indices) if len(cleaned) else pa.nulls(len(values), pa.int32())
    return pa.DictionaryArray.from_arrays(indices, cleaned.dictionary)


def canonical_cell(value: object) -> str | None:
    """One cell by the rule of `canonical_text` (None: missing), for a value given alone (`predict --row`)."""
    return canonical_text(pa.array([value])).to_pylist()[0]


def as_numbers(values: pa.Array) -> pa.Array:
    """A numeric (or number-text) column as float64 with NaN for every missing cell."""
    if is_text(values.type):
        values = canonical_text(values)
    numbers = values if values.type == pa.float64() else pc.cast(values, pa.float64())
    return pc.fill_null(numbers, float("nan")) if numbers.null_count else numbers


def is_text(kind: pa.DataType) -> bool:
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    return pa.types.is_string(kind) or pa.types.is_large_string(kind)


def is_number(kind: pa.DataType) -> bool:
    return pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind)
