"""Decisions that cannot race (issue 24): concurrent runs of different quality, each judged against the production
it read without the lock, then recorded at the same moment. record-verdict moves the pointer only if production
is still the run the verdict was judged against (check and set under the registry lock), so production never ends
worse than a model it replaced by more than the tolerance. Real processes, real files, no TensorFlow."""

from __future__ import annotations

import multiprocessing
from pathlib import Path
from typing import Any

from eagergraph.registry.gate import decide, rules_of
from eagergraph.registry.registry import production_run, read_registry, record

TOLERANCE = 0.01
QUALITY = {"a": 0.80, "b": 0.95, "c": 0.70, "d": 0.90, "e": 0.85, "f": 0.99}  # each worker's candidates' AUC


def _metrics(auc: float) -> dict[str, float]:
    return {"loss": 0.3, "accuracy": 0.8, "auc": auc, "precision": 0.8, "recall": 0.8}


def _run_dir(artifacts: Path, name: str) -> Path:
    run = artifacts / f"20260101T0000000000{ord(name):02d}Z-{name}"
    (run / "models" / "graph").mkdir(parents=True)
    (run / "models" / "graph" / "saved_model.pb").write_bytes(b"")
    return run


def _worker(artifacts: Path, names: list[str], barrier: Any, after: Any, done: Any) -> None:
    rules = rules_of(gate_tolerance=TOLERANCE)
    for round_, name in enumerate(names):
        production = production_run(artifacts, "arrests")  # read without the lock, as the gate stage reads it
        judged = None if production is None else _metrics(QUALITY[production.name[-1]])
        verdict = decide(_metrics(QUALITY[name]), judged, rules)
        verdict = {**verdict, "model_name": "arrests", "production_run": production.name if production else None}
        barrier.wait()  # every worker has judged against the same production before any records
        if round_ == 0 and after is not None:
            after.wait()  # round 1 records in a fixed order (the worst case: the best first); round 2 races freely
        record(artifacts, _run_dir(artifacts, name), verdict)
        if round_ == 0:
            done.set()


def test_concurrent_runs_never_leave_production_worse_than_a_model_it_replaced(tmp_path: Path) -> None:
    first = _run_dir(tmp_path, "p")
    QUALITY["p"] = 0.75
    record(tmp_path, first, {**decide(_metrics(0.75), None, rules_of()), "model_name": "arrests", "production_run": None})
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(3)
    batches = [["b", "e"], ["a", "d"], ["c", "f"]]  # round 1 records b 0.95, then a 0.80, then c 0.70; round 2: e, d, f
    done = [context.Event() for _ in batches]
    workers = [context.Process(target=_worker, args=(tmp_path, batch, barrier, done[i - 1] if i else None, done[i]))
               for i, batch in enumerate(batches)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    entries = read_registry(tmp_path)
    assert len(entries) == 7  # every verdict recorded
    promotions = [(e["previous"], e["run"]) for e in entries if e["action"] == "promote"]
    for previous, run in promotions[1:]:  # each replacement: no worse than what it replaced beyond the tolerance
        assert QUALITY[run[-1]] >= QUALITY[previous[-1]] - TOLERANCE, (previous, run)
    # a (0.80), judged against p (0.75) but recorded after b (0.95) replaced p: refused, saying production changed
    late = next(e for e in entries if e["run"].endswith("-a"))
    assert late["action"] == "refuse" and late["judged_against"].endswith("-p") and late["previous"].endswith("-b")
    assert late["reason"].startswith("production changed while this run was judged (judged against ")
    assert QUALITY[production_run(tmp_path, "arrests").name[-1]] >= max(QUALITY[r[-1]] for _, r in promotions) - TOLERANCE
