"""The choices the flows make, kept out of them so each flow reads as its list of stages: one file or a folder
of partitions, which stages go through the cache, when TensorFlow starts, what the manifest names, what a run
returns. Both flows (training and sweep) start with the same `data_stages`."""

from __future__ import annotations

from typing import Any

from eagergraph.config import PipelineConfig
from eagergraph.core.runtime import start_tensorflow_in_background
from eagergraph.data.split_checks import check_planned_split
from eagergraph.orchestration.caching import run_cached
from eagergraph.orchestration.stages import run_side_by_side, run_stage
from eagergraph.rundir.manifest import data_summary, manifest_fields, write_manifest
from eagergraph.rundir.paths import RunPaths, StagedRun


def work_dir(run: StagedRun) -> str:
    """The directory the stages write into: absolute, as Dask workers need not share this process's working
    directory."""
    return str(run.work.resolve())


def _one_file(c: PipelineConfig, work: str, seconds: dict[str, float], hits: set[str]) -> tuple[dict, dict]:
    """ingest and normalize of one file (or synthetic data), both through the cache."""
    from eagergraph.tasks.ingest import ingest
    from eagergraph.tasks.normalize import normalize

    reading = ingest.with_options(retries=c.ingest_retries, retry_delay_seconds=c.ingest_retry_delay)
    raw = run_cached(seconds, reading, c.refresh, work, str(c.data) if c.data else None, c.label, c.features,
                     c.rows, c.n_features, c.seed, c.drop_invalid, c.exclude, c.positive_class, c.categorical,
                     c.max_categories, c.impute, c.task, c.max_classes, c.id_column, hits=hits)
    # the input passed ingest's checks, and its classes can fill every split (normalize checks the split as drawn)
    check_planned_split(raw["class_counts"], raw["source"], raw["task"], raw["classes"])
    _overlap_unless_cached(reading.name, hits)
    split = run_cached(seconds, normalize, c.refresh, work, c.test_fraction, c.validation_fraction, c.seed, hits=hits)
    _overlap_unless_cached(normalize.name, hits)
    return raw, split


def _overlap_unless_cached(stage: str, hits: set[str]) -> None:
    """Start TensorFlow's import in the background once a data stage has computed: the stages after it most likely
    compute too, in Arrow and numpy, and their seconds overlap the import. After a cache hit the next stage is most
    likely a hit too, which the import's hold of Python's lock would slow twentyfold (a normalize hit: 0.3 s beside
    it, 0.014 s without), so the import waits (at the latest, it starts after the last data stage). It starts in the
    flow's process: started inside the normalize task, it ran on a Dask worker under the dask runner, and every sweep
    candidate then ran on one worker."""
    if stage not in hits:
        start_tensorflow_in_background()


def _partitions(c: PipelineConfig, work: str, seconds: dict[str, float], files: list[str]) -> tuple[dict, dict]:
    """ingest and normalize of a folder of Parquet partitions: the column kinds decided once over the folder, then
    partition by partition, in parallel on the runner, then merged (statistics from the partitions' moments)."""
    from eagergraph.data.partitions import describe_partitioned
    from eagergraph.tasks.partitions import ingest_partition, merge_partitions, partition_kinds

    kinds = run_stage(seconds, partition_kinds, str(c.data), c.label, c.features, c.exclude, c.categorical, c.max_categories,
                      c.task, c.max_classes, c.id_column)
    start_tensorflow_in_background()  # the folder's columns passed their checks
    calls = [(work, str(c.data), file, index, c.label, c.features, c.drop_invalid, c.exclude,
              c.categorical, c.max_categories, c.impute, c.task, c.max_classes, kinds) for index, file in enumerate(files)]
    parts = run_side_by_side(seconds, ingest_partition, calls, threads_too=True)
    merged = run_stage(seconds, merge_partitions, work, parts, str(c.data), c.label, c.drop_invalid, c.positive_class,
                       c.max_categories, c.impute, c.test_fraction, c.validation_fraction, c.seed)
    return describe_partitioned(merged, parts, seconds[ingest_partition.name]), merged


