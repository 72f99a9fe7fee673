"""Issue 17, registry side: the gate per task and direction, one production per model name (old layout read and
migrated), retention keeping every model's production and rollback target. Plain files, no Prefect, no TensorFlow."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from eagergraph.config import build_config
from eagergraph.errors import ConfigError, DataError, RegistryError
from eagergraph.metrics import GATE_DEFAULT, metrics_for
from eagergraph.registry.gate import check_rules, decide, rules_of
from eagergraph.registry.history import run_rows
from eagergraph.registry.registry import production_run, productions, promote, read_registry, record, rollback
from eagergraph.registry.retention import plan
from eagergraph.rundir.model_names import default_model_name
from eagergraph.rundir.paths import PRODUCTION, resolve_model

REGRESSION = {"rmse": 2.9, "mae": 2.1, "r2": 0.8, "baseline_rmse": 6.0}
MULTICLASS = {"accuracy": 0.9, "macro_f1": 0.88, "macro_auc": 0.97, "loss": 0.3}
BINARY = {"loss": 0.3, "accuracy": 0.9, "auc": 0.95, "precision": 0.9, "recall": 0.9}


def test_a_worse_regression_model_is_refused_by_rmse_lower_being_better() -> None:
    worse = decide({**REGRESSION, "rmse": 3.41}, REGRESSION, rules_of(), task="regression")
    assert not worse["promoted"] and worse["metric"] == "rmse"
    assert worse["reason"].startswith("worse than production: rmse 3.4100 vs production 2.9000 (lower is better; +0.5100")
    better = decide({**REGRESSION, "rmse": 2.5}, REGRESSION, rules_of(), task="regression")
    assert better["promoted"] and "(lower is better; -0.4000" in better["reason"]
    within = decide({**REGRESSION, "rmse": 2.905}, REGRESSION, rules_of(gate_tolerance=0.01), task="regression")
    assert within["promoted"]  # worse by 0.005, within the tolerance in the metric's own direction


def test_each_task_gates_on_its_default_metric_and_any_of_its_catalogue_metrics() -> None:
    verdict = decide({**MULTICLASS, "macro_auc": 0.90}, MULTICLASS, rules_of(), task="multiclass")
    assert verdict["metric"] == GATE_DEFAULT["multiclass"] and not verdict["promoted"]
    assert "(higher is better; -0.0700" in verdict["reason"]
    by_loss = decide({**MULTICLASS, "loss": 0.5}, MULTICLASS, rules_of(gate_metric="loss"), task="multiclass")
    assert not by_loss["promoted"] and "loss 0.5000 vs production 0.3000 (lower is better" in by_loss["reason"]
    assert decide(BINARY, BINARY, rules_of(), task="binary")["metric"] == "auc"
    with pytest.raises(ConfigError, match="--gate-metric auc: not a metric of a regression model .*rmse, mae, r2"):
        check_rules(rules_of(gate_metric="auc"), "regression")


def test_floors_belong_to_their_tasks() -> None:
    refused = decide({**REGRESSION, "r2": 0.4}, None, rules_of(min_r2=0.5), task="regression")
    assert not refused["promoted"] and "r2 0.4000 below min_r2 0.5" in refused["reason"]
    check_rules(rules_of(min_accuracy=0.5), "multiclass")  # accuracy is a classification floor
    with pytest.raises(ConfigError, match="--min-auc does not apply to a regression model \\(its floors: --min-r2\\)"):
        check_rules(rules_of(min_auc=0.5), "regression")
    with pytest.raises(ConfigError, match="--min-r2 does not apply to a binary model"):
        check_rules(rules_of(min_r2=0.5), "binary")


def test_config_checks_the_model_name_and_the_gate_metric() -> None:
    with pytest.raises(ConfigError, match="invalid value for --model-name: 'a/b'"):
        build_config(model_name="a/b")
    with pytest.raises(ConfigError, match="invalid value for --gate-metric: 'f1' \\(not a metric"):
        build_config(gate_metric="f1")
    assert build_config(data="data/penguins.csv").run_model_name == "penguins"
    assert build_config().run_model_name == "synthetic" and build_config(model_name="m.1").run_model_name == "m.1"
    assert default_model_name("some dir/my table.parquet") == "my-table"


@pytest.mark.parametrize(("data", "name"), [
    ("exports/arrests_2026-12-06.csv", "arrests"), ("exports/arrests_2026-12-07.csv", "arrests"),  # daily exports
    ("arrests-20261206T0630.parquet", "arrests"), ("arrests_001.csv", "arrests"), ("sales_2024.csv", "sales"),
    ("exports/arrests/2026-12-06.csv", "arrests"), ("lake/arrests/date=2026-12-06", "arrests"),  # the folder above
    ("lake/arrests/part-00001.parquet", "arrests"), ("credit_v2.csv", "credit_v2"), ("cars2.csv", "cars2"),
    ("train.csv", "train"), (None, "synthetic")])
def test_the_default_model_name_is_one_per_table_not_per_export(data: str | None, name: str) -> None:
    assert default_model_name(data) == name


def test_the_model_name_says_why() -> None:
    assert build_config(data="x/arrests_2026-12-06.csv").model_name_reason == \
        "the data file's name without its dates and numbers (arrests_2026-12-06)"
    assert build_config(data="x/iris.csv").model_name_reason == "the data file's name"
    assert build_config(data="x/iris.csv", model_name="flowers").model_name_reason == "chosen with --model-name"
    from eagergraph.reporting.promotion import model_line

    assert model_line("arrests", "the data file's name") == "model: arrests (the data file's name); choose with --model-name"


def _fake_run(artifacts: Path, name: str, model_name: str | None, task: str = "binary") -> Path:
    run = artifacts / name
    (run / "models" / "graph").mkdir(parents=True)
    (run / "models" / "graph" / "saved_model.pb").write_bytes(b"")
    scored = {"binary": BINARY, "regression": REGRESSION, "multiclass": MULTICLASS}[task]
    (run / "metrics.json").write_text(json.dumps({"task": task, "graph": scored}))
    manifest = {"flow_run_id": "f", "files": [], "config": {"data": f"/data/{model_name or 'old'}.csv"}}
    if model_name:
        manifest["model_name"] = model_name
    (run / "manifest.json").write_text(json.dumps(manifest))
    return run


def _promoted() -> dict:
    return {"promoted": True, "reason": "test", "metric": "auc"}


def test_two_model_names_keep_two_productions_and_roll_back_one(tmp_path: Path) -> None:
    a1, b1, a2 = (_fake_run(tmp_path, f"2026010{i}T000000000000Z-aaaaaa", m) for i, m in ((1, "a"), (2, "b"), (3, "a")))
    for run in (a1, b1, a2):
        record(tmp_path, run, _promoted())
    assert productions(tmp_path) == {"a": a2.resolve(), "b": b1.resolve()}
    assert production_run(tmp_path, "b") == b1.resolve()  # a's later run did not replace b's production
    with pytest.raises(RegistryError, match="2 production models \\(a, b\\); name one with --model-name"):
        rollback(tmp_path)
    entry = rollback(tmp_path, "a")
    assert entry["model_name"] == "a" and entry["production"] == a1.name
    assert productions(tmp_path) == {"a": a1.resolve(), "b": b1.resolve()}
    with pytest.raises(RegistryError, match="no earlier production run"):
        rollback(tmp_path, "b")
    assert {e["model_name"] for e in read_registry(tmp_path)} == {"a", "b"}
    assert resolve_model(tmp_path / PRODUCTION / "b").resolve() == b1.resolve() / "models" / "graph"
    with pytest.raises(DataError, match="holds 2 production models \\(a, b\\)"):
        resolve_model(tmp_path / PRODUCTION)
    assert [r["run"] for r in run_rows(tmp_path, "a")] == [a2.name, a1.name]
    assert {r["model_name"]: r["production"] for r in run_rows(tmp_path, "b")} == {"b": True}


def test_the_old_single_link_is_read_as_its_models_production_and_migrated_on_the_next_write(tmp_path: Path) -> None:
    old = _fake_run(tmp_path, "20260101T000000000000Z-aaaaaa", None)  # before model names: the data's stem
    os.symlink(old.name, tmp_path / PRODUCTION)
    assert productions(tmp_path) == {"old": old.resolve()} and production_run(tmp_path) == old.resolve()
    assert resolve_model(tmp_path / PRODUCTION).resolve() == old.resolve() / "models" / "graph"  # predict still works
    other = _fake_run(tmp_path, "20260102T000000000000Z-aaaaaa", "other", "regression")
    promote(tmp_path, other)
    assert productions(tmp_path) == {"old": old.resolve(), "other": other.resolve()}
    assert os.readlink(tmp_path / PRODUCTION / "old") == f"../{old.name}"
    assert resolve_model(tmp_path / PRODUCTION / "old").resolve() == old.resolve() / "models" / "graph"
    assert read_registry(tmp_path)[-1]["metrics"]["candidate"] == {m.name: REGRESSION[m.name]
                                                                  for m in metrics_for("regression")}


def test_retention_keeps_every_models_production_and_rollback_target(tmp_path: Path) -> None:
    names = [f"2026010{i}T000000000000Z-aaaaaa" for i in range(1, 8)]
    models = ["a", "b", "a", "b", "a", "c", "c"]
    runs = [_fake_run(tmp_path, n, m) for n, m in zip(names, models)]
    for run in runs[:5]:
        record(tmp_path, run, _promoted())
    kept = plan(tmp_path, keep=1).kept
    assert kept == {names[4]: "production of a", names[2]: "previous production of a (rollback target)",
                    names[3]: "production of b", names[1]: "previous production of b (rollback target)"}
    assert [r.name for r in plan(tmp_path, keep=1).runs] == [names[0], names[5]]  # c was never promoted


def test_only_run_directories_are_runs_not_a_nested_artifacts_folder(tmp_path: Path) -> None:
    """`artifacts/messy` (an artifacts folder of its own, with its runs) is not a run named `messy`: `runs` does not
    list it and `gc` does not remove it; neither does a folder named like a run that holds no manifest."""
    own = _fake_run(tmp_path, "20260101T000000000000Z-aaaaaa", "a")
    nested = _fake_run(tmp_path / "messy", "20260102T000000000000Z-bbbbbb", "messy")
    unfinished = tmp_path / "20260103T000000000000Z-cccccc"
    (unfinished / "models").mkdir(parents=True)
    (tmp_path / "notes").mkdir()
    rows = run_rows(tmp_path)
    assert [r["run"] for r in rows] == [own.name]
    assert rows[0]["gate_metric"] == GATE_DEFAULT["binary"]  # no gate recorded: the task's default
    assert plan(tmp_path, keep=0).runs == [own]
    assert [r["run"] for r in run_rows(tmp_path / "messy")] == [nested.name]
