"""The sweep flow: the data stages once, then one graph model per grid point on the task runner, ranked."""

from __future__ import annotations

from prefect import flow

from eagergraph.config import PipelineConfig, SweepGrid
from eagergraph.flows.pipeline import DATA_STAGES
from eagergraph.orchestration.naming import flow_run_name
from eagergraph.orchestration.pipeline import opened_run, run_result, run_tagged, sweep_candidates, write_run_manifest
from eagergraph.orchestration.stages import run_side_by_side, run_stage, untagged
from eagergraph.tasks.gate import gate
from eagergraph.tasks.record_verdict import record_verdict

FLOW_NAME = "eagergraph-sweep"


@flow(name=FLOW_NAME, description="Train a grid of graph-mode models in parallel, rank them, keep the best, gate it "
      "against production like a run.", flow_run_name=flow_run_name)
def sweep_pipeline(config: PipelineConfig = PipelineConfig(), sweep: SweepGrid = SweepGrid()) -> dict:
    """ingest → normalize → engineer-features → check-data → train-candidate × N → rank-candidates → evaluate →
    gate → predict, then record-verdict: the best candidate is promoted or refused as a run's model is."""
    c = config
    with opened_run(c, DATA_STAGES) as r:
        from eagergraph.tasks.evaluate import evaluate  # TensorFlow's stages: imported once the data stages passed
        from eagergraph.tasks.predict import predict
        from eagergraph.tasks.sweep import rank_candidates, train_candidate

        calls = [(r.work, point, c.epochs, c.seed, c.in_memory_rows, c.patience) for point in sweep_candidates(c, sweep)]
        results = run_side_by_side(r.seconds, train_candidate, calls)
        ranking = run_stage(r.seconds, rank_candidates, r.work, results)
        run_stage(r.seconds, evaluate, r.work)
        metrics = run_stage(r.seconds, gate, r.work, str(r.run.final), str(c.artifacts), r.rules, r.data_check,
                            c.run_model_name, c.model_name_reason)
        prediction = run_stage(r.seconds, predict, r.work)
        write_run_manifest(r.run, c, r.flow_run_id, r.seconds, r.data, sweep=ranking)
    with untagged():
        decision = record_verdict(str(r.run.final), str(c.artifacts), metrics["gate"], r.flow_run_id)
    return run_result(r, metrics, prediction, decision, ranking=ranking, best=ranking[0])


def run_sweep(config: PipelineConfig, sweep: SweepGrid) -> dict:
    """The sweep flow on the task runner the config names."""
    return run_tagged(sweep_pipeline, config, sweep)
