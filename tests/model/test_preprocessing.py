"""The preprocessing is defined once: the stages' files, the SavedModel and the numpy path agree."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from eagergraph.core.export import export_model, load_serving
from eagergraph.core.sources import load_xy, open_source
from eagergraph.core.training import train_from
from eagergraph.data.ingest import ingest_to
from eagergraph.data.io import feature_matrix
from eagergraph.data.normalize import Normalizer
from eagergraph.data.preprocessing import preprocess
from eagergraph.rundir.paths import RunPaths
from runs import engineer_run, normalize_run


def _run_dir(tmp_path: Path) -> RunPaths:
    paths = RunPaths.of(tmp_path)
    ingest_to(paths.raw, None, "label", None, 600, 4, 1)
    normalize_run(tmp_path, 0.25, seed=1)
    engineer_run(tmp_path)
    return paths


def test_exported_model_on_raw_test_split_equals_keras_model_on_features(tmp_path: Path) -> None:
    paths = _run_dir(tmp_path)
    source = open_source(paths.features("train"), 32, 3, in_memory_rows=10**6)
    model, _ = train_from(source, "graph", "fused", epochs=2, hidden=8, learning_rate=0.01, seed=3)
    normalizer = Normalizer.load(paths.normalizer)
    export_model(model, normalizer, tmp_path / "exported")
    raw = feature_matrix(pq.read_table(paths.test_raw), normalizer.features)
    served = load_serving(tmp_path / "exported")(raw)
    features, _ = load_xy(paths.features("test"))
    keras_probability = model(features, training=False).numpy()
    assert served.shape == (normalizer.test_rows, 1) and normalizer.test_rows > 100  # about 25 % of 600 rows
    assert 0.01 < float(served.std())  # real, varied probabilities
    np.testing.assert_allclose(served, keras_probability, atol=1e-6, rtol=0)


def test_numpy_preprocessing_reproduces_the_stages_files(tmp_path: Path) -> None:
    paths = _run_dir(tmp_path)
    normalizer = Normalizer.load(paths.normalizer)
    raw = feature_matrix(pq.read_table(paths.test_raw), normalizer.features)
    inputs = preprocess(raw, np.asarray(normalizer.mean), np.asarray(normalizer.std),
                        partial(np.concatenate, axis=1), lambda z: z.astype(np.float32), np.clip)
    features, _ = load_xy(paths.features("test"))
    assert inputs.shape == features.shape == (normalizer.test_rows, 8) and normalizer.test_rows > 100
    np.testing.assert_array_equal(inputs, features)
