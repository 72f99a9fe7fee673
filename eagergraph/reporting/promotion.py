"""The data check and the gate's verdict as the terminal and the Prefect UI show them."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from eagergraph.metrics import CATALOGUE, DEFAULT_TASK, metric, task_of
from eagergraph.registry.bootstrap import CONFIDENCE
from eagergraph.registry.drift import summary


def verdict_lines(result: dict[str, Any]) -> list[str]:
    """What `eagergraph run` prints about the data check and the gate (rich markup)."""
    metrics = result["metrics"]
    lines = []
    check = metrics.get("data_check")
    if check:
        style = "yellow" if check["status"] in ("drift", "schema") else "default"
        lines.append(f"[{style}]{summary(check)}[/{style}]")
    if metrics.get("model_name_reason"):
        lines.append(model_line(metrics["model_name"], metrics["model_name_reason"]))
    if "promoted" in result:
        word = "[bold green]promoted[/bold green]" if result["promoted"] else "[bold yellow]refused[/bold yellow]"
        lines.append(f"gate: {word}: {result['reason']}")
        model = metrics.get("model_name")
        lines.append(f"production: {result['production'] or 'none'}" + (f" (model {model})" if model else ""))
    return lines


def model_line(name: str, reason: str) -> str:
    """Which model the run belongs to and why, as the task is shown: the name, where it came from, how to choose."""
    if reason == "chosen with --model-name":
        return f"model: {name} (chosen with --model-name)"
    return f"model: {name} ({reason}); choose with --model-name"


def print_verdict(result: dict[str, Any], console: Console) -> None:
    for line in verdict_lines(result):
        console.print(line, soft_wrap=True)  # one line each, never folded: the paths stay copyable and greppable


def verdict_markdown(metrics: dict[str, Any]) -> list[str]:
    """Markdown lines for the evaluation artifact: per-feature drift, and production vs this run side by side."""
    lines: list[str] = []
    check = metrics.get("data_check")
    if check:
        lines += ["", "## Data check against production", "", summary(check)]
        if check.get("psi"):
            lines += ["", "| feature | PSI | drifted |", "|---|---:|---|"]
            lines += [f"| {name} | {value:.4f} | {'**yes**' if name in check['drifted'] else 'no'} |"
                      for name, value in check["psi"].items()]
    gate = metrics.get("gate")
    if gate:
        lines += ["", f"## Promotion gate: {'promoted' if gate['promoted'] else 'refused'}", "", gate["reason"], ""]
        lines += ["| metric | this run | production |", "|---|---:|---:|"]
        production = gate.get("production") or {}
        for name, value in gate["candidate"].items():
            shown = metric(name)
            gated = " (gate)" if name == gate["metric"] else ""
            lines.append(f"| {shown.label}{gated} | {shown.show(value)} | {shown.show(production.get(name))} |")
        interval = gate.get("interval")
        if interval:
            gauge = metric(gate["metric"])
            lines += ["", f"Candidate − production on {gauge.label}: {interval['difference']:+{gauge.format}}, "
                          f"{CONFIDENCE:.0%} interval [{interval['low']:+{gauge.format}}, {interval['high']:+{gauge.format}}] over "
                          f"{interval['rows']:,} shared test rows (paired bootstrap, {interval['resamples']:,} resamples)"]
        if metrics.get("model_name_reason"):
            lines += ["", model_line(metrics["model_name"], metrics["model_name_reason"])]
        lines += ["", f"Production after this run: `{gate.get('production_after') or 'none'}`"]
    return lines


def runs_table(rows: list[dict[str, Any]], wide: bool = False) -> Table:
    """`eagergraph runs`: the history, newest first; each model's production run is marked.

    By default it fits about 120 columns: the run, its model, its rows, the metric its gate judged (by the name
    `--gate-metric` takes), the speedup and the verdict. `wide` adds the start time, the data, every catalogue
    metric of the tasks the rows hold (in catalogue order, "–" where a run's task has none), the graph variant
    and the flow run."""
    table = Table(title="Runs, newest first (* = production of its model)")
    if not wide:
        for name, justify in (("run", "left"), ("model", "left"), ("rows", "right"), ("gate metric", "right"),
                              ("speedup", "right"), ("verdict", "left")):
            table.add_column(name, justify=justify, max_width=18 if name == "model" else None,
                             overflow="ellipsis", no_wrap=True)
        for r in rows:
            gated = r.get("gate_metric")
            table.add_row(("* " if r["production"] else "") + r["run"], r.get("model_name") or "–",
                          _number(r["rows"], ","), f"{gated} {metric(gated).show(r.get(gated))}" if gated else "–",
                          _number(r["speedup"], ".1f"), r["verdict"] or "–")
        return table
    tasks = {task_of(r) for r in rows} or {DEFAULT_TASK}
    shown = [m for m in CATALOGUE if any(task in m.tasks for task in tasks)]
    for name in ("run", "when (UTC)", "model", "data", "rows"):
        table.add_column(name, justify="right" if name == "rows" else "left")
    for m in shown:
        table.add_column(m.label, justify="right")
    for name in ("speedup", "variant", "verdict", "flow run"):
        table.add_column(name, justify="right" if name == "speedup" else "left")
    for r in rows:
        table.add_row(("* " if r["production"] else "") + r["run"], r["when"] or "–", r.get("model_name") or "–",
                      str(r["data"]), _number(r["rows"], ","), *(m.show(r.get(m.name)) for m in shown),
                      _number(r["speedup"], ".1f"), r["variant"] or "–", r["verdict"] or "–", r["flow_run_id"] or "–")
    return table


def _number(value: Any, fmt: str) -> str:
    return "–" if value is None else f"{value:{fmt}}"
