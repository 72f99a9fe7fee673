"""`eagergraph predict` on raw columns, text included, against a SavedModel reloaded from disk."""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import pyarrow.parquet as pq
import pytest

from conftest import run_cli
from eagergraph.core.export import export_model
from serving_reference import N_INPUTS, NORMALIZER, reference_encode, tiny_model


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, keras.Model]:
    """A run directory as training leaves it, for predict: normalizer.json and models/graph, from a hand-made
    normalizer and a tiny model trained a little on random inputs (no Prefect needed)."""
    run = tmp_path_factory.mktemp("run")
    (run / "normalizer.json").write_text(json.dumps(NORMALIZER))
    model = tiny_model(N_INPUTS)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy")
    rng = np.random.default_rng(3)
    x = rng.normal(size=(256, N_INPUTS)).astype(np.float32)
    model.fit(x, (x[:, 0] + x[:, 6] > 0).astype(np.float32), epochs=2, batch_size=32, verbose=0)
    export_model(model, NORMALIZER, run / "models" / "graph")
    return run, model


def expected(model: keras.Model, **columns: list) -> np.ndarray:
    """Keras on the reference encoding of raw cells (numbers with None for missing, text with None)."""
    numeric = {"age", "fare"}
    cells = {name: np.array([np.nan if v is None else v for v in values], dtype=np.float64) if name in numeric
             else np.array(values, dtype=object) for name, values in columns.items()}
    return model(reference_encode(cells, NORMALIZER), training=False).numpy().reshape(-1)


def test_row_with_quoted_text_is_predicted_by_the_saved_model(run_dir: tuple[Path, keras.Model], tmp_path: Path) -> None:
    run, model = run_dir
    done = run_cli("predict", str(run), "--row", '22, 7.25,male,"Paris, TX",3,true', cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    want = expected(model, age=[22.0], fare=[7.25], sex=["male"], **{"home town": ["Paris, TX"]}, pclass=["3"], alone=["true"])
    assert abs(answer["probability"] - float(want[0])) <= 1e-6
    assert answer["predicted"] == ("yes" if answer["probability"] > 0.5 else "no") and answer["unseen"] == {}


def test_row_json_by_name_with_gaps_and_unseen_values(run_dir: tuple[Path, keras.Model], tmp_path: Path) -> None:
    """age (imputed) and home town are absent: missing cells; sex 'other' is not in the vocabulary."""
    run, model = run_dir
    done = run_cli("predict", str(run), "--row-json", '{"sex": "other", "fare": 71.3, "pclass": 1, "alone": false}', cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    want = expected(model, age=[None], fare=[71.3], sex=["other"], **{"home town": [None]}, pclass=["1"], alone=["false"])
    assert abs(answer["probability"] - float(want[0])) <= 1e-6
    assert answer["unseen"] == {"sex": 1}


def test_input_file_with_blank_cells_and_text_columns(run_dir: tuple[Path, keras.Model], tmp_path: Path) -> None:
    run, model = run_dir
    source = tmp_path / "people.csv"
    source.write_text("id,age,fare,sex,home town,pclass,alone\n"
                      '1,22,7.25,male,"Paris, TX",3,true\n'
                      "2, ,71.3,female,Oslo,1,false\n"  # a whitespace-only age: imputed
                      "3,NA,8.05, female ,,3,\n"  # a missing token; blank text cells
                      "4,35,,male,Lima,2,true\n"  # no fare: the model does not impute it
                      "5,60,13,other,Quito,7,false\n")  # three values the model never saw
    out = tmp_path / "scored.parquet"
    done = run_cli("predict", str(run), "--input", str(source), "--output", str(out), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "1 rows with missing, NaN or infinite values (fare: 1) have an empty prediction" in done.stdout
    assert "3 values not in the model's vocabulary contribute nothing (unseen) (sex: 1, home town: 1, pclass: 1)" in done.stdout
    scored = pq.read_table(out)
    assert scored.column("id").to_pylist() == [1, 2, 3, 4, 5]
    probability = np.array(scored.column("probability").to_pylist(), dtype=np.float64)
    want = expected(model, age=[22.0, None, None, 60.0], fare=[7.25, 71.3, 8.05, 13.0], sex=["male", "female", "female", "other"],
                    **{"home town": ["Paris, TX", "Oslo", None, "Quito"]}, pclass=["3", "1", "3", "7"],
                    alone=["true", "false", None, "false"])
    assert np.isnan(probability[3])
    np.testing.assert_allclose(probability[[0, 1, 2, 4]], want, atol=1e-6, rtol=0)


def test_text_given_for_a_number_names_the_column(run_dir: tuple[Path, keras.Model], tmp_path: Path) -> None:
    run, _ = run_dir
    done = run_cli("predict", str(run), "--row-json", '{"fare": "cheap", "sex": "male"}', cwd=tmp_path)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip().splitlines() == ["eagergraph: error: --row-json: 'cheap' is not a number: 'fare'"]


def test_an_unknown_feature_and_a_model_without_its_facts_are_one_line_each(run_dir: tuple[Path, keras.Model],
                                                                             tmp_path: Path) -> None:
    """Two lines troubleshooting quotes: a --row-json key the model has no feature for, and a SavedModel whose
    eagergraph facts (assets.extra/eagergraph.json) were removed."""
    import shutil

    run, _ = run_dir
    done = run_cli("predict", str(run), "--row-json", '{"agee": 22, "sex": "male"}', cwd=tmp_path)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("eagergraph: error: --row-json: unknown feature(s) 'agee'; ")
    bare = tmp_path / "bare"
    shutil.copytree(run / "models" / "graph", bare)
    (bare / "assets.extra" / "eagergraph.json").unlink()
    done = run_cli("predict", str(bare), "--row", "1", cwd=tmp_path)
    assert done.returncode == 2 and done.stderr.strip().splitlines() == [
        f"eagergraph: error: {bare}: no assets.extra/eagergraph.json; was this SavedModel exported by eagergraph?"]
