"""What `eagergraph run` prints: the training trace of both modes, the evaluation side by side, the prediction."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from eagergraph.core.outputs import output_names
from eagergraph.data.io import LABEL
from eagergraph.data.selection import ID_REASON
from eagergraph.data.task import task_line
from eagergraph.metrics import DEFAULT_TASK, POSITIVE, metrics_for, positive_class, task_of
from eagergraph.modes import MODES
from eagergraph.reporting.artifacts import (
    auc_bound_line,
    confusion_of,
    drift_epoch_text,
    ranked_metrics,
    step_parity_line,
    trace_keys,
)
from eagergraph.reporting.promotion import print_verdict
from eagergraph.text import mode_label, plural

TIMINGS = ("train_seconds", "trace_seconds", "median_step_ms")  # after the task's catalogue metrics


def _modes(metrics: dict) -> list[str]:
    return [mode for mode in MODES if mode in metrics]  # a run may train one mode only


def trace_table(metrics: dict) -> Table:
    """Loss per epoch of each mode, and accuracy where the history has it (classification)."""
    modes = _modes(metrics)
    table = Table(title="Training trace (train split)")
    table.add_column("epoch", justify="right")
    keys = trace_keys(metrics)
    for mode in modes:
        for key in keys:
            table.add_column(f"{mode} {key}", justify="right")
    by_epoch: dict[int, list[str]] = {}
    width = len(keys)
    for i, mode in enumerate(modes):
        for entry in metrics[mode]["history"]:
            row = by_epoch.setdefault(entry["epoch"], [""] * width * len(modes))
            row[width * i:width * (i + 1)] = [f"{entry[key]:.4f}" if key in entry else "–" for key in keys]
    for epoch in sorted(by_epoch):
        table.add_row(str(epoch), *by_epoch[epoch])
    return table


def evaluation_table(metrics: dict) -> Table:
    """The task's catalogue metrics (label and format from the catalogue), then the timings, one column per mode."""
    modes = _modes(metrics)
    positive = f" (positive class {metrics['positive_class']!r})" if metrics.get("positive_class") is not None else ""
    table = Table(title=f"Evaluation on {plural(metrics['test_rows'], 'test row')}{positive}")
    table.add_column("metric")
    for mode in modes:
        table.add_column(mode_label(mode, metrics.get("graph_variant")), justify="right")
    for m in metrics_for(task_of(metrics)):
        table.add_row(m.label, *(m.show(metrics[mode].get(m.name)) for mode in modes))
    for name in TIMINGS:
        table.add_row(name, *("–" if metrics[mode].get(name) is None else f"{metrics[mode][name]:.4f}" for mode in modes))
    return table


def confusion_table(metrics: dict) -> Table | None:
    """A multiclass run's confusion matrix on the test split (its served model's): rows are the true classes."""
    labels, matrix = confusion_of(metrics)
    if matrix is None:
        return None
    table = Table(title="Confusion matrix (test split; rows: true class, columns: predicted)")
    table.add_column("true class")
    for label in labels:
        table.add_column(label, justify="right")
    for label, row in zip(labels, matrix):
        table.add_row(label, *(str(count) for count in row))
    return table




def data_lines(result: dict) -> list[str]:
    """The data a run used: its features, the columns left out and why, and the positive class."""
    if "features" not in result:
        return []
    categorical, distinct = result.get("categorical", []), result.get("distinct", {})
    shown = [f"{name} (categorical, {plural(distinct[name], 'value')})" if name in distinct
             else f"{name} (categorical)" if name in categorical else name for name in result["features"]]
    lines = [f"features ({len(shown)}): {', '.join(shown)}"]
    if result.get("missing_values"):
        how = f"imputed with the train split's {result['impute']}, plus a missing indicator" \
            if result.get("impute", "none") != "none" else "rows dropped"
        counts = ", ".join(f"{name} {count}" for name, count in result["missing_values"].items())
        lines.append(f"missing numeric values: {counts} ({how})")
    left_out = [f"{name} ({why})" for name, why in result.get("left_out", {}).items()]
    if left_out:
        lines.append(f"left out: {', '.join(left_out)}")
    ids = [name for name, why in result.get("left_out", {}).items() if why == ID_REASON]
    if ids:
        lines.append(f"set aside as row ids (integers or text, unique on every row): {', '.join(ids)}; name in --features to use")
    if result.get("task_reason"):
        lines.append(task_line(result["task"], result["task_reason"]))
    classes = result.get("classes")
    if classes and task_of(result.get("metrics") or {}) == "binary":
        lines.append(f"positive class: {positive_class(classes)!r} (other: {classes[1 - POSITIVE]!r}); precision, recall, probability are about it")
    return lines


