"""The training flow: its stages wired in order; the stages live in tasks/, the choices and logic in the
eagergraph package (eagergraph.orchestration.pipeline)."""

# No `from __future__ import annotations` here: a deployment loads this file by its entrypoint, and Prefect
# validates the parameters against the real PipelineConfig class, which a string annotation would hide.
from prefect import flow

from eagergraph.config import PipelineConfig
from eagergraph.orchestration.naming import flow_run_name
from eagergraph.orchestration.pipeline import (
    DataStages,
    opened_run,
    run_figures,
    run_result,
    run_tagged,
    training_options,
    write_run_manifest,
)
from eagergraph.orchestration.stages import run_stage, untagged
from eagergraph.reporting.artifacts import charts_in_background, publish_run_report
from eagergraph.tasks.check_data import check_data
from eagergraph.tasks.features import engineer_features
from eagergraph.tasks.gate import gate
from eagergraph.tasks.gc import apply_retention
from eagergraph.tasks.ingest import ingest
from eagergraph.tasks.ingest_partition import ingest_partition
from eagergraph.tasks.merge_partitions import merge_partitions
from eagergraph.tasks.normalize import normalize
from eagergraph.tasks.partition_kinds import partition_kinds
from eagergraph.tasks.record_verdict import record_verdict

FLOW_NAME = "eagergraph-training"
# ingest → normalize → engineer-features (or partition-kinds → ingest-partition × N → merge-partitions →
# engineer-features for a folder of partitions), then check-data: every flow starts with them (the sweep too)
DATA_STAGES = DataStages(ingest, normalize, partition_kinds, ingest_partition, merge_partitions, engineer_features,
                         check_data)


@flow(name=FLOW_NAME, description="Train one Keras model eagerly and as a graph, and compare them.",
      flow_run_name=flow_run_name)
def training_pipeline(config: PipelineConfig = PipelineConfig()) -> dict:
    """ingest → normalize → engineer-features → check-data → train-eager → train-graph → evaluate → gate → predict,
    then record-verdict (production pointer, registry, event) once the run directory is in place, then gc."""
    c = config
    with opened_run(c, DATA_STAGES) as r:
        from eagergraph.tasks.evaluate import evaluate  # TensorFlow's stages: imported once the data stages passed
        from eagergraph.tasks.predict import predict
        from eagergraph.tasks.train import train_eager, train_graph

        if "eager" in c.trained_modes:
            run_stage(r.seconds, train_eager, r.work, max_steps=c.eager_max_steps, **training_options(c))
        if "graph" in c.trained_modes:
            run_stage(r.seconds, train_graph, r.work, variant=c.graph_variant, **training_options(c))
        run_stage(r.seconds, evaluate, r.work)
        metrics = run_stage(r.seconds, gate, r.work, str(r.run.final), str(c.artifacts), r.rules, r.data_check,
                            c.run_model_name, c.model_name_reason)
        charts = charts_in_background(metrics)  # the report's charts draw while predict runs
        prediction = run_stage(r.seconds, predict, r.work)
        write_run_manifest(r.run, c, r.flow_run_id, r.seconds, r.data, figures=run_figures(r.run))
    with untagged():
        decision = record_verdict(str(r.run.final), str(c.artifacts), metrics["gate"], r.flow_run_id)
        publish_run_report(r.run.final, metrics, prediction["example"], charts.result())
        if c.keep_runs:
            apply_retention(str(c.artifacts), c.keep_runs)
    return run_result(r, metrics, prediction, decision)


def run_pipeline(config: PipelineConfig) -> dict:
    """The training flow on the task runner the config names (threads, or Dask worker processes), tagged with its data."""
    return run_tagged(training_pipeline, config)
