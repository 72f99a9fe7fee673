"""Every tabular task through the CLI as a user runs it (issue 17): a three-class table (penguins) and a numeric
target (auto-mpg), both public tables committed under benchmarks/data, each trained end to end with no change to
the data, then predicted from the reloaded SavedModel."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from conftest import run_cli

DATA = Path(__file__).resolve().parents[2] / "benchmarks" / "data"
PREFIX = "eagergraph: error: "


def _run(tmp_path_factory: pytest.TempPathFactory, name: str, *args: str) -> tuple[str, Path]:
    artifacts = tmp_path_factory.mktemp(name)
    done = run_cli("run", *args, "--drop-invalid", "--artifacts", str(artifacts), cwd=artifacts)
    assert done.returncode == 0, done.stderr[-3000:]
    run_dir = Path(re.search(r"run directory: (\S+)", done.stdout).group(1))
    return " ".join(done.stdout.split()), run_dir  # the terminal's lines unwrapped


@pytest.fixture(scope="module")
def penguins(prefect_api: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    return _run(tmp_path_factory, "penguins", "--data", str(DATA / "penguins.csv"), "--label", "species", "--epochs", "5")


@pytest.fixture(scope="module")
def auto_mpg(prefect_api: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    return _run(tmp_path_factory, "auto-mpg", "--data", str(DATA / "auto-mpg.csv"), "--label", "mpg", "--epochs", "8")


def test_a_three_class_table_trains_as_multiclass(penguins: tuple[str, Path]) -> None:
    terminal, run_dir = penguins
    assert "task: multiclass (label 'species' has 3 classes: Adelie, Chinstrap, Gentoo); choose with --task" in terminal
    assert "positive class" not in terminal
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["task"] == "multiclass" and metrics["classes"] == ["Adelie", "Chinstrap", "Gentoo"]
    for mode in ("eager", "graph"):
        scores = metrics[mode]
        assert {"accuracy", "macro_f1", "macro_auc", "loss", "confusion_matrix", "train_seconds"} <= set(scores)
        assert "auc" not in scores and "precision" not in scores
        matrix = np.array(scores["confusion_matrix"])
        assert matrix.shape == (3, 3) and matrix.sum() == metrics["test_rows"]
        assert scores["accuracy"] == pytest.approx(np.trace(matrix) / matrix.sum())
        assert f"{scores['macro_auc']:.4f}" in terminal
    predictions = pq.read_table(run_dir / "predictions.parquet").to_pydict()
    p = np.column_stack([predictions[f"probability_{c}"] for c in metrics["classes"]])
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-5)
    assert predictions["predicted"] == [metrics["classes"][i] for i in p.argmax(axis=1)]
    assert set(predictions["label"]) == set(metrics["classes"])


def test_predict_on_the_reloaded_multiclass_model_gives_every_class_probability(penguins: tuple[str, Path], tmp_path: Path) -> None:
    _, run_dir = penguins
    row = {"island": "Biscoe", "bill_length_mm": 47.5, "bill_depth_mm": 14.9, "flipper_length_mm": 220,
           "body_mass_g": 5300, "sex": "male", "year": 2008}
    done = run_cli("predict", str(run_dir), "--row-json", json.dumps(row))
    assert done.returncode == 0, done.stderr
    said = json.loads(done.stdout)
    assert set(said["probabilities"]) == {"Adelie", "Chinstrap", "Gentoo"}
    assert sum(said["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
    assert said["predicted"] == max(said["probabilities"], key=said["probabilities"].get)
    assert said["probability"] == said["probabilities"][said["predicted"]]
    output = tmp_path / "penguins.predictions.parquet"
    done = run_cli("predict", str(run_dir), "--input", str(DATA / "penguins.csv"), "--output", str(output))
    assert done.returncode == 0, done.stderr
    assert "every class's probability" in done.stdout
    written = pq.read_table(output)
    assert {"predicted", "probability", "probability_Adelie", "probability_Chinstrap", "probability_Gentoo"} <= set(written.column_names)


def test_a_numeric_target_trains_as_regression_in_its_own_units(auto_mpg: tuple[str, Path]) -> None:
    terminal, run_dir = auto_mpg
    assert "task: regression (label 'mpg' holds numbers with fractions); choose with --task" in terminal
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["task"] == "regression"
    for mode in ("eager", "graph"):
        scores = metrics[mode]
        assert {"rmse", "mae", "r2", "baseline_rmse", "train_seconds"} <= set(scores) and "accuracy" not in scores
        assert scores["rmse"] < scores["baseline_rmse"]  # learned more than the training mean
        assert all(set(entry) == {"epoch", "loss", "val_loss"} for entry in scores["history"])  # no accuracy
        assert f"{scores['rmse']:.4f}" in terminal
    predictions = pq.read_table(run_dir / "predictions.parquet").to_pydict()
    error = np.array(predictions["predicted"]) - np.array(predictions["label"])
    assert float(np.sqrt(np.mean(error**2))) == pytest.approx(metrics["graph"]["rmse"], rel=1e-6)


def test_predict_on_the_reloaded_regression_model_gives_the_value(auto_mpg: tuple[str, Path], tmp_path: Path) -> None:
    _, run_dir = auto_mpg
    test_rows = pq.read_table(run_dir / "predictions.parquet")
    source = tmp_path / "rows.parquet"
    pq.write_table(test_rows.drop_columns(["predicted", "label"]), source)
    done = run_cli("predict", str(run_dir), "--input", str(source))
    assert done.returncode == 0, done.stderr
    assert "the value in the target's units" in done.stdout
    again = pq.read_table(tmp_path / "rows.predictions.parquet").column("predicted").to_numpy()
    np.testing.assert_allclose(again, test_rows.column("predicted").to_numpy(), rtol=1e-6)
    first = test_rows.slice(0, 1).to_pylist()[0]
    features = ["cylinders", "displacement", "horsepower", "weight", "acceleration", "model_year", "origin"]
    done = run_cli("predict", str(run_dir), "--row", ",".join(str(first[f]) for f in features))
    assert done.returncode == 0, done.stderr
    said = json.loads(done.stdout)
    assert said["task"] == "regression" and said["predicted"] == pytest.approx(first["predicted"], rel=1e-6)


@pytest.mark.parametrize("args, message", [
    (("--label", "species", "--positive-class", "Adelie"),
     "--positive-class is for binary labels; label column 'species' is a multiclass task"),
    (("--label", "species", "--task", "binary"),
     "--task binary needs two label values; label column 'species' has 3 ('Adelie', 'Chinstrap', 'Gentoo');"),
    (("--label", "species", "--task", "regression"), "--task regression needs a numeric label"),
])
def test_task_bad_input_is_one_line_and_writes_nothing(prefect_api: str, tmp_path: Path, args: tuple, message: str) -> None:
    done = run_cli("run", "--data", str(DATA / "penguins.csv"), "--drop-invalid", *args, "--artifacts", str(tmp_path / "a"),
                   cwd=tmp_path)
    lines = done.stderr.splitlines()
    assert done.returncode == 2 and len(lines) == 1 and lines[0].startswith(PREFIX), done.stderr[-2000:]
    assert message in lines[0]
    assert not any(path.name == "raw.parquet" for path in tmp_path.rglob("*"))
