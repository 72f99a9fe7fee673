"""The whole flow against the session's real Prefect server: every artifact, reloaded models, recorded task runs."""

from __future__ import annotations

import fnmatch
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from conftest import AFTER_RUN, ROOT, STAGES
from eagergraph.core.variants import choose_variant
from eagergraph.rundir.paths import RunPaths


def test_run_directory_holds_every_artifact(default_run: dict) -> None:
    run = RunPaths.of(default_run["run_dir"])
    assert run.root.is_dir() and not run.root.name.startswith(".")
    assert (run.root.parent / "latest").resolve() == run.root.resolve()
    splits = ("train", "validation", "test")
    for path in (run.raw, run.normalizer, *map(run.normalized, splits), *map(run.features, splits), run.metrics,
                 run.predictions, run.manifest):
        assert path.is_file(), path
    for mode in ("eager", "graph"):
        assert (run.model(mode) / "saved_model.pb").is_file()
    assert pq.read_metadata(run.raw).num_rows == 1000
    normalizer = json.loads(run.normalizer.read_text())  # the rows the rule put in each split: about 70/10/20 %
    sizes = [pq.read_metadata(run.features(split)).num_rows for split in splits]
    assert sizes == [normalizer[f"{split}_rows"] for split in splits] and sum(sizes) == 1000
    assert 620 < sizes[0] < 780 and 60 < sizes[1] < 140 and 150 < sizes[2] < 250
    assert json.loads(run.manifest.read_text())["rows"] == {"raw": 1000, **dict(zip(splits, sizes)), "dropped": 0}
    assert pq.read_schema(run.features("train")).names[:20] == [f"x{i}" for i in range(10)] + [f"x{i}_sq" for i in range(10)]


def test_metrics_meet_the_contract(default_run: dict) -> None:
    metrics = json.loads(RunPaths.of(default_run["run_dir"]).metrics.read_text())
    for mode in ("eager", "graph"):
        for key in ("loss", "accuracy", "auc", "precision", "recall", "train_seconds"):
            assert isinstance(metrics[mode][key], float)
        # every epoch run is in the history, up to where early stopping ended it (both modes at the same epoch)
        stopped = metrics[mode]["stopped_epoch"]
        assert [e["epoch"] for e in metrics[mode]["history"]] == list(range(1, stopped + 1))
        assert stopped == metrics["graph"]["stopped_epoch"] and 1 <= metrics[mode]["best_epoch"] <= stopped <= 10
        assert metrics[mode]["accuracy"] >= 0.85
        assert metrics[mode]["history"][-1]["loss"] < metrics[mode]["history"][0]["loss"]
    assert metrics["parity_max_abs_diff"] <= 1e-4
    assert metrics["weights_max_abs_diff"] <= 1e-4  # same initial weights, same batches: same trained weights
    # a short default run does not drift, so it has no parity line; its one step from the same state agrees
    assert metrics["parity_note"] is None and metrics["parity_drift_epoch"] is None and metrics["step_parity"] <= 1e-6
    # the default run has at most 10 epochs of ceil(train rows / 32) steps: `auto` runs the variant its rule finds fastest
    steps = 10 * -(-json.loads(RunPaths.of(default_run["run_dir"]).normalizer.read_text())["train_rows"] // 32)
    assert metrics["graph_variant"] == choose_variant("auto", steps)[0] == metrics["graph"]["variant"]
    assert metrics["graph"]["variant_reason"].startswith(f"auto: fastest in total for {steps} steps")
    assert metrics["speedup"] > 1  # graph training beats eager in total time, tracing included, even at ~110 steps
    assert metrics == default_run["metrics"]


def test_manifest_lists_files_with_hashes(default_run: dict) -> None:
    import blake3

    run = RunPaths.of(default_run["run_dir"])
    manifest = json.loads(run.manifest.read_text())
    assert manifest["flow_run_id"] == default_run["flow_run_id"]
    assert set(manifest["stage_seconds"]) == set(STAGES)
    assert manifest["config"]["epochs"] == 10 and manifest["packages"]["tensorflow"].startswith("2.")
    files = {f["path"]: f for f in manifest["files"]}
    assert "models/graph/saved_model.pb" in files and "predictions.parquet" in files
    entry = files["metrics.json"]
    assert entry["blake3"] == blake3.blake3((run.root / "metrics.json").read_bytes()).hexdigest()
    assert entry["bytes"] == (run.root / "metrics.json").stat().st_size


RELOAD = """
import json, sys
import pyarrow.parquet as pq, tensorflow as tf
run, features = sys.argv[1], json.loads(sys.argv[2])
table = pq.read_table(run + "/predictions.parquet")
names = json.load(open(run + "/models/graph/assets.extra/eagergraph.json"))["inputs"]  # column -> signature input
serve = tf.saved_model.load(run + "/models/graph").signatures["serving_default"]
inputs = {names[f]: tf.constant(table.column(f).to_numpy().astype("float64")) for f in features}  # one input per raw column
print(json.dumps(serve(**inputs)["probability"].numpy().ravel().tolist()))
"""


def test_saved_model_reloaded_in_fresh_process_reproduces_predictions(default_run: dict) -> None:
    run = RunPaths.of(default_run["run_dir"])
    features = json.loads(run.normalizer.read_text())["features"]
    out = subprocess.run([sys.executable, "-c", RELOAD, str(run.root), json.dumps(features)], capture_output=True,
                         text=True, check=True, timeout=120)
    fresh = np.array(json.loads(out.stdout.strip().splitlines()[-1]))
    saved = pq.read_table(run.predictions).column("probability").to_numpy()
    np.testing.assert_allclose(fresh, saved, atol=1e-6)
    assert 0.0 <= saved.min() < 0.5 < saved.max() <= 1.0  # both classes predicted


def test_prefect_api_lists_flow_run_with_every_stage_completed(default_run: dict, prefect_api: str) -> None:
    import httpx

    flow_run = httpx.get(f"{prefect_api}/flow_runs/{default_run['flow_run_id']}").json()
    assert flow_run["state"]["type"] == "COMPLETED"
    task_runs = httpx.post(f"{prefect_api}/task_runs/filter",
                           json={"task_runs": {"flow_run_id": {"any_": [default_run["flow_run_id"]]}}}).json()
    names = sorted(t["name"].rsplit("-", 1)[0] for t in task_runs)
    assert names == sorted(STAGES + AFTER_RUN)
    assert all(t["state"]["type"] == "COMPLETED" for t in task_runs)


def test_a_table_too_small_to_split_is_refused_before_tensorflow_starts(prefect_api: str, tmp_path, monkeypatch) -> None:
    """ingest's class counts decide the split's sizes, so a table that cannot be split fails before TensorFlow loads
    (the command exits at once, instead of after TensorFlow's seconds of start-up), with normalize's own line."""
    import pytest

    import eagergraph.orchestration.pipeline as pipeline
    from eagergraph.config import PipelineConfig
    from eagergraph.errors import DataError
    from eagergraph.flows.pipeline import training_pipeline

    starts: list[bool] = []
    monkeypatch.setattr(pipeline, "start_tensorflow_in_background", lambda: starts.append(True))
    data = tmp_path / "few.csv"
    data.write_text("a,b,y\n" + "".join(f"{i},{i * 2},{int(i == 5)}\n" for i in range(6)))
    with pytest.raises(DataError, match=r"few.csv: class 1 of the label has 1 row, too few for each of the train, "
                                        r"validation and test splits \(6 rows in all\)"):
        training_pipeline(PipelineConfig(data=data, label="y", artifacts=tmp_path / "artifacts"))
    assert starts == []
    assert not any(p.name.startswith("2") for p in (tmp_path / "artifacts").glob("*"))  # no run directory left


def _reference_section(heading: str) -> str:
    text = (ROOT / "docs" / "reference.md").read_text(encoding="utf-8")
    return text.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]


