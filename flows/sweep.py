"""The sweep flow: the data stages once, then one graph model per grid point on the task runner, ranked."""

from __future__ import annotations

from prefect import flow, get_run_logger
from prefect.runtime import flow_run

from eagergraph.config import PipelineConfig, SweepGrid
from eagergraph.orchestration.crashed import mark_crashed
from eagergraph.orchestration.naming import flow_run_name, run_tags
from eagergraph.orchestration.pipeline import (
    data_stages,
    gate_rules,
    model_stages,
    run_result,
    sweep_candidates,
    verdict_fields,
    work_dir,
    write_run_manifest,
)
from eagergraph.orchestration.stages import run_side_by_side, run_stage, untagged
from eagergraph.orchestration.task_runners import task_runner
from eagergraph.rundir.paths import StagedRun
from eagergraph.tasks.check_data import check_data
from eagergraph.tasks.gate import gate
from eagergraph.tasks.record_verdict import record_verdict

FLOW_NAME = "eagergraph-sweep"


@flow(name=FLOW_NAME, description="Train a grid of graph-mode models in parallel, rank them, keep the best, gate it "
      "against production like a run.", flow_run_name=flow_run_name)
def sweep_pipeline(config: PipelineConfig = PipelineConfig(), sweep: SweepGrid = SweepGrid()) -> dict:
    """ingest → normalize → engineer-features → check-data → train-candidate × N → rank-candidates → evaluate →
    gate → predict, then record-verdict: the best candidate is promoted or refused as a run's model is."""
    c, flow_run_id, seconds = config, str(flow_run.get_id()), {}
    with StagedRun(c.artifacts, flow_run_id=flow_run_id) as run:
        mark_crashed(run.crashed_flow_runs, logger=get_run_logger())
        work = work_dir(run)
        data = data_stages(c, work, seconds)
        rules = gate_rules(c, data[0])
        data_check = run_stage(seconds, check_data, work, str(c.artifacts), c.drift_threshold, c.fail_on_drift,
                               c.run_model_name)
        _, _, evaluate, predict = model_stages()
        from eagergraph.tasks.sweep import rank_candidates, train_candidate

        calls = [(work, point, c.epochs, c.seed, c.in_memory_rows, c.patience) for point in sweep_candidates(c, sweep)]
        results = run_side_by_side(seconds, train_candidate, calls)
        ranking = run_stage(seconds, rank_candidates, work, results)
        run_stage(seconds, evaluate, work)
        metrics = run_stage(seconds, gate, work, str(run.final), str(c.artifacts), rules, data_check,
                            c.run_model_name, c.model_name_reason)
        prediction = run_stage(seconds, predict, work)
        write_run_manifest(run, c, flow_run_id, seconds, data, sweep=ranking)
    with untagged():
        decision = record_verdict(str(run.final), str(c.artifacts), metrics["gate"], flow_run_id)
    return run_result(run, flow_run_id, seconds, data[0], metrics, prediction, ranking=ranking, best=ranking[0],
                      **verdict_fields(decision))


def run_sweep(config: PipelineConfig, sweep: SweepGrid) -> dict:
    """The sweep flow on the task runner the config names."""
    from prefect import tags

    with tags(*run_tags(config.data)):
        return sweep_pipeline.with_options(task_runner=task_runner(config))(config, sweep)
