"""Stage 3, engineer-features: the normalized splits expanded into the model's inputs (`preprocessing.expand`):
z and z² of every numeric feature, a missing indicator per imputed one, one-hot slots per categorical one."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pyarrow as pa

from eagergraph.data.io import LABEL, iter_batches, write_batches
from eagergraph.data.normalize import Normalizer, label_field
from eagergraph.data.preprocessing import expand, indicator_names, input_names


def model_inputs(batch: pa.RecordBatch, normalizer: Normalizer) -> pa.RecordBatch:
    """One normalized block → the model's input columns (float32, `input_names` order), then the label."""
    z = [batch.column(s["name"]).to_numpy(zero_copy_only=False) for s in normalizer.numeric]
    indicators = indicator_names(normalizer)
    missing = [batch.column(indicators[s["name"]]).to_numpy(zero_copy_only=False) if s["name"] in indicators else None
               for s in normalizer.numeric]
    codes = [batch.column(s["name"]).to_numpy(zero_copy_only=False) for s in normalizer.categorical]
    columns = expand(z, missing, codes, normalizer)
    return pa.RecordBatch.from_arrays([*(pa.array(np.asarray(c, dtype=np.float32)) for c in columns), batch.column(LABEL)],
                                      names=[*input_names(normalizer), LABEL])


def engineer_to(normalizer_file: Path, splits: dict[str, tuple[Path, Path]]) -> dict:
    """Stage logic: write each split's model inputs (`splits`: name → (normalized file, features file)), streaming."""
    started = time.perf_counter()
    normalizer = Normalizer.load(normalizer_file)
    names = input_names(normalizer)
    schema = pa.schema([*(pa.field(n, pa.float32()) for n in names), label_field(normalizer.task)])
    rows = 0
    for source, target in splits.values():
        rows += write_batches(target, schema, (model_inputs(b, normalizer) for b in iter_batches(source)))
    seconds = time.perf_counter() - started
    return {"columns": names, "seconds": seconds, "rows_per_second": rows / max(seconds, 1e-9)}
