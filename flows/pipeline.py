"""The training flow: seven tasks wired in order; all logic lives in tasks/."""

from __future__ import annotations

import time
from typing import Any

from prefect import flow
from prefect.runtime import flow_run

from flows.config import PipelineConfig
from tasks.features import engineer_features
from tasks.ingest import ingest
from tasks.manifest import write_manifest
from tasks.normalize import normalize
from tasks.paths import StagedRun
from tasks.quiet import start_tensorflow

FLOW_NAME = "eagergraph-training"


def _model_stages() -> tuple[Any, Any, Any, Any]:
    """The TensorFlow stages, imported once the data stages have passed: bad data fails in seconds, before
    TensorFlow's start-up (whose native notices are kept off stderr unless debugging)."""
    start_tensorflow()
    from tasks.evaluate import evaluate
    from tasks.predict import predict
    from tasks.train import train_eager, train_graph

    return train_eager, train_graph, evaluate, predict


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
        raw = _timed(seconds, ingest, work, str(c.data) if c.data else None, c.label, c.features, c.rows, c.n_features, c.seed,
                     c.drop_invalid)
        split = _timed(seconds, normalize, work, c.test_fraction, c.seed)
        feats = _timed(seconds, engineer_features, work)
        train_eager, train_graph, evaluate, predict = _model_stages()
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
                                        "engineer-features": feats["rows_per_second"]})
    return {"run_dir": str(run.final), "flow_run_id": str(flow_run.get_id()), "metrics": metrics,
            "prediction": prediction["example"], "stage_seconds": seconds,
            "dropped_rows": raw["dropped_rows"], "invalid_values": raw["invalid_values"]}
