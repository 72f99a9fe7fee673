"""The scoring flow against the session's real Prefect server, on the default run's production model (trained once
per session): predictions equal `predict --input`'s, lineage in the file, each input scored once per model, drift
named per column, `--fail-on-drift`, and the UI artifact."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import httpx
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from eagergraph.errors import DataError
from eagergraph.io import file_digest
from eagergraph.rundir.paths import RunPaths, ScoringPaths, scoring_log


def _score(artifacts: Path, source: Path, output: Path, **options) -> dict:
    from eagergraph.flows.scoring import scoring_flow
    from eagergraph.scoring.config import ScoringConfig

    return scoring_flow(ScoringConfig(artifacts=artifacts, input=source, output=output, model_name="synthetic",
                                      **options))


@pytest.fixture(scope="module")
def setting(default_run: dict, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A copy of the default run's artifacts folder (its production model included), and new data shaped like its
    training data: the run's raw test rows (features x0..x9 and the label)."""
    root = tmp_path_factory.mktemp("scoring")
    artifacts = root / "artifacts"
    shutil.copytree(Path(default_run["run_dir"]).parent, artifacts, symlinks=True)
    table = pq.read_table(RunPaths.of(default_run["run_dir"]).test_raw)
    (root / "incoming").mkdir()
    pq.write_table(table.slice(0, 120), root / "incoming" / "monday.parquet")
    return {"root": root, "artifacts": artifacts, "table": table, "run": default_run}


@pytest.fixture(scope="module")
def first(setting: dict) -> dict:
    """The first scoring run over the incoming folder (one file)."""
    return _score(setting["artifacts"], setting["root"] / "incoming", setting["root"] / "scored")


def test_predictions_equal_predict_and_carry_lineage(setting: dict, first: dict) -> None:
    from eagergraph.core.prediction import predict_file
    from eagergraph.scoring.score import read_lineage

    source = setting["root"] / "incoming" / "monday.parquet"
    scored = ScoringPaths(setting["root"] / "scored").predictions("monday")
    assert first["outputs"] == [str(scored)] and first["rows"] == 120
    predicted = setting["root"] / "predict.parquet"
    predict_file(setting["artifacts"] / "production" / "synthetic", source, predicted)
    assert pq.read_table(scored).equals(pq.read_table(predicted))  # same columns (label carried), same values
    lineage = read_lineage(scored)
    production = (setting["artifacts"] / "production" / "synthetic").resolve()
    assert lineage["model_name"] == "synthetic" and lineage["model_run"] == str(production)
    assert lineage["model_flow_run_id"] == setting["run"]["flow_run_id"]
    assert lineage["input_blake3"] == file_digest(source) and lineage["input"] == str(source.resolve())
    assert lineage["scoring_flow_run_id"] == first["flow_run_id"]
    manifest = json.loads(ScoringPaths(setting["root"] / "scored").manifest("monday").read_text())
    assert {k: manifest[k] for k in lineage} == lineage and manifest["rows"] == 120
    listed = [json.loads(line) for line in scoring_log(setting["artifacts"]).read_text().splitlines()]
    assert listed[0]["flow_run_id"] == first["flow_run_id"] and listed[0]["scored"] == ["monday"]


def test_a_polled_folder_scores_each_new_file_once(setting: dict, first: dict) -> None:
    folder, output = setting["root"] / "incoming", setting["root"] / "scored"
    monday = ScoringPaths(output).predictions("monday")
    written = monday.stat().st_mtime_ns
    pq.write_table(setting["table"].slice(120, 50), folder / "tuesday.parquet")
    second = _score(setting["artifacts"], folder, output)
    assert second["scored"] == ["tuesday"] and second["skipped"] == ["monday"] and second["rows"] == 50
    third = _score(setting["artifacts"], folder, output)
    assert third["scored"] == [] and third["skipped"] == ["monday", "tuesday"] and third["rows"] == 0
    assert monday.stat().st_mtime_ns == written  # skipped, not rewritten
    # the same name with new content is new data: scored again
    pq.write_table(setting["table"].slice(0, 30), folder / "tuesday.parquet")
    assert _score(setting["artifacts"], folder, output)["scored"] == ["tuesday"]
    assert pq.read_metadata(ScoringPaths(output).predictions("tuesday")).num_rows == 30


def test_drift_is_named_per_column_and_fail_on_drift_writes_nothing(setting: dict) -> None:
    table = setting["table"]
    x3 = table.column("x3").to_numpy()
    shifted = table.set_column(table.schema.get_field_index("x3"), "x3", pc.add(table.column("x3"), 2 * x3.std()))
    drifted = setting["root"] / "drifted.parquet"
    pq.write_table(shifted, drifted)
    stopped = setting["root"] / "stopped"
    with pytest.raises(DataError, match=r"drift against .* in x3 \(PSI [0-9.]+\) .*--fail-on-drift"):
        _score(setting["artifacts"], drifted, stopped, fail_on_drift=True)
    assert not stopped.exists() and not list(setting["root"].glob(".stopped.staging-*"))
    warned = _score(setting["artifacts"], drifted, setting["root"] / "warned")
    check = warned["checks"][0]
    assert check["status"] == "drift" and check["drifted"] == ["x3"]
    assert check["psi"]["x3"] > 1 and max(v for k, v in check["psi"].items() if k != "x3") < 0.25
    assert warned["drifted"] == {"drifted": ["x3"]} and warned["rows"] == table.num_rows


