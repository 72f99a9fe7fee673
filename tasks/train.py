"""train: the Prefect task over eagergraph.core.training."""

from __future__ import annotations

from pathlib import Path

from prefect import get_run_logger, task

from eagergraph.core.training import train_to
from eagergraph.core.variants import GraphVariant, Mode
from eagergraph.rundir.paths import RunPaths


def _training_task(mode: Mode, run_dir: str, variant: GraphVariant, **params) -> dict:
    from prefect.artifacts import create_progress_artifact, update_progress_artifact

    from eagergraph.data.io import read_json
    from eagergraph.reporting.artifacts import artifact_key, publish_trace
    from eagergraph.reporting.monitor import EpochMonitor

    logger = get_run_logger()
    progress = create_progress_artifact(0.0, key=artifact_key("training-progress", mode),
                                        description=f"Epochs of the {mode} training done, in percent.")
    monitor = EpochMonitor(run_dir, mode, params["epochs"], logger.info,
                           lambda percent: update_progress_artifact(progress, percent))
    try:
        result = train_to(Path(run_dir), mode, variant, on_epoch=monitor, **params)
    finally:
        monitor.close()
    publish_trace(mode, read_json(RunPaths.of(run_dir).history(mode))["history"])
    variant = f" ({result['variant']}: {result['variant_reason']})" if result["variant"] else ""
    logger.info(f"{mode}{variant} trained in {result['train_seconds']:.2f}s (tracing and compiling {result['trace_seconds']:.2f}s, "
                f"median step {result['median_step_ms']:.3f} ms)" + (
                    f"; bounded to {result['steps']} of {result['full_steps']} steps, full run extrapolated to "
                    f"{result['full_train_seconds']:.1f}s" if result["bounded"] else ""))
    return result


@task(name="train-eager")
def train_eager(run_dir: str, epochs: int, batch_size: int, hidden: int, learning_rate: float, seed: int,
                in_memory_rows: int, max_steps: int | None = None) -> dict:
    """Train with eager execution: the step body runs op by op, no tf.function anywhere on its path."""
    return _training_task("eager", run_dir, "step", epochs=epochs, batch_size=batch_size, hidden=hidden,
                          learning_rate=learning_rate, seed=seed, in_memory_rows=in_memory_rows, max_steps=max_steps)


@task(name="train-graph")
def train_graph(run_dir: str, variant: GraphVariant, epochs: int, batch_size: int, hidden: int, learning_rate: float, seed: int,
                in_memory_rows: int) -> dict:
    """Train with graph execution: the same step body inside tf.function, in the configured variant."""
    return _training_task("graph", run_dir, variant, epochs=epochs, batch_size=batch_size, hidden=hidden,
                          learning_rate=learning_rate, seed=seed, in_memory_rows=in_memory_rows)
