"""Words the user reads, written once: counts with the right plural, the label of a trained mode."""

from __future__ import annotations


def plural(count: int, word: str, many: str | None = None) -> str:
    """`1 row`, `2 rows`, `0 rows`: the count with the noun in the right number (`many` for irregular ones)."""
    return f"{count} {word if count == 1 else (many or word + 's')}"


def mode_label(mode: str, graph_variant: str | None) -> str:
    """How a trained mode is named in tables, charts and artifacts: `eager`, or `graph (fused)` with the graph
    variant that ran (plain `graph` when none is recorded)."""
    return f"graph ({graph_variant})" if mode == "graph" and graph_variant else mode
