"""The training flow: its stages wired in order; the stages live in tasks/, the choices and logic in the
eagergraph package (eagergraph.orchestration.pipeline)."""

# No `from __future__ import annotations` here: a deployment loads this file by its entrypoint, and Prefect
# validates the parameters against the real PipelineConfig class, which a string annotation would hide.
from prefect import flow, get_run_logger
from prefect.runtime import flow_run

from eagergraph.config import PipelineConfig
from eagergraph.orchestration.crashed import mark_crashed
from eagergraph.orchestration.naming import flow_run_name, run_tags
from eagergraph.orchestration.pipeline import (
    data_stages,
    gate_rules,
    model_stages,
    run_figures,
    run_result,
    training_options,
    verdict_fields,
    work_dir,
    write_run_manifest,
)
from eagergraph.orchestration.stages import run_stage, untagged
from eagergraph.orchestration.task_runners import task_runner
from eagergraph.reporting.artifacts import charts_in_background, publish_run_report
from eagergraph.rundir.staging import StagedRun
from eagergraph.tasks.check_data import check_data
from eagergraph.tasks.gate import gate
from eagergraph.tasks.gc import apply_retention
from eagergraph.tasks.record_verdict import record_verdict

FLOW_NAME = "eagergraph-training"


@flow(name=FLOW_NAME, description="Train one Keras model eagerly and as a graph, and compare them.",
      flow_run_name=flow_run_name)
def training_pipeline(config: PipelineConfig = PipelineConfig()) -> dict:
    """ingest → normalize → engineer-features → check-data → train-eager → train-graph → evaluate → gate → predict,
    then record-verdict (production pointer, registry, event) once the run directory is in place, then gc."""
    c, flow_run_id, seconds = config, str(flow_run.get_id()), {}
    with StagedRun(c.artifacts, flow_run_id=flow_run_id) as run:
        mark_crashed(run.crashed_flow_runs, logger=get_run_logger())
        work = work_dir(run)
        data = data_stages(c, work, seconds)
        rules = gate_rules(c, data[0])
        data_check = run_stage(seconds, check_data, work, str(c.artifacts), c.drift_threshold, c.fail_on_drift,
                               c.run_model_name)
        train_eager, train_graph, evaluate, predict = model_stages()
        if "eager" in c.trained_modes:
            run_stage(seconds, train_eager, work, max_steps=c.eager_max_steps, **training_options(c))
        if "graph" in c.trained_modes:
            run_stage(seconds, train_graph, work, variant=c.graph_variant, **training_options(c))
        run_stage(seconds, evaluate, work)
        metrics = run_stage(seconds, gate, work, str(run.final), str(c.artifacts), rules, data_check,
                            c.run_model_name, c.model_name_reason)
        charts = charts_in_background(metrics)  # the report's charts draw while predict runs
        prediction = run_stage(seconds, predict, work)
        write_run_manifest(run, c, flow_run_id, seconds, data, figures=run_figures(run))
    with untagged():
        decision = record_verdict(str(run.final), str(c.artifacts), metrics["gate"], flow_run_id)
        publish_run_report(run.final, metrics, prediction["example"], charts.result())
        if c.keep_runs:
            apply_retention(str(c.artifacts), c.keep_runs)
    return run_result(run, flow_run_id, seconds, data[0], metrics, prediction, data[1], **verdict_fields(decision))


def run_pipeline(config: PipelineConfig) -> dict:
    """The training flow on the task runner the config names (threads, or Dask worker processes), tagged with its data."""
    from prefect import tags

    with tags(*run_tags(config.data)):
        return training_pipeline.with_options(task_runner=task_runner(config))(config)
