"""train-eager and train-graph: the Prefect tasks over eagergraph.core.training (one kind of stage, two modes)."""

from __future__ import annotations

from pathlib import Path

from prefect import get_run_logger, task

from eagergraph.core.training import train_to
from eagergraph.modes import GraphVariant, Mode
from eagergraph.text import plural


def _training_task(mode: Mode, run_dir: str, variant: GraphVariant, **params) -> dict:
    from eagergraph.reporting.artifacts import publish_trace
    from eagergraph.reporting.monitor import watched_training

    logger = get_run_logger()
    with watched_training(run_dir, mode, params["epochs"], logger.info) as monitor:
        result = train_to(Path(run_dir), mode, variant, on_epoch=monitor, **params)
    publish_trace(mode, result.pop("history"))  # the history is in <mode>_history.json; the task returns the figures
    variant = f" ({result['variant']}: {result['variant_reason']})" if result["variant"] else ""
    logger.info(f"{mode}{variant} trained in {result['train_seconds']:.2f}s (tracing and compiling {result['trace_seconds']:.2f}s, "
                f"median step {result['median_step_ms']:.3f} ms)" + (
                    f"; bounded to {result['steps']} of {plural(result['full_steps'], 'step')}, full run extrapolated to "
                    f"{result['full_train_seconds']:.1f}s" if result["bounded"] else ""))
    return result


@task(name="train-eager")
def train_eager(run_dir: str, epochs: int, batch_size: int, hidden: int, learning_rate: float, seed: int,
                in_memory_rows: int, max_steps: int | None = None, patience: int | None = None) -> dict:
    """Train with eager execution: the step body runs op by op, no tf.function anywhere on its path."""
    return _training_task("eager", run_dir, "step", epochs=epochs, batch_size=batch_size, hidden=hidden,
                          learning_rate=learning_rate, seed=seed, in_memory_rows=in_memory_rows, max_steps=max_steps,
                          patience=patience)


@task(name="train-graph")
def train_graph(run_dir: str, variant: GraphVariant, epochs: int, batch_size: int, hidden: int, learning_rate: float, seed: int,
                in_memory_rows: int, patience: int | None = None) -> dict:
    """Train with graph execution: the same step body inside tf.function, in the configured variant."""
    return _training_task("graph", run_dir, variant, epochs=epochs, batch_size=batch_size, hidden=hidden,
                          learning_rate=learning_rate, seed=seed, in_memory_rows=in_memory_rows, patience=patience)
