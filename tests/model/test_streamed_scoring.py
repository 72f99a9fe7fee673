"""evaluate and predict read the raw test split block by block (here row groups of 16 rows): what they write
equals what the whole split gives when scored at once, for every task."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from eagergraph.accumulators import binary_metrics, multiclass_metrics, regression_metrics
from eagergraph.core.evaluation import evaluate_run
from eagergraph.core.export import export_model, load_serving
from eagergraph.core.outputs import label_values, task_table
from eagergraph.core.prediction import predict_file, predict_run
from eagergraph.core.serving_inputs import read_preprocessing
from eagergraph.core.training import train_to
from eagergraph.data.ingest import ingest_to
from eagergraph.data.io import LABEL
from eagergraph.io import read_json
from eagergraph.rundir.paths import RunPaths
from runs import engineer_run, normalize_run
from serving_reference import N_INPUTS, NORMALIZER, tiny_model

ROOT = Path(__file__).resolve().parents[2]
BLOCK_ROWS = 16


@pytest.fixture
def blocks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Row groups and blocks of BLOCK_ROWS rows; the sizes of the blocks evaluate and predict go through, in order."""
    from eagergraph.data import io

    monkeypatch.setattr(io, "ROW_GROUP_ROWS", BLOCK_ROWS)
    monkeypatch.setattr(io, "BLOCK_ROWS", BLOCK_ROWS)
    sizes: list[int] = []

    def counted(batches: Iterable[pa.RecordBatch], rows: int | None = None) -> Iterator[pa.Table]:
        for block in io.in_blocks(batches, rows):
            sizes.append(block.num_rows)
            yield block

    for module in ("evaluation", "prediction"):
        monkeypatch.setattr(f"eagergraph.core.{module}.in_blocks", counted)
    return sizes


def _table(task: str, n: int = 240) -> pa.Table:
    """A table of the task with an id and a text column carried through to predictions."""
    rng = np.random.default_rng(8)
    a, b = rng.normal(size=n), rng.normal(size=n)
    target = {"multiclass": np.array(["low", "mid", "high"])[np.digitize(a + b + rng.normal(0, 0.5, n), [-0.7, 0.7])],
              "regression": 20 + 4 * a - 3 * b + rng.normal(0, 0.3, n)}[task]
    return pa.table({"id": np.arange(n), "note": [f"n{i % 7}" for i in range(n)], "a": a, "b": b, "y": target})


def _run(tmp_path: Path, source: Path, label: str, modes: tuple[str, ...], **options: object) -> Path:
    """A run directory through the real stages (row groups of BLOCK_ROWS rows: the `blocks` fixture)."""
    run = tmp_path / "run"
    run.mkdir()
    ingest_to(RunPaths.of(run).raw, source, label, None, 0, 0, 0, **options)
    normalize_run(run, 0.3, 3)
    engineer_run(run)
    for mode in modes:
        train_to(run, mode, "step", epochs=2, batch_size=16, hidden=8, learning_rate=0.05, seed=1, in_memory_rows=10**6)
    assert pq.ParquetFile(RunPaths.of(run).test_raw).num_row_groups > 2  # the split really comes in blocks
    return run


def _whole(run: Path, mode: str = "graph") -> tuple[pa.Table, np.ndarray]:
    """The raw test split read whole, and the mode's SavedModel's output on all of it at once."""
    paths = RunPaths.of(run)
    table = pq.read_table(paths.test_raw)
    return table, load_serving(paths.model(mode))(table)


