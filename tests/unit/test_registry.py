"""The pure logic of recurring runs: the gate's decision, PSI and the schema check, retention, the registry."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from eagergraph.errors import RegistryError
from eagergraph.registry import drift
from eagergraph.registry.gate import decide, rules_of
from eagergraph.registry.registry import check_run_dir, production_run, production_stack, promote, read_registry, record, rollback
from eagergraph.registry.retention import select_removals

METRICS = {"loss": 0.3, "accuracy": 0.9, "auc": 0.95, "precision": 0.9, "recall": 0.9}


def _with(**changes: float) -> dict[str, float]:
    return {**METRICS, **changes}


def test_first_run_promotes_itself_but_floors_still_apply() -> None:
    assert decide(METRICS, None, rules_of())["promoted"]
    assert "first run" in decide(METRICS, None, rules_of())["reason"]
    refused = decide(_with(auc=0.6), None, rules_of(min_auc=0.7))
    assert not refused["promoted"] and "auc 0.6000 below min_auc 0.7" in refused["reason"]


def test_within_tolerance_promotes_beyond_refuses() -> None:
    rules = rules_of(gate_tolerance=0.01)
    assert decide(_with(auc=0.945), METRICS, rules)["promoted"]  # worse by 0.005 ≤ 0.01
    refused = decide(_with(auc=0.93), METRICS, rules)
    assert not refused["promoted"] and refused["reason"].startswith("worse than production: auc 0.9300 vs production 0.9500")


def test_loss_is_lower_is_better_and_floors_apply_against_production() -> None:
    assert not decide(_with(loss=0.5), METRICS, rules_of(gate_metric="loss"))["promoted"]
    assert decide(_with(loss=0.2), METRICS, rules_of(gate_metric="loss"))["promoted"]
    assert not decide(_with(accuracy=0.8), _with(accuracy=0.8), rules_of(min_accuracy=0.85))["promoted"]


def test_a_schema_change_is_refused_naming_it_unless_accepted() -> None:
    why = "features differ from production (dropped x9)"
    refused = decide(METRICS, None, rules_of(), schema=why)
    assert not refused["promoted"] and refused["reason"].startswith(f"{why}: a schema change is not promoted silently")
    assert "--accept-schema-change" in refused["reason"] and "--model-name" in refused["reason"]
    accepted = decide(METRICS, None, rules_of(min_auc=0.9, accept_schema_change=True), schema=why)
    assert accepted["promoted"] and accepted["reason"].startswith(f"schema change accepted ({why})")
    assert not decide(_with(auc=0.85), None, rules_of(min_auc=0.9, accept_schema_change=True), schema=why)["promoted"]


def test_psi_is_zero_for_the_same_data_and_large_for_a_scaled_feature() -> None:
    values = np.random.default_rng(0).normal(size=5000)
    ref = drift.sketch(values)
    assert drift.psi(ref["counts"], drift.bin_counts(values, ref["edges"])) == pytest.approx(0.0, abs=1e-9)
    fresh = np.random.default_rng(1).normal(size=5000)
    assert drift.psi(ref["counts"], drift.bin_counts(fresh, ref["edges"])) < 0.05
    assert drift.psi(ref["counts"], drift.bin_counts(values * 100, ref["edges"])) > 1.0


def test_compare_names_drifted_features_and_schema_changes() -> None:
    rng = np.random.default_rng(0)
    columns = {"a": rng.normal(size=2000), "b": rng.normal(size=2000)}
    header = {"features": ["a", "b"], "types": {"a": "double", "b": "double"}, "classes": [0, 1]}
    reference = drift.profile(header, columns)
    report = drift.check(reference, drift.profile(header, {"a": columns["a"], "b": columns["b"] * 100}), 0.25, "run-1")
    assert report["status"] == "drift" and report["drifted"] == ["b"] and report["psi"]["a"] < 0.01
    assert "b (PSI" in drift.summary(report)
    other = {"features": ["a", "c"], "types": {"a": "double", "c": "double"}, "classes": ["no", "yes"]}
    report = drift.check(reference, drift.profile(other, {"a": columns["a"], "c": columns["b"]}), 0.25, "run-1")
    assert report["status"] == "schema"
    assert report["schema"] == ["missing feature column(s) b", "new feature column(s) c", "label classes [0, 1] → ['no', 'yes']"]
    assert drift.check(None, drift.profile(header, columns), 0.25)["status"] == "no-reference"


def test_retention_keeps_newest_and_protected_runs() -> None:
    runs = [f"2026010{i}T000000000000Z-aaaaaa" for i in range(1, 6)]
    assert select_removals(runs, 2, {runs[0]}) == [runs[1], runs[2]]
    assert select_removals(runs, 2, {runs[3]}) == runs[:3]
    assert select_removals(runs, 10, set()) == []


def _fake_run(artifacts: Path, name: str) -> Path:
    run = artifacts / name
    (run / "models" / "graph").mkdir(parents=True)
    (run / "models" / "graph" / "saved_model.pb").write_bytes(b"")
    (run / "metrics.json").write_text(json.dumps({"graph": METRICS}))
    (run / "manifest.json").write_text(json.dumps({"flow_run_id": "f", "files": []}))
    return run


def test_promote_rollback_and_the_production_stack(tmp_path: Path) -> None:
    a, b, c = (_fake_run(tmp_path, f"2026010{i}T000000000000Z-aaaaaa") for i in (1, 2, 3))
    record(tmp_path, a, decide(METRICS, None, rules_of()))
    record(tmp_path, b, decide(_with(auc=0.5), METRICS, rules_of()))  # refused
    assert production_run(tmp_path) == a.resolve()
    promote(tmp_path, b)
    record(tmp_path, c, decide(METRICS, METRICS, rules_of()))
    assert production_run(tmp_path) == c.resolve()
    assert rollback(tmp_path)["production"] == b.name and production_run(tmp_path) == b.resolve()
    assert rollback(tmp_path)["production"] == a.name
    with pytest.raises(RegistryError, match="no earlier production run"):
        rollback(tmp_path)
    entries = read_registry(tmp_path)
    assert [(e["action"], e["mode"]) for e in entries] == [("promote", "automatic"), ("refuse", "automatic"),
                                                           ("promote", "manual"), ("promote", "automatic"),
                                                           ("rollback", "manual"), ("rollback", "manual")]
    assert production_stack(entries) == [a.name]
    assert os.readlink(tmp_path / "production" / "synthetic") == f"../{a.name}"  # relative: the folder can move


def test_incomplete_or_foreign_directories_are_refused(tmp_path: Path) -> None:
    run = _fake_run(tmp_path, "2026T-x")
    (run / "manifest.json").unlink()
    with pytest.raises(RegistryError, match="not a complete run directory \\(no manifest.json\\)"):
        check_run_dir(run, tmp_path)
    with pytest.raises(RegistryError, match="no such run directory"):
        check_run_dir(tmp_path / "nope", tmp_path)
    with pytest.raises(RegistryError, match="not a run of the artifacts folder"):
        check_run_dir(_fake_run(tmp_path / "elsewhere", "r"), tmp_path)


def test_a_production_run_without_a_profile_is_named_not_mistaken_for_none() -> None:
    header = {"features": ["a"], "types": {"a": "double"}, "classes": [0, 1]}
    report = drift.check(None, drift.profile(header, {"a": np.zeros(3)}), 0.25, "run-0")
    assert report["status"] == "no-reference" and "production run run-0 keeps no data profile" in drift.summary(report)
