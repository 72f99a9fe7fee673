"""What the reports render, without a server: artifact keys, bounded epoch logging, chart PNGs, the evaluation
markdown (pure functions of eagergraph.reporting)."""

from __future__ import annotations

from eagergraph.reporting.artifacts import artifact_key, evaluation_markdown, trace_rows
from eagergraph.reporting.charts import data_uri_image, ranking_png, step_times_png, training_curves_png
from eagergraph.reporting.monitor import logged_epochs


def test_artifact_keys_are_what_prefect_accepts() -> None:
    assert artifact_key("trace", "Eager_Mode") == "eagergraph-trace-eager-mode"
    assert artifact_key("evaluation") == "eagergraph-evaluation"


def test_long_trainings_log_at_most_twenty_epoch_lines() -> None:
    for epochs in (1, 5, 20, 21, 37, 1000):
        shown = [epoch for epoch in range(1, epochs + 1) if logged_epochs(epochs)(epoch)]
        assert shown[0] == 1 and shown[-1] == epochs and len(shown) <= 20
    assert [e for e in range(1, 6) if logged_epochs(5)(e)] == [1, 2, 3, 4, 5]  # short trainings: every epoch


def _history(losses: list[float]) -> list[dict]:
    return [{"epoch": i + 1, "loss": loss, "accuracy": 0.5} for i, loss in enumerate(losses)]


PNG = b"\x89PNG\r\n\x1a\n"


def _size(png: bytes) -> tuple[int, int]:
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


def test_charts_are_small_pngs() -> None:
    metrics = {"eager": {"median_step_ms": 50.0, "train_seconds": 6.0, "trace_seconds": 0.0, "steady_seconds": 6.0},
               "graph": {"median_step_ms": 0.3, "train_seconds": 1.0, "trace_seconds": 0.8, "steady_seconds": 0.2},
               "graph_variant": "fused"}
    ranking = [{"name": f"c{i}", "auc": 0.9 - i / 100} for i in range(3)]
    for png in (training_curves_png({"eager": _history([1.0, 0.5, 0.1]), "graph": _history([1.0, 0.6, 0.1])}, "fused"),
                step_times_png(metrics), ranking_png(ranking)):
        assert png.startswith(PNG) and 2_000 < len(png) < 80_000  # tens of kB: fine inside an artifact
        width, height = _size(png)
        assert 300 <= width <= 700 and 100 <= height <= 400
    assert data_uri_image(PNG, "x") == "![x](data:image/png;base64,iVBORw0KGgo=)"


def test_evaluation_markdown_puts_modes_side_by_side() -> None:
    mode = {"loss": 0.2, "accuracy": 0.9, "auc": 0.95, "precision": 0.8, "recall": 0.7, "train_seconds": 3.0,
            "history": _history([0.5, 0.2])}
    text = evaluation_markdown({"eager": mode, "graph": {**mode, "train_seconds": 0.5}, "speedup": 6.0,
                                "parity_max_abs_diff": 1e-7, "graph_variant": "fused"},
                               {"probability": [0.25], "predicted": 1}, "/runs/x", {"Curves": "![curves](data:...)"})
    assert "| metric | eager | graph (fused) |" in text
    assert "| train seconds | 3.000 | 0.500 |" in text
    assert "| speedup (tracing included) | 6.00x |" in text
    assert "| probability | 0.25 |" in text and "/runs/x" in text
    assert text.index("| metric |") < text.index("## Curves\n\n![curves](data:...)")
    assert trace_rows(_history([0.5]))[0] == {"epoch": 1, "loss": 0.5, "accuracy": 0.5}


def test_the_data_lines_name_categorical_columns_with_their_values_and_the_imputed_gaps() -> None:
    from eagergraph.reporting.terminal import data_lines

    lines = data_lines({"features": ["age", "sex", "port"], "categorical": ["sex", "port"], "distinct": {"sex": 2, "port": 1},
                        "missing_values": {"age": 177}, "impute": "median", "left_out": {"name": "text, 891 distinct values"},
                        "classes": [0, 1]})
    assert lines[0] == "features (3): age, sex (categorical, 2 values), port (categorical, 1 value)"
    assert lines[1] == "missing numeric values: age 177 (imputed with the train split's median, plus a missing indicator)"
    assert "left out: name (text, 891 distinct values)" in lines


def test_the_predictions_line_names_the_outputs_as_predictions_parquet_has_them() -> None:
    from eagergraph.reporting.terminal import predictions_line

    binary, metrics = {"passthrough": ["id"], "features": ["x"], "classes": [0, 1]}, {"task": "binary", "test_rows": 20}
    assert predictions_line(binary, metrics) == \
        "predictions.parquet: 20 test rows: id, the features, label, predicted, probability"
    clash = {**binary, "passthrough": ["id", "predicted"]}  # a user's own predicted column is kept as it is
    assert predictions_line(clash, metrics).endswith("id, predicted, the features, label, model_predicted, "
                                                     "model_probability")
    multiclass = {"passthrough": [], "features": ["probability_b"], "classes": ["a", "b"]}
    assert predictions_line(multiclass, {"task": "multiclass", "test_rows": 5}).endswith(
        "label, model_predicted, model_probability, model_probability_<class> per class")
    assert predictions_line({"features": ["x"]}, {"task": "regression", "test_rows": 5}).endswith("label, predicted")