def example_line(example: dict) -> str:
    """The run's example prediction: a real test row, with its true label."""
    where = ", ".join(f"{name} {value}" for name, value in list(example.get("columns", {}).items())[:2])
    row = f"{example.get('row', '1 row')}{f' ({where})' if where else ''}"
    truth = f"; true label {example['label']}" if "label" in example else ""
    if not isinstance(example.get("probability"), (int, float)):  # regression: a value in the target's units
        return f"prediction (SavedModel reloaded from disk): {row} → {_cell_value(example.get('predicted'))}{truth}"
    return (f"prediction (SavedModel reloaded from disk): {row} → [{example['probability']:.2f}] "
            f"class {example['predicted']}{truth}")


def _cell_value(value: object) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def stopping_line(metrics: dict) -> str | None:
    """What early stopping did, per trained mode: the epoch kept, the last epoch run and why it ended."""
    parts = []
    for mode in ("eager", "graph"):
        m = metrics.get(mode)
        if not m or not m.get("stopped_epoch"):
            continue
        why = (m.get("stop_reason") or ("bounded by --eager-max-steps" if m.get("bounded") else "the maximum, --epochs"))
        why = f" ({why})"
        parts.append(f"{mode} kept epoch {m['best_epoch']} of {m['stopped_epoch']}{why}")
    return "early stopping: " + "; ".join(parts) if parts else None


def stop_epochs_text(metrics: dict) -> str:
    """Run parity's stop epochs: `; both stopped at epoch N` when the modes agree (a differing pair has its note)."""
    stops = metrics.get("parity_stop_epochs")
    if not stops or stops["eager"] != stops["graph"] or stops["eager"][1] is None:
        return ""
    return f"; both kept epoch {stops['eager'][0]} and stopped after epoch {stops['eager'][1]}"


def print_run(result: dict, console: Console | None = None) -> None:
    """Render a finished run for the terminal (stdout); the CLI ends it with the flow-run link and run directory."""
    console = console or Console()
    metrics = result["metrics"]
    for line in data_lines(result):
        console.print(line, markup=False, highlight=False)
    console.print(trace_table(metrics))
    console.print(evaluation_table(metrics))
    bound = auc_bound_line(metrics)
    if bound:
        console.print(bound, markup=False, highlight=False, soft_wrap=True)
    confusion = confusion_table(metrics)
    if confusion is not None:
        console.print(confusion)
    eager = metrics.get("eager")
    if eager and eager.get("bounded"):
        console.print(f"eager was bounded to {eager['steps']} of {plural(eager['full_steps'], 'step')} (--eager-max-steps); "
                      f"its full training time is extrapolated to {eager['full_train_seconds']:.1f}s")
    if metrics["speedup"] is None:
        console.print("speedup and run parity: not measured (only one mode was trained)")
    else:
        console.print(f"speedup (eager / graph training time, tracing included): [bold]{metrics['speedup']:.1f}x[/bold]; "
                      f"steady state {metrics['steady_speedup']:.1f}x")
    stopped = stopping_line(metrics)
    if stopped:
        console.print(stopped, markup=False, highlight=False, soft_wrap=True)
    if metrics["parity_max_abs_diff"] is not None:
        drift = drift_epoch_text(metrics)
        console.print(f"run parity: max |eager − graph| on test predictions {metrics['parity_max_abs_diff']:.2e}, "
                      f"on weights {metrics['weights_max_abs_diff']:.2e}" + stop_epochs_text(metrics)
                      + (f"; weights differ by more than 1e-4 {drift}" if drift else ""), markup=False, highlight=False,
                      soft_wrap=True)
    elif eager and eager.get("bounded"):
        console.print("run parity: not comparable (eager trained fewer steps)")
    step = step_parity_line(metrics)
    if step:
        console.print(step, markup=False, highlight=False, soft_wrap=True)
    if metrics.get("parity_note"):  # one line, never folded: greppable in a log
        console.print(metrics["parity_note"], markup=False, highlight=False, soft_wrap=True)
    if result.get("dropped_rows"):
        counts = ", ".join(f"{name}: {count}" for name, count in result["invalid_values"].items())
        console.print(f"--drop-invalid: dropped {plural(result['dropped_rows'], 'row')} with missing, NaN or infinite "
                      f"values ({counts})")
    console.print(example_line(result["prediction"]), markup=False, highlight=False)
    console.print(predictions_line(result, metrics), markup=False, highlight=False)
    print_verdict(result, console)


