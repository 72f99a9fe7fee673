"""The data check and the gate's verdict as the terminal and the Prefect UI show them."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from eagergraph.registry.drift import summary


def verdict_lines(result: dict[str, Any]) -> list[str]:
    """What `eagergraph run` prints about the data check and the gate (rich markup)."""
    metrics = result["metrics"]
    lines = []
    check = metrics.get("data_check")
    if check:
        style = "yellow" if check["status"] in ("drift", "schema") else "default"
        lines.append(f"[{style}]{summary(check)}[/{style}]")
    if "promoted" in result:
        word = "[bold green]promoted[/bold green]" if result["promoted"] else "[bold yellow]refused[/bold yellow]"
        lines.append(f"gate: {word}: {result['reason']}")
        lines.append(f"production: {result['production'] or 'none'}")
    return lines


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
            before = f"{production[name]:.4f}" if name in production else "–"
            lines.append(f"| {name}{' (gate)' if name == gate['metric'] else ''} | {value:.4f} | {before} |")
        lines += ["", f"Production after this run: `{gate.get('production_after') or 'none'}`"]
    return lines


def runs_table(rows: list[dict[str, Any]]) -> Table:
    """`eagergraph runs`: the history, newest first; the production run is marked."""
    table = Table(title="Runs, newest first (* = production)")
    for name in ("run", "when (UTC)", "data", "rows", "accuracy", "AUC", "speedup", "variant", "verdict", "flow run"):
        table.add_column(name, justify="right" if name in ("rows", "accuracy", "AUC", "speedup") else "left")

    def number(value: Any, fmt: str) -> str:
        return "–" if value is None else f"{value:{fmt}}"

    for r in rows:
        table.add_row(("* " if r["production"] else "") + r["run"], r["when"] or "–", str(r["data"]), number(r["rows"], ","),
                      number(r["accuracy"], ".4f"), number(r["auc"], ".4f"), number(r["speedup"], ".1f"),
                      r["variant"] or "–", r["verdict"] or "–", r["flow_run_id"] or "–")
    return table
