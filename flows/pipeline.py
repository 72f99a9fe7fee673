"""The training flow: its stages wired in order; the stages live in tasks/, their logic in the eagergraph package."""

# No `from __future__ import annotations` here: a deployment loads this file by its entrypoint, and Prefect
# validates the parameters against the real PipelineConfig class, which a string annotation would hide.
from dataclasses import asdict
from typing import Any

from prefect import flow, get_run_logger
from prefect.runtime import flow_run

from eagergraph.config import PipelineConfig
from eagergraph.core.runtime import start_tensorflow
from eagergraph.data.partitions import describe_partitioned, partition_files
from eagergraph.orchestration.caching import cached
from eagergraph.orchestration.crashed import mark_crashed
from eagergraph.orchestration.naming import flow_run_name, run_tags
from eagergraph.orchestration.runners import task_runner
from eagergraph.orchestration.stages import run_side_by_side, run_stage
from eagergraph.registry.gate import GateRules
from eagergraph.reporting.artifacts import publish_run_report
from eagergraph.rundir.manifest import data_summary, manifest_fields, write_manifest
from eagergraph.rundir.paths import RunPaths, StagedRun
from eagergraph.tasks.features import engineer_features
from eagergraph.tasks.gate import apply_retention, check_data, gate, record_verdict
from eagergraph.tasks.ingest import ingest
from eagergraph.tasks.normalize import normalize
from eagergraph.tasks.partitions import ingest_partition, merge_partitions

FLOW_NAME = "eagergraph-training"


def _model_stages() -> tuple[Any, Any, Any, Any]:
    """The TensorFlow stages, imported once the data stages have passed: bad data fails in seconds, before
    TensorFlow's start-up."""
    start_tensorflow()
    from eagergraph.tasks.evaluate import evaluate
    from eagergraph.tasks.predict import predict
    from eagergraph.tasks.train import train_eager, train_graph

    return train_eager, train_graph, evaluate, predict


def _data_stages(c: PipelineConfig, work: str, seconds: dict[str, float]) -> tuple[dict, dict]:
    """ingest and normalize; a folder of Parquet partitions goes partition by partition, in parallel on the runner."""
    files = partition_files(c.data)
    if not files:
        reading = ingest.with_options(retries=c.ingest_retries, retry_delay_seconds=c.ingest_retry_delay)
        raw = run_stage(seconds, cached(reading, c.refresh), work, str(c.data) if c.data else None, c.label, c.features,
                     c.rows, c.n_features, c.seed, c.drop_invalid, c.exclude, c.positive_class, c.categorical,
                     c.max_categories, c.impute)
        return raw, run_stage(seconds, cached(normalize, c.refresh), work, c.test_fraction, c.seed)
    calls = [(work, str(c.data), file, index, c.label, c.features, c.test_fraction, c.seed, c.drop_invalid, c.exclude,
              c.categorical, c.max_categories, c.impute) for index, file in enumerate(files)]
    parts = run_side_by_side(seconds, ingest_partition, calls, threads_too=True)
    merged = run_stage(seconds, merge_partitions, work, parts, str(c.data), c.label, c.drop_invalid,
                       c.positive_class, c.max_categories, c.impute)
    return describe_partitioned(merged, parts, seconds[ingest_partition.name]), merged


def data_stages(c: PipelineConfig, work: str, seconds: dict[str, float]) -> tuple[dict, dict, dict]:
    """ingest, normalize and engineer-features (cached, or partition by partition): what every flow starts with."""
    raw, split = _data_stages(c, work, seconds)
    return raw, split, run_stage(seconds, cached(engineer_features, c.refresh), work)


@flow(name=FLOW_NAME, description="Train one Keras model eagerly and as a graph, and compare them.",
      flow_run_name=flow_run_name)
def training_pipeline(config: PipelineConfig = PipelineConfig()) -> dict:
    """ingest → normalize → engineer-features → check-data → train-eager → train-graph → evaluate → gate → predict,
    then record-verdict (production pointer, registry, event) once the run directory is in place."""
    c = config
    seconds: dict[str, float] = {}
    with StagedRun(c.artifacts, flow_run_id=str(flow_run.get_id())) as run:
        mark_crashed(run.crashed_flow_runs, logger=get_run_logger())
        work = str(run.work.resolve())  # absolute: Dask workers need not share this process's working directory
        raw, split, feats = data_stages(c, work, seconds)
        data_check = run_stage(seconds, check_data, work, str(c.artifacts), c.drift_threshold, c.fail_on_drift)
        train_eager, train_graph, evaluate, predict = _model_stages()
        training = dict(epochs=c.epochs, batch_size=c.batch_size, hidden=c.hidden, learning_rate=c.learning_rate, seed=c.seed,
                        in_memory_rows=c.in_memory_rows)
        if "eager" in c.trained_modes:
            run_stage(seconds, train_eager, work, max_steps=c.eager_max_steps, **training)
        if "graph" in c.trained_modes:
            run_stage(seconds, train_graph, work, variant=c.graph_variant, **training)
        metrics = run_stage(seconds, evaluate, work)
        metrics = run_stage(seconds, gate, work, str(run.final), str(c.artifacts), asdict(GateRules.of(c)), data_check)
        prediction = run_stage(seconds, predict, work)
        write_manifest(run.work, **manifest_fields(c.model_dump(mode="json"), str(flow_run.get_id()), seconds, raw, split, feats),
                       figures={"training_curves": RunPaths.of(run.final).training_curves.name,
                                "tensorboard": RunPaths.of(run.final).tensorboard().name})
    decision = record_verdict(str(run.final), str(c.artifacts), metrics["gate"], str(flow_run.get_id()))
    publish_run_report(run.final, metrics, prediction["example"])
    if c.keep_runs:
        apply_retention(str(c.artifacts), c.keep_runs)
    return {"run_dir": str(run.final.resolve()), "flow_run_id": str(flow_run.get_id()), "metrics": metrics,
            "prediction": prediction["example"], "stage_seconds": seconds,
            **data_summary(raw), "promoted": decision["promoted"], "production": decision["production_dir"], "reason": decision["reason"]}


def run_pipeline(config: PipelineConfig) -> dict:
    """The training flow on the task runner the config names (threads, or Dask worker processes), tagged with its data."""
    from prefect import tags

    with tags(*run_tags(config.data)):
        return training_pipeline.with_options(task_runner=task_runner(config))(config)