def test_binary_evaluate_and_predict_stream_the_split_with_passthrough_columns(tmp_path: Path, blocks: list[int],
                                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    run = _run(tmp_path, ROOT / "data" / "messy.csv", "renewed", ("eager", "graph"), exclude=["cancel_fee"],
               positive_class="no", drop_invalid=True)
    metrics = evaluate_run(run)
    assert len(blocks) > 2 and sum(blocks) == metrics["test_rows"]
    assert all(size == BLOCK_ROWS for size in blocks[:-1]) and 0 < blocks[-1] <= BLOCK_ROWS  # cut to size
    table, graph = _whole(run)
    labels = table.column(LABEL).to_numpy()
    assert metrics["test_rows"] == table.num_rows
    assert metrics["graph"]["auc_max_error"] == 0.0
    scored = {k: metrics["graph"][k] for k in ("loss", "accuracy", "auc", "precision", "recall")}
    assert scored == pytest.approx(binary_metrics(labels, graph), rel=1e-9)
    _, eager = _whole(run, "eager")
    assert metrics["parity_max_abs_diff"] == pytest.approx(float(np.max(np.abs(eager - graph))), rel=1e-12, abs=0)
    # a model whose output turns NaN in a later block (it diverged) makes the run parity NaN, as over the whole split
    from eagergraph.core import evaluation

    diverged, evaluated = RunPaths.of(run).model("graph"), len(blocks)

    def loading(path: Path):
        serve, calls = load_serving(path), []

        def call(block: pa.Table) -> np.ndarray:
            calls.append(block.num_rows)
            return serve(block) if len(calls) < 3 or path != diverged else np.full(block.num_rows, np.nan)
        return call

    monkeypatch.setattr(evaluation, "load_serving", loading)
    scores = evaluation.score_blocks({m: RunPaths.of(run).model(m) for m in ("eager", "graph")}, RunPaths.of(run).test_raw,
                                     read_preprocessing(RunPaths.of(run).normalizer), compare=("eager", "graph"))
    assert np.isnan(scores.max_abs_diff)
    monkeypatch.setattr(evaluation, "load_serving", load_serving)
    del blocks[evaluated:]  # only evaluate's and predict's blocks are counted below

    result = predict_run(run)
    assert sum(blocks) == 2 * metrics["test_rows"]  # evaluate's blocks, then predict's
    written = pq.read_table(RunPaths.of(run).predictions)
    prep = read_preprocessing(RunPaths.of(run).normalizer)
    passthrough = ["customer_id", "signup_date", "cancel_fee"]  # an id, a date, an excluded column
    truth = label_values(labels, "binary", prep.classes)
    whole = table.select([*passthrough, *prep.features]).append_column(LABEL, truth)
    assert result["rows"] == written.num_rows == table.num_rows and result["columns"] == passthrough
    assert written.to_pylist() == task_table(whole, graph, "binary", prep.classes).to_pylist()
    assert result["example"]["columns"]["customer_id"] == str(written.column("customer_id")[0].as_py())
    assert result["example"]["probability"] == written.column("probability")[0].as_py()


@pytest.mark.parametrize("task", ["multiclass", "regression"])
def test_multiclass_and_regression_evaluate_and_predict_stream_the_split(task: str, tmp_path: Path,
                                                                         blocks: list[int]) -> None:
    source = tmp_path / f"{task}.csv"
    pacsv.write_csv(_table(task), source)
    run = _run(tmp_path, source, "y", ("graph",), task=task)
    metrics = evaluate_run(run)["graph"]
    assert len(blocks) > 2
    table, output = _whole(run)
    labels = table.column(LABEL).to_numpy()
    prep = read_preprocessing(RunPaths.of(run).normalizer)
    if task == "multiclass":
        whole = multiclass_metrics(labels, output)
        assert metrics["confusion_matrix"] == whole.pop("confusion_matrix") and metrics["auc_max_error"] == 0.0
    else:
        whole = regression_metrics(labels, output, prep.target["mean"])
        assert "auc_max_error" not in metrics
    assert {k: metrics[k] for k in whole} == pytest.approx(whole, rel=1e-9)

    predict_run(run)
    written = pq.read_table(RunPaths.of(run).predictions)
    truth = label_values(labels, task, prep.classes)
    selected = table.select(["id", "note", *prep.features]).append_column(LABEL, truth)
    assert written.to_pylist() == task_table(selected, output, task, prep.classes).to_pylist()
    assert read_json(RunPaths.of(run).prediction_row)["label"] == written.column(LABEL)[0].as_py()


def test_predict_input_streams_the_file_and_counts_over_all_its_blocks(tmp_path: Path, blocks: list[int]) -> None:
    """A Parquet file in row groups of 5 rows (blocks of 16) gives the same predictions and counts as the
    same rows in one group: gaps the model does not impute (fare), an infinite value and unseen values spread over
    the blocks."""
    model = export_model(tiny_model(N_INPUTS), NORMALIZER, tmp_path / "model")
    n = 23
    fare = [None if i % 7 == 3 else np.inf if i == 11 else 5.0 + i for i in range(n)]
    table = pa.table({"id": list(range(n)), "age": [None if i % 4 == 0 else 20.0 + i for i in range(n)], "fare": fare,
                      "sex": [["male", "female", "other"][i % 3] for i in range(n)],
                      "home town": [["Oslo", "Lima", "Quito", ""][i % 4] for i in range(n)],
                      "pclass": [[1, 2, 3, 7][i % 4] for i in range(n)], "alone": [i % 2 == 0 for i in range(n)]})
    pq.write_table(table, tmp_path / "blocks.parquet", row_group_size=5)
    pq.write_table(table, tmp_path / "whole.parquet")
    assert pq.ParquetFile(tmp_path / "blocks.parquet").num_row_groups == 5
    for drop_invalid in (False, True):
        for suffix in (".parquet", ".csv"):
            outputs = {name: tmp_path / f"{name}-{drop_invalid}{suffix}" for name in ("blocks", "whole")}
            results = {name: predict_file(model, tmp_path / f"{name}.parquet", out, drop_invalid)
                       for name, out in outputs.items()}
            assert {**results["blocks"], "output": None} == {**results["whole"], "output": None}
            read = pq.read_table if suffix == ".parquet" else pacsv.read_csv
            assert read(outputs["blocks"]).to_pylist() == read(outputs["whole"]).to_pylist()
    # rows 3, 10, 17 (no fare) and 11 (infinite): not predicted; among the 19 others, 'other' (rows 2, 5, 8, 14, 20),
    # 'Quito' (2, 6, 14, 18, 22) and 7 (7, 15, 19) are not in the vocabularies
    assert results["blocks"]["invalid_rows"] == 4 and results["blocks"]["invalid_values"] == {"fare": 4}
    assert results["blocks"]["rows"] == n - 4 and results["blocks"]["dropped"]
    assert results["blocks"]["unseen"] == {"sex": 5, "home town": 5, "pclass": 3}
    assert blocks[:2] == [16, 7]  # the first file cut into blocks of 16 rows (its row groups hold 5), then the whole one

