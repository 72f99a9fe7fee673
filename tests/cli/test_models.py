"""One production model per model name (issue 17): two datasets trained into one artifacts folder keep two
productions; `runs`, `promote`, `rollback` and `predict` act on one model, through the real CLI.

History, in order: alpha → beta (other features) → alpha again.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import run_cli
from eagergraph.data.synthetic import synthetic_batches
from eagergraph.registry.registry import productions, read_registry
from eagergraph.rundir.paths import PRODUCTION, completed_runs

SETTINGS = dict(epochs=1, rows=400, modes="graph", graph_variant="step", gate_tolerance=1.0)


def _write(path: Path, n_features: int, seed: int) -> Path:
    pq.write_table(pa.Table.from_batches(list(synthetic_batches(400, n_features, seed))), path)
    return path


def _run(artifacts: Path, data: Path) -> dict:
    from eagergraph.config import PipelineConfig
    from eagergraph.flows.pipeline import training_pipeline

    return training_pipeline(PipelineConfig(artifacts=artifacts, data=data, **SETTINGS))


@pytest.fixture(scope="module")
def models(prefect_api: str, tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("models")
    artifacts = root / "artifacts"
    alpha, beta = _write(root / "alpha.parquet", 4, 1), _write(root / "beta.parquet", 3, 2)
    runs = {"a1": _run(artifacts, alpha), "b1": _run(artifacts, beta), "a2": _run(artifacts, alpha)}
    return {"artifacts": artifacts, **{key: Path(run["run_dir"]) for key, run in runs.items()}, "results": runs}


def test_two_datasets_keep_two_productions(models: dict) -> None:
    artifacts, a1, b1, a2 = models["artifacts"], models["a1"], models["b1"], models["a2"]
    assert productions(artifacts) == {"alpha": a2, "beta": b1}
    beta = models["results"]["b1"]
    assert beta["promoted"] and "first run" in beta["reason"]  # not judged against alpha's model
    assert beta["metrics"]["data_check"]["status"] == "no-reference"  # nor its data checked against alpha's
    assert models["results"]["a2"]["metrics"]["data_check"]["status"] == "ok"
    assert "not worse than production" in models["results"]["a2"]["reason"]  # judged against alpha's own
    for run, name in ((a1, "alpha"), (b1, "beta"), (a2, "alpha")):
        assert json.loads((run / "manifest.json").read_text())["model_name"] == name
        assert json.loads((run / "metrics.json").read_text())["model_name"] == name
    assert [(e["run"], e["model_name"]) for e in read_registry(artifacts)] == [(a1.name, "alpha"), (b1.name, "beta"),
                                                                             (a2.name, "alpha")]


def test_runs_shows_and_filters_by_model_name(models: dict) -> None:
    artifacts = models["artifacts"]
    listed = run_cli("runs", "--artifacts", str(artifacts), "--model-name", "alpha", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout.strip().splitlines()[-1])
    assert [(r["run"], r["model_name"], r["production"]) for r in rows] == [(models["a2"].name, "alpha", True),
                                                                            (models["a1"].name, "alpha", False)]
    table = run_cli("runs", "--artifacts", str(artifacts))
    assert table.returncode == 0 and "model" in table.stdout and "beta" in table.stdout, table.stdout
    assert re.search(r"\bauc 0\.\d{4}\b", table.stdout) and max(map(len, table.stdout.splitlines())) <= 120
    wide = run_cli("runs", "--artifacts", str(artifacts), "--wide")
    assert wide.returncode == 0 and "AUC" in wide.stdout and "precision" in wide.stdout, wide.stdout


def test_rollback_and_promote_act_on_one_model(models: dict) -> None:
    artifacts, a1, b1, a2 = models["artifacts"], models["a1"], models["b1"], models["a2"]
    unnamed = run_cli("rollback", "--artifacts", str(artifacts))
    assert unnamed.returncode == 2 and unnamed.stderr.strip().splitlines() == [
        f"eagergraph: error: {artifacts}: 2 production models (alpha, beta); name one with --model-name"]
    back = run_cli("rollback", "--artifacts", str(artifacts), "--model-name", "alpha", "--json")
    assert back.returncode == 0, back.stderr
    assert json.loads(back.stdout.strip().splitlines()[-1])["model_name"] == "alpha"
    assert productions(artifacts) == {"alpha": a1, "beta": b1}
    forward = run_cli("promote", str(a2), "--artifacts", str(artifacts))
    assert forward.returncode == 0 and "production of alpha" in forward.stdout, forward.stderr
    assert productions(artifacts) == {"alpha": a2, "beta": b1}
    nothing = run_cli("rollback", "--artifacts", str(artifacts), "--model-name", "beta")
    assert nothing.returncode == 2 and "no earlier production run" in nothing.stderr


def test_predict_takes_one_models_production(models: dict) -> None:
    production = models["artifacts"] / PRODUCTION
    both = run_cli("predict", str(production), "--row", "1,2,3")
    assert both.returncode == 2 and both.stderr.strip().splitlines() == [
        f"eagergraph: error: {production}: holds 2 production models (alpha, beta); name one: {production}/NAME"]
    served = run_cli("predict", str(production / "beta"), "--row", "1,2,3")
    assert served.returncode == 0, served.stderr
    assert 0.0 <= json.loads(served.stdout)["probability"] <= 1.0


def test_a_model_name_that_cannot_be_a_folder_or_a_gate_of_another_task_is_refused(models: dict) -> None:
    before = completed_runs(models["artifacts"])
    done = run_cli("run", "--model-name", "../up", "--artifacts", str(models["artifacts"]))
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    assert "--model-name" in done.stderr and "'../up'" in done.stderr
    for option in (["--gate-metric", "rmse"], ["--min-r2", "0.5"]):  # a binary table: refused before training
        wrong = run_cli("run", "--rows", "200", "--artifacts", str(models["artifacts"]), *option)
        assert wrong.returncode == 2 and len(wrong.stderr.strip().splitlines()) == 1, wrong.stderr[-2000:]
        assert "binary model" in wrong.stderr and "Training trace" not in wrong.stdout
    assert completed_runs(models["artifacts"]) == before