def data_stages(c: PipelineConfig, work: str, seconds: dict[str, float]) -> tuple[dict, dict, dict]:
    """ingest, normalize and engineer-features (cached, or partition by partition): what every flow starts with.
    Returns the three stages' results (raw, split, features)."""
    from eagergraph.data.partitions import partition_files
    from eagergraph.tasks.features import engineer_features

    files = partition_files(c.data)
    hits: set[str] = set()
    raw, split = _partitions(c, work, seconds, files) if files else _one_file(c, work, seconds, hits)
    features = run_cached(seconds, engineer_features, c.refresh, work, hits=hits)
    start_tensorflow_in_background()  # a no-op once started; else every data stage was a cache hit
    return raw, split, features


def model_stages() -> tuple[Any, Any, Any, Any]:
    """train-eager, train-graph, evaluate and predict, imported once the data stages have passed: TensorFlow,
    loading in the background since ingest passed, is ready here, and bad input failed in seconds, before it."""
    from eagergraph.core.runtime import start_tensorflow

    start_tensorflow()
    from eagergraph.tasks.evaluate import evaluate
    from eagergraph.tasks.predict import predict
    from eagergraph.tasks.train import train_eager, train_graph

    return train_eager, train_graph, evaluate, predict


def training_options(c: PipelineConfig) -> dict[str, Any]:
    """The arguments both training stages share, from the config."""
    return dict(epochs=c.epochs, batch_size=c.batch_size, hidden=c.hidden, learning_rate=c.learning_rate, seed=c.seed,
                in_memory_rows=c.in_memory_rows, patience=c.patience)


def gate_rules(c: PipelineConfig, raw: dict) -> dict[str, Any]:
    """The gate's settings as the JSON-able dict its stage takes, checked against the task ingest chose (a gate
    metric or floor of another task is a ConfigError before training, not after)."""
    from dataclasses import asdict

    from eagergraph.registry.gate import GateRules, check_rules

    rules = GateRules.of(c)
    check_rules(rules, raw.get("task") or "binary")  # data stages before tasks: binary
    return asdict(rules)


def write_run_manifest(run: StagedRun, c: PipelineConfig, flow_run_id: str, seconds: dict[str, float],
                       data: tuple[dict, dict, dict], **extra: Any) -> None:
    """manifest.json of a run that is about to complete: config, model name, data stages, stage times, files,
    plus `extra`."""
    write_manifest(run.work, **manifest_fields(c.model_dump(mode="json"), flow_run_id, seconds, *data),
                   model_name=c.run_model_name, **extra)


def run_figures(run: StagedRun) -> dict[str, str]:
    """What the training flow's manifest names as its figures (paths relative to the run directory)."""
    final = RunPaths.of(run.final)
    return {"training_curves": final.training_curves.name, "tensorboard": final.tensorboard().name}


def run_result(run: StagedRun, flow_run_id: str, seconds: dict[str, float], raw: dict, metrics: dict,
               prediction: dict, split: dict | None = None, **extra: Any) -> dict:
    """What a flow returns (and `--json` prints): where the run is, its flow run, metrics, an example
    prediction, stage times and the data summary, plus the flow's own `extra` fields."""
    return {"run_dir": str(run.final.resolve()), "flow_run_id": flow_run_id, "metrics": metrics,
            "prediction": prediction["example"], "stage_seconds": seconds, **data_summary(raw, split), **extra}


def verdict_fields(decision: dict) -> dict:
    """The recorded verdict as the training flow returns it."""
    return {"promoted": decision["promoted"], "production": decision["production_dir"], "reason": decision["reason"]}


def sweep_candidates(c: PipelineConfig, g: Any) -> list[dict]:
    """The sweep grid's points as plain dicts (Prefect shows them); unset lists take the config's value."""
    from dataclasses import asdict

    from eagergraph.core.sweep import grid  # a TensorFlow module: imported once the data stages have passed

    return [asdict(point) for point in grid(g.learning_rates or [c.learning_rate], g.hidden or [c.hidden],
                                            g.batch_sizes or [c.batch_size], g.variants or [c.graph_variant])]
