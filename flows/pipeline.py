"""The training flow: seven tasks wired in order; all logic lives in tasks/."""

# No `from __future__ import annotations` here: a deployment loads this file by its entrypoint, and Prefect
# validates the parameters against the real PipelineConfig class, which a string annotation would hide.
import time
from typing import Any

from prefect import flow
from prefect.runtime import flow_run

from flows.config import PipelineConfig
from tasks.caching import cached
from tasks.evaluate import evaluate
from tasks.features import engineer_features
from tasks.ingest import ingest
from tasks.manifest import write_manifest
from tasks.normalize import normalize
from tasks.paths import RunPaths, StagedRun
from tasks.predict import predict
from tasks.reporting import publish_run_report
from tasks.train import train_eager, train_graph

FLOW_NAME = "eagergraph-training"


def _timed(seconds: dict[str, float], stage: Any, *args: Any, **kwargs: Any) -> Any:
    started = time.perf_counter()
    result = stage(*args, **kwargs)
    seconds[stage.name] = time.perf_counter() - started
    return result


@flow(name=FLOW_NAME, description="Train one Keras model eagerly and as a graph, and compare them.")
def training_pipeline(config: PipelineConfig = PipelineConfig()) -> dict:
    """ingest → normalize → engineer-features → train-eager → train-graph → evaluate → predict."""
    c = config
    seconds: dict[str, float] = {}
    with StagedRun(c.artifacts) as run:
        work = str(run.work)
        reading = ingest.with_options(retries=c.ingest_retries, retry_delay_seconds=c.ingest_retry_delay)
        raw = _timed(seconds, cached(reading, c.refresh), work, str(c.data) if c.data else None, c.label, c.features, c.rows, c.n_features, c.seed)
        split = _timed(seconds, cached(normalize, c.refresh), work, c.test_fraction, c.seed)
        feats = _timed(seconds, cached(engineer_features, c.refresh), work)
        training = dict(epochs=c.epochs, batch_size=c.batch_size, hidden=c.hidden, learning_rate=c.learning_rate, seed=c.seed)
        _timed(seconds, train_eager, work, **training)
        _timed(seconds, train_graph, work, variant=c.graph_variant, **training)
        metrics = _timed(seconds, evaluate, work)
        prediction = _timed(seconds, predict, work)
        write_manifest(run.work, config=c.model_dump(mode="json"), flow_run_id=str(flow_run.get_id()),
                       stage_seconds=seconds, features=raw["features"], classes=raw["classes"],
                       rows={"raw": raw["rows"], "train": split["train_rows"], "test": split["test_rows"],
                             "dropped": raw["dropped_rows"]},
                       rows_per_second={"ingest": raw["rows_per_second"], "normalize": split["rows_per_second"],
                                        "engineer-features": feats["rows_per_second"]},
                       figures={"training_curves": RunPaths.of(run.final).training_curves.name,
                                "tensorboard": RunPaths.of(run.final).tensorboard().name})
    publish_run_report(run.final, metrics, prediction["example"])
    return {"run_dir": str(run.final), "flow_run_id": str(flow_run.get_id()), "metrics": metrics,
            "prediction": prediction["example"], "stage_seconds": seconds}
