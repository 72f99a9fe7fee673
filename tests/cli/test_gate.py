"""Recurring runs against the session's real server: the gate promotes or refuses, the drift check names the
drifted feature, promote/rollback move the pointer, gc keeps what it must, and no registry entry is ever lost.

One artifacts folder holds one history, built in order (each flow run costs seconds):
r1 clean → r2 shuffled labels → r3 feature x3 ×100 → r4 clean → r5 clean.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from recorder import record_at_once

from conftest import run_cli
from eagergraph.data.synthetic import synthetic_batches
from eagergraph.metrics import metrics_for
from eagergraph.registry.registry import production_run, read_registry
from eagergraph.rundir.paths import PRODUCTION, cache_object, completed_runs
from eagergraph.rundir.staging import LATEST, TMP_PREFIX

SETTINGS = dict(epochs=4, modes="graph", graph_variant="step", min_auc=0.7, model_name="gated")  # one model, three files
ROWS = 800


def _write(path: Path, shuffle_labels: bool = False, scale: str | None = None) -> Path:
    table = pa.Table.from_batches(list(synthetic_batches(ROWS, 4, 3)))
    if shuffle_labels:
        labels = np.random.default_rng(0).permutation(table.column("label").to_numpy())
        table = table.set_column(table.schema.get_field_index("label"), "label", pa.array(labels))
    if scale:
        table = table.set_column(table.schema.get_field_index(scale), scale, pa.array(table.column(scale).to_numpy() * 100))
    pq.write_table(table, path)
    return path


def _run(artifacts: Path, data: Path, **extra: object) -> dict:
    from eagergraph.config import PipelineConfig
    from eagergraph.flows.pipeline import training_pipeline

    return training_pipeline(PipelineConfig(artifacts=artifacts, data=data, **SETTINGS, **extra))


@pytest.fixture(scope="module")
def history(prefect_api: str, tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("gate")
    artifacts = root / "artifacts"
    clean, shuffled, scaled = _write(root / "clean.parquet"), _write(root / "shuffled.parquet", shuffle_labels=True), \
        _write(root / "scaled.parquet", scale="x3")
    runs = {"r1": _run(artifacts, clean)}
    refused = run_cli("run", "--data", str(shuffled), "--artifacts", str(artifacts), "--model-name", "gated", "--epochs", "4", "--modes", "graph",
                      "--graph-variant", "step", "--min-auc", "0.7", "--require-promotion", "--json")
    runs["r2"] = {**json.loads(refused.stdout.strip().splitlines()[-1]), "cli": refused}
    runs["r2_production"] = production_run(artifacts)
    runs["r2_served"] = run_cli("predict", str(artifacts / PRODUCTION), "--row", "1,2,3,4")  # before r3 is judged
    runs["r3"] = _run(artifacts, scaled)
    return {"root": root, "artifacts": artifacts, "runs": runs, "clean": clean, "scaled": scaled}


def test_first_run_promotes_itself(history: dict) -> None:
    r1 = history["runs"]["r1"]
    assert r1["promoted"] and r1["production"] == r1["run_dir"] and "first run" in r1["reason"]
    metrics = json.loads((Path(r1["run_dir"]) / "metrics.json").read_text())
    assert metrics["gate"]["promoted"] and metrics["data_check"]["status"] == "no-reference"
    first = read_registry(history["artifacts"])[0]
    assert first["run"] == Path(r1["run_dir"]).name and first["mode"] == "automatic" and len(first["data_blake3"]) == 64
    assert first["flow_run_id"] == r1["flow_run_id"] and first["metrics"]["candidate"]["auc"] > 0.7


def test_shuffled_labels_are_refused_and_production_keeps_serving(history: dict) -> None:
    r1, r2 = history["runs"]["r1"], history["runs"]["r2"]
    assert r2["cli"].returncode == 3  # --require-promotion: the refusal is an exit status, after the output
    assert r2["cli"].stderr.strip().splitlines() == [f"eagergraph: error: model not promoted (--require-promotion): {r2['reason']}"]
    assert "gate: refused: " in r2["cli"].stdout and f"production: {r1['run_dir']}" in r2["cli"].stdout
    assert not r2["promoted"] and r2["production"] == r1["run_dir"]
    assert history["runs"]["r2_production"] == Path(r1["run_dir"])
    assert r2["metrics"]["data_check"]["status"] == "ok"  # same features: only the labels are broken
    entry = read_registry(history["artifacts"])[1]
    assert entry["action"] == "refuse" and entry["production"] == Path(r1["run_dir"]).name and entry["reason"] == r2["reason"]
    assert entry["metrics"]["production"]["auc"] is not None  # both models scored on r2's test split
    served = history["runs"]["r2_served"]  # production served right after the refusal (r3 may replace it later)
    assert served.returncode == 0, served.stderr
    from eagergraph.core.prediction import predict_row

    # production still serves r1's model: the same answer as r1's own run directory gives
    assert json.loads(served.stdout)["probability"] == pytest.approx(predict_row(Path(r1["run_dir"]), "1,2,3,4")["probability"],
                                                                     abs=1e-6)


def test_refusal_is_an_event_for_automations(history: dict, prefect_api: str) -> None:
    import httpx

    r2 = history["runs"]["r2"]
    found = httpx.post(f"{prefect_api}/events/filter", json={"filter": {"event": {"name": ["eagergraph.model.refused"]}}})
    events = [e for e in found.json()["events"] if e["resource"]["prefect.resource.name"] == Path(r2["run_dir"]).name]
    assert events and events[0]["payload"]["run_dir"] == r2["run_dir"] and "auc" in events[0]["payload"]["metrics"]["candidate"]


def test_a_feature_scaled_by_100_is_reported_as_drifted(history: dict) -> None:
    r3 = history["runs"]["r3"]
    check = r3["metrics"]["data_check"]
    assert check["status"] == "drift" and check["drifted"] == ["x3"] and check["psi"]["x3"] > 1
    # a warning only: r3 trains, and production (r1) scores badly on r3's scaled test split, so r3 is promoted
    assert r3["promoted"] and "not worse than production" in r3["reason"]


def test_fail_on_drift_stops_before_training_with_exit_2(history: dict) -> None:
    artifacts = history["artifacts"]
    before, production = completed_runs(artifacts), production_run(artifacts)
    assert production == Path(history["runs"]["r3"]["run_dir"])  # trained on x3 ×100: clean data has drifted from it
    done = run_cli("run", "--data", str(history["clean"]), "--artifacts", str(artifacts), "--model-name", "gated", "--fail-on-drift",
                   "--drift-threshold", "0.5", "--modes", "graph")
    assert done.returncode == 2, done.stdout[-2000:] + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("eagergraph: error: ") and "x3 (PSI" in lines[0]
    assert "--fail-on-drift" in lines[0] and "Training trace" not in done.stdout
    assert completed_runs(artifacts) == before and production_run(artifacts) == production
    assert not list(artifacts.glob(f"{TMP_PREFIX}*"))


def test_promote_and_rollback_move_the_pointer_and_are_recorded(history: dict) -> None:
    artifacts = history["artifacts"]
    r2 = Path(history["runs"]["r2"]["run_dir"])
    before = production_run(artifacts)
    assert before is not None and before != r2
    done = run_cli("promote", str(r2), "--artifacts", str(artifacts), "--json")
    assert done.returncode == 0, done.stderr
    promoted = json.loads(done.stdout.strip().splitlines()[-1])  # the registry entry, as recorded
    assert (promoted["action"], promoted["mode"], promoted["production"], promoted["previous"]) == \
        ("promote", "manual", r2.name, before.name)
    assert os.readlink(artifacts / PRODUCTION / "gated") == f"../{r2.name}" and production_run(artifacts) == r2  # moved on disk
    back = run_cli("rollback", "--artifacts", str(artifacts), "--json")
    assert back.returncode == 0, back.stderr
    rolled = json.loads(back.stdout.strip().splitlines()[-1])
    assert (rolled["action"], rolled["mode"], rolled["production"], rolled["previous"]) == \
        ("rollback", "manual", before.name, r2.name)
    assert os.readlink(artifacts / PRODUCTION / "gated") == f"../{before.name}" and production_run(artifacts) == before
    assert read_registry(artifacts)[-2:] == [promoted, rolled]
    bad = run_cli("promote", str(r2 / "models"), "--artifacts", str(artifacts), "--json")
    assert bad.returncode == 2 and bad.stderr.startswith("eagergraph: error: ") and len(bad.stderr.splitlines()) == 1
    assert bad.stdout == "" and production_run(artifacts) == before  # refused: no JSON line, the pointer stays


def test_gc_keeps_production_its_predecessor_and_the_newest(history: dict) -> None:
    artifacts = history["artifacts"]
    r4, r5 = _run(artifacts, history["clean"]), _run(artifacts, history["clean"])
    names = [p.name for p in completed_runs(artifacts)]
    assert len(names) == 5
    r1, r2, r3 = (Path(history["runs"][k]["run_dir"]).name for k in ("r1", "r2", "r3"))
    for run in (r2, r1):  # production r1, its predecessor r2; the newest two are r4 and r5
        assert run_cli("promote", run, "--artifacts", str(artifacts)).returncode == 0
    listed = run_cli("runs", "--artifacts", str(artifacts), "--json")
    rows = json.loads(listed.stdout.strip().splitlines()[-1])
    assert [r["run"] for r in rows] == names[::-1] and [r["run"] for r in rows if r["production"]] == [r1]
    assert rows[3]["verdict"] == "promoted (manual)"  # r2: its last decision was the manual promotion
    table = run_cli("runs", "--artifacts", str(artifacts), "--wide")  # every column, from the same rows
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    header = next(line for line in lines if "when (UTC)" in line)
    assert [cell.strip() for cell in header.strip("│┃ ").replace("┃", "│").split("│")] == \
        ["run", "when (UTC)", "model", "data", "rows", *(m.label for m in metrics_for("binary")), "speedup", "variant",
         "verdict", "flow run"]
    body = [line for line in lines if any(row["run"] in line for row in rows)]
    assert len(body) == len(rows)
    for line, row in zip(body, rows):  # newest first, the production run starred, each row's own figures
        cells = [cell.strip() for cell in line.strip("│ ").split("│")]
        assert cells[0] == ("* " if row["production"] else "") + row["run"]
        assert cells[2] == "gated" and cells[4] == f"{row['rows']:,}" and cells[5] == f"{row['auc']:.4f}"
        assert cells[-2] == (row["verdict"] or "–")
        assert cells[-1] == row["flow_run_id"] and cells[3] == row["data"]  # piped: nothing cut
    dry = run_cli("gc", "--keep", "2", "--artifacts", str(artifacts), "--dry-run")
    assert dry.returncode == 0 and f"would remove run {r3}" in dry.stdout and len(completed_runs(artifacts)) == 5
    done = run_cli("gc", "--keep", "2", "--artifacts", str(artifacts), "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["removed_runs"] == [r3] and report["freed_bytes"] > 0 and report["removed_objects"] > 0
    kept = {p.name for p in completed_runs(artifacts)}
    assert kept == {r1, r2, Path(r4["run_dir"]).name, Path(r5["run_dir"]).name}
    assert (artifacts / LATEST).resolve() == Path(r5["run_dir"])
    objects = list((artifacts / ".cache" / "objects").glob("*/*"))
    assert objects and all(obj.stat().st_nlink > 1 for obj in objects)  # every object left is linked into a run
    for run in kept:  # and every kept run's cached files are still in the store
        digests = {f["blake3"] for f in json.loads((artifacts / run / "manifest.json").read_text())["files"]
                   if f["path"] == "raw.parquet"}
        assert digests and all(cache_object(artifacts, d).is_file() for d in digests)
    served = run_cli("predict", str(artifacts / PRODUCTION), "--row", "1,2,3,4")
    assert served.returncode == 0, served.stderr


def test_runs_finishing_at_the_same_moment_all_reach_the_registry(tmp_path: Path) -> None:
    names = [f"20260101T00000000000{i}Z-run" for i in range(8)]
    for name in names:
        (tmp_path / name).mkdir()
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(len(names))
    workers = [context.Process(target=record_at_once, args=(str(tmp_path), name, barrier)) for name in names]
    try:
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=60)
            assert worker.exitcode == 0
    finally:
        for worker in workers:
            if worker.is_alive():
                worker.kill()
                worker.join()
    entries = read_registry(tmp_path)
    assert sorted(e["run"] for e in entries) == names
    assert production_run(tmp_path).name == entries[-1]["run"]  # the pointer matches the last recorded move
    assert [e["previous"] for e in entries[1:]] == [e["production"] for e in entries[:-1]]  # a chain, nothing skipped


DEAD_API = "http://127.0.0.1:9/api"  # nothing listens: the option's refusal comes before Prefect is contacted


@pytest.mark.parametrize("value", ["-0.01", "-2%", "two", "2%%"])
def test_a_bad_gate_tolerance_is_one_line_exit_2_nothing_written(value: str, tmp_path: Path) -> None:
    done = run_cli("run", "--gate-tolerance", value, "--artifacts", str(tmp_path / "a"), cwd=tmp_path,
                   env={"PREFECT_API_URL": DEAD_API})
    assert done.returncode == 2 and done.stderr.strip().splitlines() == [
        f"eagergraph: error: invalid value for --gate-tolerance: '{value}' (a tolerance is a number ≥ 0 (in the "
        "metric's units) or a percentage such as 2%)"], done.stderr
    assert not (tmp_path / "a").exists()


def test_a_first_model_worse_than_the_training_mean_is_refused_and_production_stays_empty(
        prefect_api: str, tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    data = tmp_path / "noise.parquet"  # a target that no feature explains: no model beats the training mean
    pq.write_table(pa.table({"a": rng.normal(size=300), "b": rng.normal(size=300), "y": rng.normal(size=300)}), data)
    done = run_cli("run", "--data", str(data), "--label", "y", "--task", "regression", "--epochs", "3", "--modes",
                   "graph", "--graph-variant", "step", "--learning-rate", "0.05", "--artifacts",
                   str(tmp_path / "artifacts"), "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert not result["promoted"] and result["production"] is None
    assert re.fullmatch(r"R² −?\d\.\d{4}: worse than predicting the training mean", result["reason"]), result["reason"]
    assert f"gate: refused: {result['reason']}" in done.stdout
    assert "model: noise (the data file's name); choose with --model-name" in done.stdout
    assert production_run(tmp_path / "artifacts", "noise") is None


def test_dated_exports_are_one_model_judged_by_the_gate_and_a_dropped_column_is_refused(
        prefect_api: str, tmp_path: Path) -> None:
    artifacts = tmp_path / "artifacts"
    table = pa.Table.from_batches(list(synthetic_batches(ROWS, 4, 3)))
    first, second = tmp_path / "arrests_2026-12-06.parquet", tmp_path / "arrests_2026-12-07.parquet"
    pq.write_table(table, first)
    pq.write_table(table, second)
    settings = dict(epochs=3, modes="graph", graph_variant="step")
    from eagergraph.config import PipelineConfig
    from eagergraph.flows.pipeline import training_pipeline

    one = training_pipeline(PipelineConfig(artifacts=artifacts, data=first, **settings))
    two = training_pipeline(PipelineConfig(artifacts=artifacts, data=second, **settings))
    assert one["promoted"] and "first run" in one["reason"]
    assert "vs production" in two["reason"] and re.search(r"over [\d,]+ shared test rows", two["reason"])
    assert json.loads((Path(two["run_dir"]) / "metrics.json").read_text())["gate"]["production_run"] == \
        Path(one["run_dir"]).name  # one model, `arrests`: the second export was judged against the first
    dropped = tmp_path / "arrests_2026-12-08.parquet"
    pq.write_table(table.drop_columns(["x3"]), dropped)
    done = run_cli("run", "--data", str(dropped), "--artifacts", str(artifacts), "--epochs", "3", "--modes", "graph",
                   "--graph-variant", "step", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert not result["promoted"] and result["reason"].startswith(
        "features differ from production (dropped x3): a schema change is not promoted silently")
    assert "--model-name" in result["reason"] and "--accept-schema-change" in result["reason"]
    assert "model: arrests (the data file's name without its dates and numbers (arrests_2026-12-08))" in done.stdout
    assert two["promoted"]  # the same table and settings: the same model, not worse than itself
    assert production_run(artifacts, "arrests") == Path(two["run_dir"])  # the refused third run moved nothing
