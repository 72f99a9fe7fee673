"""The sweep flow: the data stages once, then one graph model per grid point on the task runner, ranked."""

from __future__ import annotations

from dataclasses import asdict

from prefect import flow, get_run_logger
from prefect.runtime import flow_run

from eagergraph.config import PipelineConfig, SweepGrid
from eagergraph.core.runtime import start_tensorflow
from eagergraph.core.sweep import grid
from eagergraph.flows.pipeline import data_stages
from eagergraph.orchestration.crashed import mark_crashed
from eagergraph.orchestration.naming import flow_run_name, run_tags
from eagergraph.orchestration.runners import task_runner
from eagergraph.orchestration.stages import run_side_by_side, run_stage
from eagergraph.rundir.manifest import data_summary, manifest_fields, write_manifest
from eagergraph.rundir.paths import StagedRun

FLOW_NAME = "eagergraph-sweep"


def candidates(c: PipelineConfig, g: SweepGrid) -> list[dict]:
    """The grid's points as plain dicts; unset lists take the config's value."""
    return [asdict(point) for point in grid(g.learning_rates or [c.learning_rate], g.hidden or [c.hidden],
                                            g.batch_sizes or [c.batch_size], g.variants or [c.graph_variant])]


@flow(name=FLOW_NAME, description="Train a grid of graph-mode models in parallel, rank them on the test split, keep the best.",
      flow_run_name=flow_run_name)
def sweep_pipeline(config: PipelineConfig = PipelineConfig(), sweep: SweepGrid = SweepGrid()) -> dict:
    """ingest → normalize → engineer-features → train-candidate × N → rank-candidates → evaluate → predict."""
    c = config
    seconds: dict[str, float] = {}
    with StagedRun(c.artifacts, flow_run_id=str(flow_run.get_id())) as run:
        mark_crashed(run.crashed_flow_runs, logger=get_run_logger())
        work = str(run.work.resolve())
        raw, split, feats = data_stages(c, work, seconds)
        points = candidates(c, sweep)
        start_tensorflow()  # as the training flow: bad data fails before TensorFlow's start-up
        from eagergraph.tasks.evaluate import evaluate
        from eagergraph.tasks.predict import predict
        from eagergraph.tasks.sweep import rank_candidates, train_candidate

        results = run_side_by_side(seconds, train_candidate, [(work, p, c.epochs, c.seed, c.in_memory_rows) for p in points])
        ranking = run_stage(seconds, rank_candidates, work, results)
        metrics = run_stage(seconds, evaluate, work)
        prediction = run_stage(seconds, predict, work)
        write_manifest(run.work, **manifest_fields(c.model_dump(mode="json"), str(flow_run.get_id()), seconds, raw, split, feats), sweep=ranking)
    return {"run_dir": str(run.final.resolve()), "flow_run_id": str(flow_run.get_id()), "ranking": ranking, "best": ranking[0],
            "metrics": metrics, "prediction": prediction["example"], "stage_seconds": seconds, **data_summary(raw)}


def run_sweep(config: PipelineConfig, sweep: SweepGrid) -> dict:
    """The sweep flow on the task runner the config names."""
    from prefect import tags

    with tags(*run_tags(config.data)):
        return sweep_pipeline.with_options(task_runner=task_runner(config))(config, sweep)