def test_bad_values_are_named_with_their_row_and_nothing_is_written(setting: dict) -> None:
    table = setting["table"].slice(0, 10)
    cells = [str(v) for v in table.column("x5").to_pylist()]
    cells[6] = "n/a?"
    bad = setting["root"] / "bad.parquet"
    pq.write_table(table.set_column(table.schema.get_field_index("x5"), "x5", pa.array(cells)), bad)
    with pytest.raises(DataError, match=r"column x5 holds 'n/a\?' in row 7"):
        _score(setting["artifacts"], bad, setting["root"] / "never")
    assert not (setting["root"] / "never").exists()


def test_a_bad_file_in_a_folder_publishes_none_of_its_files(setting: dict) -> None:
    """Each input is checked in the pass that scores it: the files scored before a bad one wait in a staging folder
    beside the output folder, and go with it."""
    root, table = setting["root"], setting["table"]
    folder = root / "batch"
    folder.mkdir()
    pq.write_table(table.slice(0, 40), folder / "a.parquet")
    cells = [str(v) for v in table.column("x2").slice(40, 40).to_pylist()]
    cells[3] = "twelve"
    bad = table.slice(40, 40)
    pq.write_table(bad.set_column(bad.schema.get_field_index("x2"), "x2", pa.array(cells)), folder / "b.parquet")
    with pytest.raises(DataError, match=r"b\.parquet: column x2 holds 'twelve' in row 4"):
        _score(setting["artifacts"], folder, root / "batch-out")
    assert not (root / "batch-out").exists()
    assert not [path.name for path in root.iterdir() if ".staging-" in path.name]


def test_ui_artifact_shows_rows_distribution_drift_and_model_link(setting: dict, first: dict, prefect_api: str) -> None:
    found = httpx.post(f"{prefect_api}/artifacts/filter",
                       json={"artifacts": {"flow_run_id": {"any_": [first["flow_run_id"]]}}}).json()
    page = next(a["data"] for a in found if a["key"] == "eagergraph-scoring")
    assert "Scored 120 rows from 1 input" in page
    assert "![score distribution](data:image/png;base64," in page
    assert f"/runs/flow-run/{setting['run']['flow_run_id']}" in page  # the model's training run
    assert "| x0 |" in page  # the drift table, a row per feature
    table = next(a["data"] for a in found if a["key"] == "eagergraph-scoring-outputs")
    assert "monday" in json.dumps(table)
    assert np.isfinite(first["checks"][0]["psi"]["x0"])


def test_a_users_probability_column_is_kept_and_the_distribution_counts_the_models_outputs(setting: dict) -> None:
    """An input with its own text `predicted` and `probability` columns: they are carried through untouched, the
    model's outputs take the `model_` prefix, and the score distribution counts the model's outputs, not the user's."""
    root = setting["root"] / "own-columns"
    (root / "in").mkdir(parents=True)
    table = setting["table"].slice(0, 90)
    table = table.append_column("predicted", pa.array(["theirs"] * 90)).append_column("probability",
                                                                                     pa.array(["high"] * 90))
    pq.write_table(table, root / "in" / "tuesday.parquet")
    done = _score(setting["artifacts"], root / "in", root / "out")
    scored = pq.read_table(ScoringPaths(root / "out").predictions("tuesday"))
    assert scored.column("predicted").to_pylist() == ["theirs"] * 90 and scored.column("probability")[0].as_py() == "high"
    manifest = json.loads(ScoringPaths(root / "out").manifest("tuesday").read_text())
    model_classes = pc.value_counts(scored.column("model_predicted")).to_pylist()
    assert manifest["distribution"]["classes"] == {str(c["values"]): c["counts"] for c in model_classes}
    assert sum(manifest["distribution"]["probability_counts"]) == 90 and done["rows"] == 90


def test_a_killed_runs_staging_folder_is_removed_and_its_flow_run_marked_crashed(setting: dict,
                                                                                 prefect_api: str) -> None:
    """What a SIGKILLed scoring run leaves: its flow run Running on the server and its staging folder, unlocked
    (the kernel drops a dead process's locks; tests/unit/test_scoring_staging.py kills a real one). The next run
    over the same output folder removes the folder and marks the flow run Crashed, then scores as usual."""
    from prefect import flow, get_client
    from prefect.states import Running

    from eagergraph.rundir.staging import FLOW_RUN_FILE

    @flow(name="eagergraph-scoring-killed")
    def killed() -> None: ...

    with get_client(sync_client=True) as client:
        victim = str(client.create_flow_run(killed, state=Running()).id)
    root, output = setting["root"], setting["root"] / "after-kill"
    parent, prefix = ScoringPaths(output).staging()
    left = parent / f"{prefix}0123456789abcdef"
    left.mkdir()
    (left / FLOW_RUN_FILE).write_text(victim + "\n")
    (left / "monday.predictions.parquet.partial").write_bytes(b"PAR1 half a file")
    pq.write_table(setting["table"].slice(0, 25), root / "after-kill.parquet")
    scored = _score(setting["artifacts"], root / "after-kill.parquet", output)
    assert scored["rows"] == 25 and not left.exists() and not list(parent.glob(f"{prefix}*"))
    state = httpx.get(f"{prefect_api}/flow_runs/{victim}").json()["state"]
    assert state["type"] == "CRASHED" and "abandoned" in state["message"], state