def _expand(pattern: str) -> list[str]:
    """`normalized/{train,test}.parquet` → both paths; `<mode>` → eager and graph."""
    pattern = pattern.replace("<mode>", "{eager,graph}")
    braces = re.search(r"\{([^}]*)\}", pattern)
    if not braces:
        return [pattern]
    return [path for part in braces[1].split(",")
            for path in _expand(pattern[:braces.start()] + part.strip() + pattern[braces.end():])]


def test_the_reference_names_every_json_key_and_every_file_of_a_run_directory(default_run: dict) -> None:
    """docs/reference.md's `--json` keys and its table of run-directory files, against a real run's."""
    named = set(re.findall(r"`([a-z_]+)`", _reference_section("The `--json` line").split("`metrics.task`")[0]))
    assert set(default_run) == named, f"undocumented: {set(default_run) - named}; not in the line: {named - set(default_run)}"

    rows = [line.split("|")[1] for line in _reference_section("The files of a run directory").splitlines()
            if line.startswith("| `")]
    patterns = [path for row in rows for shown in re.findall(r"`([^`]+)`", row) for path in _expand(shown)]
    root = Path(default_run["run_dir"])
    files = sorted(path.relative_to(root).as_posix() for path in root.rglob("*") if path.is_file())

    def covers(pattern: str, file: str) -> bool:
        return fnmatch.fnmatch(file, pattern) or (pattern.endswith("/") and file.startswith(pattern))

    assert not [f for f in files if not any(covers(p, f) for p in patterns)], "files the reference does not name"
    sweep_only = [p for p in patterns if p.startswith("sweep/")]
    assert not [p for p in patterns if p not in sweep_only and not any(covers(p, f) for f in files)], "named, not written"
