"""The choices the flows make, kept out of them so each flow reads as its list of stages: one file or a folder
of partitions, which stages go through the cache, when TensorFlow starts, what the manifest names, what a run
returns. Both flows (training and sweep) start with `opened_run`: the data stages, whose tasks the flows hand in
(`DataStages`), so the package never imports tasks/ or flows/."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, NamedTuple

from prefect import get_run_logger
from prefect.runtime import flow_run

from eagergraph.config import PipelineConfig
from eagergraph.core.runtime import start_tensorflow, start_tensorflow_in_background
from eagergraph.data.partitions import describe_partitioned, partition_files
from eagergraph.data.split_checks import check_planned_split
from eagergraph.metrics import task_of
from eagergraph.orchestration.caching import run_cached
from eagergraph.orchestration.crashed import mark_crashed
from eagergraph.orchestration.naming import run_tags
from eagergraph.orchestration.stages import run_side_by_side, run_stage
from eagergraph.orchestration.task_runners import task_runner
from eagergraph.rundir.manifest import data_summary, manifest_fields, write_manifest
from eagergraph.rundir.paths import RunPaths
from eagergraph.rundir.staging import StagedRun


class DataStages(NamedTuple):
    """The tasks of the stages every flow starts with, handed in by the flows: the package never imports tasks/."""

    ingest: Any
    normalize: Any
    partition_kinds: Any
    ingest_partition: Any
    merge_partitions: Any
    engineer_features: Any
    check_data: Any


@dataclass
class OpenRun:
    """A flow's run once its data stages passed: the staged run directory, where the stages write (`work`), the
    stage times so far, the data stages' results (raw, split, features), the gate's rules and check-data's result."""

    run: StagedRun
    flow_run_id: str
    work: str
    seconds: dict[str, float]
    data: tuple[dict, dict, dict]
    rules: dict[str, Any]
    data_check: dict


def work_dir(run: StagedRun) -> str:
    """The directory the stages write into: absolute, as Dask workers need not share this process's working
    directory."""
    return str(run.work.resolve())


@contextmanager
def opened_run(c: PipelineConfig, stages: DataStages) -> Iterator[OpenRun]:
    """What every flow starts with, inside its staged run directory: the crashed runs marked, the data stages
    (`data_stages`), the gate's rules checked against the task, check-data, then TensorFlow ready for the model
    stages (loading in the background since ingest passed, so bad input failed in seconds, before it)."""
    flow_run_id, seconds = str(flow_run.get_id()), {}
    with StagedRun(c.artifacts, flow_run_id=flow_run_id) as run:
        mark_crashed(run.crashed_flow_runs, logger=get_run_logger())
        work = work_dir(run)
        data = data_stages(c, work, seconds, stages)
        rules = gate_rules(c, data[0])
        data_check = run_stage(seconds, stages.check_data, work, str(c.artifacts), c.drift_threshold, c.fail_on_drift,
                               c.run_model_name)
        start_tensorflow()
        yield OpenRun(run, flow_run_id, work, seconds, data, rules, data_check)


def _one_file(c: PipelineConfig, work: str, seconds: dict[str, float], stages: DataStages,
              hits: set[str]) -> tuple[dict, dict]:
    """ingest and normalize of one file (or synthetic data), both through the cache."""
    reading = stages.ingest.with_options(retries=c.ingest_retries, retry_delay_seconds=c.ingest_retry_delay)
    raw = run_cached(seconds, reading, c.refresh, work, str(c.data) if c.data else None, c.label, c.features,
                     c.rows, c.n_features, c.seed, c.drop_invalid, c.exclude, c.positive_class, c.categorical,
                     c.max_categories, c.impute, c.task, c.max_classes, c.id_column, hits=hits)
    # the input passed ingest's checks, and its classes can fill every split (normalize checks the split as drawn)
    check_planned_split(raw["class_counts"], raw["source"], raw["task"], raw["classes"])
    _overlap_unless_cached(reading.name, hits)
    split = run_cached(seconds, stages.normalize, c.refresh, work, c.test_fraction, c.validation_fraction, c.seed, hits=hits)
    _overlap_unless_cached(stages.normalize.name, hits)
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


def _partitions(c: PipelineConfig, work: str, seconds: dict[str, float], files: list[str],
                stages: DataStages) -> tuple[dict, dict]:
    """ingest and normalize of a folder of Parquet partitions: the column kinds decided once over the folder, then
    partition by partition, in parallel on the runner, then merged (statistics from the partitions' moments)."""
    kinds = run_stage(seconds, stages.partition_kinds, str(c.data), c.label, c.features, c.exclude, c.categorical,
                      c.max_categories, c.task, c.max_classes, c.id_column)
    start_tensorflow_in_background()  # the folder's columns passed their checks
    calls = [(work, str(c.data), file, index, c.label, c.features, c.drop_invalid, c.exclude,
              c.categorical, c.max_categories, c.impute, c.task, c.max_classes, kinds) for index, file in enumerate(files)]
    parts = run_side_by_side(seconds, stages.ingest_partition, calls, threads_too=True)
    merged = run_stage(seconds, stages.merge_partitions, work, parts, str(c.data), c.label, c.drop_invalid,
                       c.positive_class, c.max_categories, c.impute, c.test_fraction, c.validation_fraction, c.seed)
    return describe_partitioned(merged, parts, seconds[stages.ingest_partition.name]), merged


def data_stages(c: PipelineConfig, work: str, seconds: dict[str, float], stages: DataStages) -> tuple[dict, dict, dict]:
    """ingest, normalize and engineer-features (cached, or partition by partition): what every flow starts with.
    Returns the three stages' results (raw, split, features)."""
    files = partition_files(c.data)
    hits: set[str] = set()
    raw, split = _partitions(c, work, seconds, files, stages) if files else _one_file(c, work, seconds, stages, hits)
    features = run_cached(seconds, stages.engineer_features, c.refresh, work, hits=hits)
    start_tensorflow_in_background()  # a no-op once started; else every data stage was a cache hit
    return raw, split, features


def run_tagged(flow: Any, config: PipelineConfig, *more: Any) -> dict:
    """A flow on the task runner the config names (threads, or Dask worker processes), tagged with its data."""
    from prefect import tags

    with tags(*run_tags(config.data)):
        return flow.with_options(task_runner=task_runner(config))(config, *more)


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
    check_rules(rules, task_of(raw))  # data stages before tasks: the default
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


def run_result(r: OpenRun, metrics: dict, prediction: dict, decision: dict, **extra: Any) -> dict:
    """What a flow returns (and `--json` prints): where the run is, its flow run, metrics, an example prediction,
    stage times, the data summary and the recorded verdict, plus the flow's own `extra` fields."""
    raw, split, _ = r.data
    return {"run_dir": str(r.run.final.resolve()), "flow_run_id": r.flow_run_id, "metrics": metrics,
            "prediction": prediction["example"], "stage_seconds": r.seconds, **data_summary(raw, split),
            "promoted": decision["promoted"], "production": decision["production_dir"], "reason": decision["reason"],
            **extra}


def sweep_candidates(c: PipelineConfig, g: Any) -> list[dict]:
    """The sweep grid's points as plain dicts (Prefect shows them); unset lists take the config's value."""
    from dataclasses import asdict

    from eagergraph.core.sweep import grid  # a TensorFlow module: imported once the data stages have passed

    return [asdict(point) for point in grid(g.learning_rates or [c.learning_rate], g.hidden or [c.hidden],
                                            g.batch_sizes or [c.batch_size], g.variants or [c.graph_variant])]
