"""Data stages + SavedModel: the exported model on the raw test split equals Keras on features/test."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from eagergraph.core.export import export_model, load_serving
from eagergraph.core.sources import load_xy, open_source
from eagergraph.core.training import train_from
from eagergraph.data.ingest import ingest_to
from eagergraph.data.normalize import Normalizer
from eagergraph.data.preprocessing import Z_BOUND, destandardize
from eagergraph.rundir.paths import RunPaths
from runs import engineer_run, normalize_run


def _mixed_csv(path: Path, rows: int = 400) -> Path:
    rng = np.random.default_rng(5)
    lines = ["age,fare,sex,port,pclass,alone,survived"]
    for i in range(rows):
        age = " " if i % 9 == 0 else ("NA" if i % 13 == 0 else f"{rng.uniform(1, 80):.1f}")
        sex = rng.choice(["male", "female"])
        port = "" if i % 17 == 0 else rng.choice(["S", "C", "Q", "Southampton, UK"])
        alone = rng.choice(["true", "false"])
        label = int((sex == "female") ^ (rng.random() < 0.2))
        lines.append(f'{age},{rng.uniform(5, 300):.2f},{sex},"{port}",{rng.integers(1, 4)},{alone},{label}')
    path.write_text("\n".join(lines) + "\n")
    return path


def test_exported_model_on_raw_categorical_and_imputed_columns_equals_keras_on_features(tmp_path: Path) -> None:
    paths = RunPaths.of(tmp_path)
    ingest_to(paths.raw, _mixed_csv(tmp_path / "people.csv"), "survived", None, 0, 0, 1, categorical=["pclass"],
              impute="median")
    normalize_run(tmp_path, 0.25, seed=1)
    engineer_run(tmp_path)
    normalizer = Normalizer.load(paths.normalizer)
    assert {c["name"] for c in normalizer.categorical} >= {"sex", "port", "pclass"}
    assert [c["name"] for c in normalizer.numeric if c["impute"] is not None] == ["age"]
    source = open_source(paths.features("train"), 32, 3, in_memory_rows=10**6)
    model, _ = train_from(source, "graph", "fused", epochs=2, hidden=8, learning_rate=0.01, seed=3)
    export_model(model, normalizer, tmp_path / "exported")
    served = load_serving(tmp_path / "exported")(pq.read_table(paths.test_raw))
    features, _ = load_xy(paths.features("test"))
    np.testing.assert_allclose(served, model(features, training=False).numpy(), atol=1e-6, rtol=0)


def test_outliers_are_clipped_alike_in_the_stages_files_and_inside_the_saved_model(tmp_path: Path) -> None:
    # A heavy-tailed column (one row in 20 a thousand times the rest): its z is clipped to ±Z_BOUND before it is
    # used and squared, in the engineered files and in the SavedModel, which then agree to float rounding.
    paths = RunPaths.of(tmp_path)
    rng = np.random.default_rng(8)
    n = 400
    carat = np.where(np.arange(n) % 20 == 0, rng.uniform(500, 5000, n), rng.uniform(0.2, 3.0, n))
    depth = rng.normal(60, 2, n)
    price = 1000 * np.minimum(carat, 3.0) + 10 * depth + rng.normal(0, 50, n)
    pacsv.write_csv(pa.table({"carat": carat, "depth": depth, "price": price}), tmp_path / "gems.csv")
    ingest_to(paths.raw, tmp_path / "gems.csv", "price", None, 0, 0, 1)
    normalize_run(tmp_path, 0.25, seed=1)
    engineer_run(tmp_path)
    normalizer = Normalizer.load(paths.normalizer)
    train = pq.read_table(paths.features("train"))
    assert float(np.max(train.column("carat").to_numpy())) == Z_BOUND  # the outliers sit at the bound
    assert float(np.max(train.column("carat_sq").to_numpy())) == Z_BOUND**2
    source = open_source(paths.features("train"), 32, 3, in_memory_rows=10**6)
    model, _ = train_from(source, "graph", "fused", epochs=2, hidden=8, learning_rate=0.01, seed=3, task="regression")
    export_model(model, normalizer, tmp_path / "exported")
    serve = load_serving(tmp_path / "exported")
    features, _ = load_xy(paths.features("test"))
    keras_value = destandardize(model(features, training=False).numpy().astype(np.float64), normalizer.target["mean"],
                                normalizer.target["std"])
    np.testing.assert_allclose(serve(pq.read_table(paths.test_raw)), keras_value, rtol=1e-6)
    # Far beyond the bound, any value is the bound: 1e4 and 1e12 carats answer alike (unclipped, 1e12 would not).
    far = serve({"carat": np.array([1e4, 1e12]), "depth": np.array([60.0, 60.0])})
    assert far[0, 0] == far[1, 0] and np.isfinite(far).all()
