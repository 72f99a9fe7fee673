"""A registry writer for the concurrency test of tests/cli/test_gate.py, in a module of its own: each of the test's
spawned processes imports only this and the registry, not the test module and everything it imports."""

from __future__ import annotations

from pathlib import Path

from eagergraph.registry.gate import decide, rules_of
from eagergraph.registry.registry import record


def record_at_once(artifacts: str, name: str, barrier: object) -> None:
    """Wait for every writer at the barrier, then record run `name` as promoted."""
    barrier.wait()  # type: ignore[attr-defined]
    metrics = {"loss": 0.3, "accuracy": 0.9, "auc": 0.95, "precision": 0.9, "recall": 0.9}
    record(Path(artifacts), Path(artifacts) / name, decide(metrics, None, rules_of()), flow_run_id=name)
