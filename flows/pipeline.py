"""The training flow: seven tasks wired in order; the stages live in tasks/, their logic in the eagergraph package."""

# No `from __future__ import annotations` here: a deployment loads this file by its entrypoint, and Prefect
# validates the parameters against the real PipelineConfig class, which a string annotation would hide.
import time
from typing import Any

from eagergraph.tasks.features import engineer_features
from eagergraph.tasks.ingest import ingest
from eagergraph.tasks.normalize import normalize
from eagergraph.tasks.partitions import ingest_partition, merge_partitions
from prefect import flow
from prefect.runtime import flow_run

from eagergraph.cli.quiet import start_tensorflow
from eagergraph.config import PipelineConfig
from eagergraph.data.partitions import partition_files
from eagergraph.orchestration.caching import cached
from eagergraph.orchestration.naming import flow_run_name, run_tags
from eagergraph.orchestration.runners import task_runner
from eagergraph.reporting.artifacts import publish_run_report
from eagergraph.rundir.manifest import peak_memory_bytes, write_manifest
from eagergraph.rundir.paths import RunPaths, StagedRun

FLOW_NAME = "eagergraph-training"


def _model_stages() -> tuple[Any, Any, Any, Any]:
    """The TensorFlow stages, imported once the data stages have passed: bad data fails in seconds, before
    TensorFlow's start-up (whose native notices are kept off stderr unless debugging)."""
    start_tensorflow()
    from eagergraph.tasks.evaluate import evaluate
    from eagergraph.tasks.predict import predict
    from eagergraph.tasks.train import train_eager, train_graph

    return train_eager, train_graph, evaluate, predict


def _on_workers() -> bool:
    """Whether stages go to the task runner's worker processes (Dask). With the default thread runner they run in
    the flow's own thread, one at a time: TensorFlow never shares a process's threads, and an interrupt (SIGINT,
    SIGTERM) stops the training itself instead of waiting for a worker thread to finish it."""
    from prefect.context import FlowRunContext
    from prefect.task_runners import ThreadPoolTaskRunner

    context = FlowRunContext.get()
    return context is not None and not isinstance(context.task_runner, ThreadPoolTaskRunner)


def _timed(seconds: dict[str, float], stage: Any, *args: Any, **kwargs: Any) -> Any:
    """Run a stage and wait for it: in the flow's thread, or on a Dask worker process."""
    started = time.perf_counter()
    result = stage.submit(*args, **kwargs).result() if _on_workers() else stage(*args, **kwargs)
    seconds[stage.name] = time.perf_counter() - started
    return result


def _data_stages(c: PipelineConfig, work: str, seconds: dict[str, float]) -> tuple[dict, dict]:
    """ingest and normalize; a folder of Parquet partitions goes partition by partition, in parallel on the runner."""
    files = partition_files(c.data)
    if not files:
        reading = ingest.with_options(retries=c.ingest_retries, retry_delay_seconds=c.ingest_retry_delay)
        raw = _timed(seconds, cached(reading, c.refresh), work, str(c.data) if c.data else None, c.label, c.features,
                     c.rows, c.n_features, c.seed, c.drop_invalid, c.exclude, c.positive_class)
        return raw, _timed(seconds, cached(normalize, c.refresh), work, c.test_fraction, c.seed)
    started = time.perf_counter()
    futures = [ingest_partition.submit(work, str(c.data), file, index, c.label, c.features, c.test_fraction, c.seed,
                                       c.drop_invalid, c.exclude)
               for index, file in enumerate(files)]
    parts = [future.result() for future in futures]
    seconds[ingest_partition.name] = time.perf_counter() - started
    merged = _timed(seconds, merge_partitions, work, parts, str(c.data), c.label, c.drop_invalid, c.positive_class)
    raw = {**merged, "rows_per_second": merged["rows"] / seconds[ingest_partition.name],
           "partitions": [{key: part[key] for key in ("file", "rows", "pid")} for part in parts]}
    return raw, merged


def data_stages(c: PipelineConfig, work: str, seconds: dict[str, float]) -> tuple[dict, dict, dict]:
    """ingest, normalize and engineer-features (cached, or partition by partition): what every flow starts with."""
    raw, split = _data_stages(c, work, seconds)
    return raw, split, _timed(seconds, cached(engineer_features, c.refresh), work)


def manifest_fields(c: PipelineConfig, seconds: dict[str, float], raw: dict, split: dict, feats: dict) -> dict:
    """What every flow's manifest.json records about the config, the data stages and the process."""
    return dict(config=c.model_dump(mode="json"), flow_run_id=str(flow_run.get_id()), stage_seconds=seconds,
                features=raw["features"], classes=raw["classes"], positive_class=raw["positive_class"],
                left_out=raw["left_out"], passthrough=raw["passthrough"],
                rows={"raw": raw["rows"], "train": split["train_rows"], "test": split["test_rows"], "dropped": raw["dropped_rows"]},
                rows_per_second={"ingest": raw["rows_per_second"], "normalize": split["rows_per_second"],
                                 "engineer-features": feats["rows_per_second"]},
                peak_memory_bytes=peak_memory_bytes(), partitions=raw.get("partitions", []))


def data_summary(raw: dict) -> dict:
    """What a run tells the user about their data: features used, columns left out and why, classes, dropped rows."""
    return {"source": raw.get("source"), "features": raw["features"], "left_out": raw["left_out"],
            "passthrough": raw["passthrough"], "classes": raw["classes"], "positive_class": raw["positive_class"],
            "dropped_rows": raw["dropped_rows"], "invalid_values": raw.get("invalid_values", {})}


@flow(name=FLOW_NAME, description="Train one Keras model eagerly and as a graph, and compare them.",
      flow_run_name=flow_run_name)
def training_pipeline(config: PipelineConfig = PipelineConfig()) -> dict:
    """ingest → normalize → engineer-features → train-eager → train-graph → evaluate → predict."""
    c = config
    seconds: dict[str, float] = {}
    with StagedRun(c.artifacts) as run:
        work = str(run.work.resolve())  # absolute: Dask workers need not share this process's working directory
        raw, split, feats = data_stages(c, work, seconds)
        train_eager, train_graph, evaluate, predict = _model_stages()
        training = dict(epochs=c.epochs, batch_size=c.batch_size, hidden=c.hidden, learning_rate=c.learning_rate, seed=c.seed,
                        in_memory_rows=c.in_memory_rows)
        if "eager" in c.trained_modes:
            _timed(seconds, train_eager, work, max_steps=c.eager_max_steps, **training)
        if "graph" in c.trained_modes:
            _timed(seconds, train_graph, work, variant=c.graph_variant, **training)
        metrics = _timed(seconds, evaluate, work)
        prediction = _timed(seconds, predict, work)
        write_manifest(run.work, **manifest_fields(c, seconds, raw, split, feats),
                       figures={"training_curves": RunPaths.of(run.final).training_curves.name,
                                "tensorboard": RunPaths.of(run.final).tensorboard().name})
    publish_run_report(run.final, metrics, prediction["example"])
    return {"run_dir": str(run.final), "flow_run_id": str(flow_run.get_id()), "metrics": metrics,
            "prediction": prediction["example"], "stage_seconds": seconds, **data_summary(raw)}


def run_pipeline(config: PipelineConfig) -> dict:
    """The training flow on the task runner the config names (threads, or Dask worker processes), tagged with its data."""
    from prefect import tags

    with tags(*run_tags(config.data)):
        return training_pipeline.with_options(task_runner=task_runner(config))(config)