def predictions_line(result: dict, metrics: dict) -> str:
    """What predictions.parquet holds: the passthrough columns, the features, the label, then the model's outputs
    by the names they took there (`model_predicted`, ... beside a user's own `predicted` column: `output_names`)."""
    passthrough, task = result.get("passthrough", []), task_of(metrics)
    names = output_names([*passthrough, *result.get("features", []), LABEL], result.get("classes") or [], task)
    prefix = names["predicted"].removesuffix("predicted")
    outputs = ["predicted"] + {"binary": ["probability"], "multiclass": ["probability", "probability_<class> per class"]
                               }.get(task, [])
    outputs = [prefix + name for name in outputs]
    return f"predictions.parquet: {plural(metrics['test_rows'], 'test row')}: " \
           f"{', '.join([*passthrough, 'the features', 'label', *outputs])}"


def data_bench_table(results: list[dict]) -> Table:
    """`eagergraph bench-data`: rows per second per data stage, together, and peak memory, per table size."""
    table = Table(title="Data stages on synthetic data (rows per second; one fresh process per size)")
    for name in ("rows", "ingest", "normalize", "engineer-features", "three together", "peak memory"):
        table.add_column(name, justify="right")
    for r in results:
        rates = r["rows_per_second"]
        table.add_row(f"{r['rows']:,}", *(f"{rates[s]:,.0f}" for s in ("ingest", "normalize", "engineer-features")),
                      f"{r['together_rows_per_second']:,.0f}", f"{r['peak_memory_bytes'] / 2**30:.2f} GiB")
    return table


def sweep_table(ranking: list[dict], task: str = DEFAULT_TASK) -> Table:
    """`eagergraph sweep`: the candidates ranked by their metrics on the ranking split (each row's `ranked_on`; test
    in rankings written before the validation split), best first; the metric columns are the task's catalogue
    metrics the ranking holds."""
    shown = ranked_metrics(ranking, task)
    split = ranking[0].get("ranked_on", "test") if ranking else "validation"
    table = Table(title=f"Sweep: candidates ranked by their {split} metrics, best first")
    for name in ("rank", "learning rate", "hidden", "batch", "variant", *(f"{split} {m.label}" for m in shown), "train s"):
        table.add_column(name, justify="right")
    for r in ranking:
        table.add_row(str(r["rank"]), f"{r['learning_rate']:g}", str(r["hidden"]), str(r["batch_size"]), r["variant"],
                      *(m.show(r.get(m.name)) for m in shown), f"{r['train_seconds']:.2f}")
    return table


def print_sweep(result: dict, console: Console | None = None) -> None:
    """Render a finished sweep: the ranking, then the best model's evaluation as a normal run shows it."""
    console = console or Console()
    for line in data_lines(result):
        console.print(line, markup=False, highlight=False)
    console.print(sweep_table(result["ranking"], task_of(result["metrics"])))
    console.print(f"best: [bold]{result['best']['name']}[/bold], exported as the run's graph model")
    console.print(evaluation_table(result["metrics"]))
    print_verdict(result, console)
