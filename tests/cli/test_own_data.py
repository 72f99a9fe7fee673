"""The user's own data, as it comes (issue 13): a messy export with a row id, a date, a text category, empty
feature and label cells, a column that leaks the label and a yes/no label, run through the CLI as a user would."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import numpy as np
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from messy import EMPTY_LABEL, write_messy

from conftest import run_cli

PREFIX = "eagergraph: error: "
DATA_OPTIONS = ("--label", "renewed", "--exclude", "cancel_fee", "--positive-class", "no", "--drop-invalid")


@pytest.fixture(scope="module")
def messy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_messy(tmp_path_factory.mktemp("own-data") / "messy.csv")


@pytest.fixture(scope="module")
def messy_run(messy: Path, prefect_api: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict, Path]:
    """One run on the messy export with every data option: its stdout, its JSON result, its run directory."""
    artifacts = tmp_path_factory.mktemp("own-data-artifacts")
    done = run_cli("run", "--data", str(messy), *DATA_OPTIONS, "--epochs", "2", "--artifacts", str(artifacts), "--json",
                   cwd=artifacts)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stderr == ""
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return done.stdout, result, Path(result["run_dir"])


def _one_error_line(done) -> str:
    lines = done.stderr.splitlines()
    assert done.returncode == 2 and len(lines) == 1 and lines[0].startswith(PREFIX), (done.returncode, done.stderr[-2000:])
    assert "Traceback" not in done.stdout + done.stderr
    return lines[0].removeprefix(PREFIX)


def test_missing_labels_are_refused_like_missing_features(messy: Path, prefect_api: str, tmp_path: Path) -> None:
    done = run_cli("run", "--data", str(messy), "--label", "renewed", "--artifacts", str(tmp_path), cwd=tmp_path)
    assert _one_error_line(done) == (f"{messy}: missing, NaN or infinite values (tenure_months: 3, monthly_charges: 2, "
                                     f"renewed: {len(EMPTY_LABEL)}); pass --impute median (missing numeric values) or "
                                     "--drop-invalid")


@pytest.mark.parametrize("args, message", [
    (("--exclude", "cancel_fee,nope"), "--exclude names unknown column(s): nope; columns are: customer_id, signup_date"),
    (("--positive-class", "maybe"), "--positive-class 'maybe' is not a value of label column 'renewed'; its values are: no, yes"),
])
def test_bad_data_options_give_one_line(messy: Path, prefect_api: str, tmp_path: Path, args: tuple, message: str) -> None:
    done = run_cli("run", "--data", str(messy), "--label", "renewed", "--drop-invalid", *args, "--artifacts", str(tmp_path),
                   cwd=tmp_path)
    assert message in _one_error_line(done)


def test_run_names_features_left_out_columns_and_the_positive_class(messy_run: tuple[str, dict, Path]) -> None:
    stdout, result, run_dir = messy_run
    flat = " ".join(stdout.split())  # the terminal wraps long lines
    assert "features (5): plan (categorical, 3 values), tenure_months, monthly_charges, support_calls, age" in flat
    assert ("left out: customer_id (looks like an id), signup_date (date/time), "
            "cancel_fee (excluded), renewed (the label)") in flat
    assert "set aside as row ids (integers or text, unique on every row): customer_id; name in --features to use" in flat
    assert "positive class: 'no'" in flat and "(positive class 'no')" in flat
    assert f"dropped 9 rows with missing, NaN or infinite values (tenure_months: 3, monthly_charges: 2, renewed: {len(EMPTY_LABEL)})" in flat
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["features"] == ["plan", "tenure_months", "monthly_charges", "support_calls", "age"]
    assert manifest["left_out"] == {"customer_id": "looks like an id", "signup_date": "date/time",
                                    "cancel_fee": "excluded", "renewed": "the label"}
    assert manifest["positive_class"] == "no" and manifest["classes"] == ["yes", "no"]
    assert manifest["rows"]["dropped"] == 9 and manifest["rows"]["raw"] == 191
    assert manifest["config"]["exclude"] == ["cancel_fee"] and manifest["config"]["positive_class"] == "no"


def test_metrics_are_about_the_positive_class_and_in_range(messy_run: tuple[str, dict, Path]) -> None:
    _, _, run_dir = messy_run
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["positive_class"] == "no" and metrics["classes"] == ["yes", "no"]
    scored = pq.read_table(run_dir / "predictions.parquet").to_pylist()
    said_no = [r for r in scored if r["predicted"] == "no"]
    were_no = [r for r in scored if r["label"] == "no"]
    hits = sum(r["label"] == "no" for r in said_no)
    positive = np.array([r["label"] == "no" for r in scored])
    probability = np.array([r["probability"] for r in scored])
    pairs = [(a > b) + 0.5 * (a == b) for a in probability[positive] for b in probability[~positive]]
    for mode in ("eager", "graph"):  # predictions.parquet holds the graph model's; eager's agree within parity
        m = metrics[mode]
        assert m["precision"] == pytest.approx(hits / max(len(said_no), 1))
        assert m["recall"] == pytest.approx(hits / len(were_no))
        assert m["accuracy"] == pytest.approx(np.mean([r["predicted"] == r["label"] for r in scored]))
    assert metrics["graph"]["auc"] == pytest.approx(np.mean(pairs))  # the AUC's definition, over every pair


def test_predictions_join_back_to_the_input(messy: Path, messy_run: tuple[str, dict, Path]) -> None:
    _, result, run_dir = messy_run
    scored = pq.read_table(run_dir / "predictions.parquet")
    # the columns that are not features (the excluded one too), then the features (the text category among them)
    assert scored.column_names == ["customer_id", "signup_date", "cancel_fee", "plan", "tenure_months", "monthly_charges",
                                   "support_calls", "age", "label", "predicted", "probability"]
    assert scored.num_rows == result["metrics"]["test_rows"]
    source = {row["customer_id"]: row for row in pacsv.read_csv(messy).to_pylist()}
    for row in scored.to_pylist():
        original = source[row["customer_id"]]
        assert row["label"] == original["renewed"] and row["plan"] == original["plan"]
        assert row["signup_date"] == original["signup_date"] and row["predicted"] in ("yes", "no")
        assert (row["predicted"] == "no") == (row["probability"] > 0.5)  # the probability is the positive class's


def test_the_example_is_a_real_test_row_with_its_true_label(messy_run: tuple[str, dict, Path]) -> None:
    stdout, result, run_dir = messy_run
    example = json.loads((run_dir / "prediction_row.json").read_text())
    first = pq.read_table(run_dir / "predictions.parquet").slice(0, 1).to_pylist()[0]
    assert example["row"] == "first test row" and example["label"] == first["label"]
    assert example["columns"]["customer_id"] == str(first["customer_id"]) and example["probability"] == first["probability"]
    assert f"first test row (customer_id {first['customer_id']}" in " ".join(stdout.split())
    assert f"true label {first['label']}" in stdout


def test_the_model_records_its_classes_and_predict_uses_them(messy_run: tuple[str, dict, Path], tmp_path: Path) -> None:
    _, _, run_dir = messy_run
    info = json.loads((run_dir / "models" / "graph" / "assets.extra" / "eagergraph.json").read_text())
    assert info["classes"] == ["yes", "no"] and info["positive_class"] == "no"
    done = run_cli("predict", str(run_dir), "--row", "basic,3.5,110,6,40", cwd=tmp_path)  # the text category is a feature
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["positive_class"] == "no" and answer["predicted"] == ("no" if answer["probability"] > 0.5 else "yes")


def test_predict_input_keeps_or_skips_rows_with_gaps(messy: Path, messy_run: tuple[str, dict, Path], tmp_path: Path) -> None:
    _, _, run_dir = messy_run
    kept = run_cli("predict", str(run_dir), "--input", str(messy), "--output", str(tmp_path / "kept.parquet"), cwd=tmp_path)
    assert kept.returncode == 0 and kept.stderr == "", kept.stderr
    assert ("5 rows with missing, NaN or infinite values (tenure_months: 3, monthly_charges: 2) have an empty prediction; "
            "pass --drop-invalid to skip them") in kept.stdout
    table = pq.read_table(tmp_path / "kept.parquet")
    assert table.num_rows == 200 and table.column("probability").null_count == 5 and table.column("predicted").null_count == 5
    assert table.column_names[:3] == ["customer_id", "signup_date", "plan"]  # the input's other columns are kept
    skipped = run_cli("predict", str(run_dir), "--input", str(messy), "--output", str(tmp_path / "skipped.csv"),
                      "--drop-invalid", cwd=tmp_path)
    assert skipped.returncode == 0, skipped.stderr
    assert "--drop-invalid: skipped 5 rows with missing, NaN or infinite values" in skipped.stdout
    assert pacsv.read_csv(tmp_path / "skipped.csv").column("probability").null_count == 0


@pytest.mark.parametrize("row, message", [
    ("basic,14.2,1.7,,45", "--row: field 4 (support_calls) is empty; the model takes 5 features in this order: "
                           "plan, tenure_months, monthly_charges, support_calls, age; the model does not impute support_calls"),
    ("basic,14.2,1.7,3", "--row: 4 values given, the model takes 5 features in this order: plan, tenure_months"),
    ("basic,14.2,abc,3,45", "--row: 'abc' is not a number: field 3 (monthly_charges)"),
])
def test_row_errors_name_the_field_and_the_features(messy_run: tuple[str, dict, Path], tmp_path: Path, row: str,
                                                    message: str) -> None:
    done = run_cli("predict", str(messy_run[2]), "--row", row, cwd=tmp_path)
    assert message in _one_error_line(done)


def test_flow_runs_are_named_after_the_data_and_tagged(messy_run: tuple[str, dict, Path], prefect_api: str) -> None:
    _, result, _ = messy_run
    flow_run = httpx.get(f"{prefect_api}/flow_runs/{result['flow_run_id']}").json()
    assert re.fullmatch(r"messy-\d{8}T\d{4}", flow_run["name"]), flow_run["name"]
    assert {"eagergraph", "data:messy.csv"} <= set(flow_run["tags"])
    # the tags stay on the flow run: its task runs are untagged, so none waits for a tag concurrency slot
    task_runs = httpx.post(f"{prefect_api}/task_runs/filter",
                           json={"flow_runs": {"id": {"any_": [result["flow_run_id"]]}}}).json()
    assert {"ingest", "train-graph", "record-verdict"} <= {t["name"].rsplit("-", 1)[0] for t in task_runs}
    assert all(t["tags"] == [] for t in task_runs), [(t["name"], t["tags"]) for t in task_runs]
    artifacts = httpx.post(f"{prefect_api}/artifacts/filter",
                           json={"artifacts": {"flow_run_id": {"any_": [result["flow_run_id"]]}}}).json()
    evaluation = next(a for a in artifacts if a["key"] == "eagergraph-evaluation")
    assert "Positive class: `no`" in evaluation["data"]


def test_sweep_takes_the_data_options_and_is_quiet(messy: Path, prefect_api: str, tmp_path: Path) -> None:
    done = run_cli("sweep", "--data", str(messy), *DATA_OPTIONS, "--features", "tenure_months,support_calls",
                   "--epochs", "1", "--learning-rates", "0.01", "--artifacts", str(tmp_path), "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stderr == ""  # no TensorFlow start-up notices (cuInit) on stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["features"] == ["tenure_months", "support_calls"] and result["positive_class"] == "no"
    assert result["metrics"]["positive_class"] == "no" and result["dropped_rows"] == 3 + len(EMPTY_LABEL)  # gaps in features used only
    manifest = json.loads((Path(result["run_dir"]) / "manifest.json").read_text())
    assert manifest["left_out"]["customer_id"] == "not in --features" and manifest["left_out"]["cancel_fee"] == "excluded"
