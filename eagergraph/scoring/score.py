"""Scoring one input in one pass: read in bounded blocks, each checked and counted for drift, predicted through the
reloaded SavedModel exactly as `predict --input` does (`FilePredictor`), and written as Parquet with its lineage in
the file's metadata into a staging folder; published (renamed into the output folder, with a small manifest beside
it) once every input of the run has passed. The same input (by content) scored by the same model is skipped."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import blake3
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from eagergraph.core.outputs import PREDICTED, PREDICTED_CLASS, output_names
from eagergraph.core.prediction import FilePredictor, input_batches
from eagergraph.core.serving_inputs import ModelInputs
from eagergraph.data.io import ROW_GROUP_ROWS, in_blocks
from eagergraph.errors import DataError
from eagergraph.io import DIGEST, atomic_path, file_digest, locked, read_json, write_json
from eagergraph.rundir.paths import ScoringPaths
from eagergraph.rundir.staging import lock_new, sweep_abandoned
from eagergraph.scoring.check import ProfileCounts, check_block, drift_report, drifted, reference_profile
from eagergraph.scoring.overlap import WriteBehind, read_ahead

LINEAGE_KEY = b"eagergraph.lineage"  # the predictions file's schema metadata: the lineage as one JSON object
HISTOGRAM_BINS = 10
SAMPLE_PER_BLOCK = 1024  # regression values kept per block for the distribution (bounded memory)


def model_digest(model: Path) -> str:
    """The model's identity by content: BLAKE3 over every file of the SavedModel (its graph, its variables, its
    eagergraph.json), so a retrained model under the same name is a new model and a copied one the same."""
    digest = blake3.blake3()
    for path in sorted(p for p in Path(model).rglob("*") if p.is_file()):
        digest.update(f"{path.relative_to(model)}\0{file_digest(path)}\n".encode())
    return digest.hexdigest()


def cache_key(input_digest: str, model_id: str) -> str:
    """What a scored input is known by: its content and the model's."""
    return blake3.blake3(f"{input_digest}:{model_id}".encode()).hexdigest()


def already_scored(paths: ScoringPaths, name: str, key: str) -> dict | None:
    """The manifest of this input's predictions when they were made from the same content by the same model."""
    manifest = paths.manifest(name)
    if not (manifest.is_file() and paths.predictions(name).is_file()):
        return None
    try:
        found = read_json(manifest)
    except ValueError:
        return None  # a manifest cut short: score again
    return found if found.get("cache_key") == key else None


@contextlib.contextmanager
def output_locked(folder: Path) -> Iterator[None]:
    """Hold the output folder's lock (created here, when the first predictions are about to be written): runs that
    overlap (a schedule whose runs outlast its interval) score one input at a time there, and each looks again,
    under the lock, whether another has just scored it. The kernel releases the lock if the process dies."""
    Path(folder).mkdir(parents=True, exist_ok=True)
    with locked(folder):
        yield


def lineage(planned: dict, source: Path, input_digest: str, scoring_flow_run_id: str | None) -> dict:
    """Where a predictions file came from: the model (name, run directory, its training flow run, its digest), the
    input (path, BLAKE3), the scoring flow run and the time."""
    return {"model_name": planned["model_name"], "model_run": planned["model_run"],
            "model_flow_run_id": planned["model_flow_run_id"], "model_digest": planned["model_id"],
            "input": str(Path(source).resolve()), f"input_{DIGEST}": input_digest,
            "scoring_flow_run_id": scoring_flow_run_id,
            "scored_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "eagergraph_version": metadata.version("eagergraph")}


def read_lineage(path: Path) -> dict:
    """The lineage stored in a predictions file's metadata."""
    return json.loads((pq.read_schema(path).metadata or {})[LINEAGE_KEY])


class Distribution:
    """The scores' distribution, counted block by block: binary, the positive class's probability in ten bins and
    the predicted classes; multiclass, the predicted classes; regression, the values in ten bins (of a bounded
    sample)."""

    def __init__(self, task: str) -> None:
        self.task = task
        self.probability = np.zeros(HISTOGRAM_BINS, dtype=np.int64)
        self.classes: Counter[str] = Counter()
        self.sample: list[np.ndarray] = []

    def add(self, block: pa.Table, names: dict[str, str]) -> None:
        """Count one predicted block; `names`: the model's output columns as `output_names` named them beside the
        input's own columns (`model_predicted` when the input has a `predicted` column of its own)."""
        predicted = block.column(names[PREDICTED_CLASS])
        if self.task == "regression":
            values = predicted.drop_null().to_numpy()
            self.sample.append(values[::max(1, len(values) // SAMPLE_PER_BLOCK)])
            return
        counted = pc.value_counts(predicted.drop_null()).to_pylist()  # in Arrow: no Python object per row
        self.classes.update({str(item["values"]): item["counts"] for item in counted})
        if self.task == "binary":
            p = block.column(names[PREDICTED]).drop_null().to_numpy()
            self.probability += np.histogram(p, bins=HISTOGRAM_BINS, range=(0.0, 1.0))[0]

    def summary(self) -> dict:
        if self.task == "regression":
            values = np.concatenate(self.sample) if self.sample else np.empty(0)
            counts, edges = np.histogram(values, bins=HISTOGRAM_BINS) if len(values) else (np.zeros(0), np.zeros(0))
            return {"task": self.task, "value_edges": edges.tolist(), "value_counts": counts.astype(int).tolist()}
        shown = {"task": self.task, "classes": dict(sorted(self.classes.items()))}
        if self.task == "binary":
            edges = np.linspace(0, 1, HISTOGRAM_BINS + 1)
            return {**shown, "probability_edges": edges.round(2).tolist(), "probability_counts": self.probability.tolist()}
        return shown


def _encodings(schema: pa.Schema) -> dict:
    """Float columns neither compress nor dictionary-encode (as `ParquetSink` writes them: three times faster, the
    same size); other columns (text, ids, classes) keep a dictionary, statistics and snappy."""
    other = [field.name for field in schema if not pa.types.is_floating(field.type)]
    return {"compression": {name: "snappy" if name in other else "none" for name in schema.names},
            "use_dictionary": other, "write_statistics": other}


def score_file(model: Path, info: dict, source: Path, output: Path, facts: dict, counts: ProfileCounts) -> dict:
    """One pass over an input: each block checked (`check_block`: its values against their features' kinds, its
    profile counted into `counts` for the drift report), predicted as `predict --input` predicts it, and written to
    `output` (Parquet, all or nothing) with `facts` (the lineage) in its schema metadata. Blocks are read ahead and
    written behind on threads of their own (`overlap`). Returns the rows, the rows not predicted, the unseen
    categories and the scores' distribution."""
    predictor = FilePredictor(model, info, Path(source), drop_invalid=False)
    distribution = Distribution(predictor.task)
    stored = {LINEAGE_KEY: json.dumps(facts, sort_keys=True).encode()}

    def checked() -> Iterator[tuple[pa.Table, dict[str, np.ndarray]]]:
        for block in in_blocks(input_batches(Path(source), predictor.inputs.features)):
            yield block, check_block(block, predictor.inputs, Path(source), counts)

    def write(writer: pq.ParquetWriter, block: pa.Table, names: dict[str, str]) -> None:
        writer.write_table(block, row_group_size=ROW_GROUP_ROWS)  # the file's metadata is the writer's schema's
        distribution.add(block, names)

    with atomic_path(output) as partial, contextlib.ExitStack() as open_writer:
        writer: pq.ParquetWriter | None = None
        with WriteBehind() as behind:  # ends first: every block is written before the writer closes
            for rows, columns in read_ahead(checked()):
                block = predictor.predict(rows, columns)
                if writer is None:  # the first block: the file's schema and the output's column names, once
                    schema = block.schema.with_metadata({**(block.schema.metadata or {}), **stored})
                    writer = open_writer.enter_context(pq.ParquetWriter(partial, schema, **_encodings(schema)))
                    names = output_names(rows.column_names, predictor.classes, predictor.task)
                behind(write, writer, block, names)
    return {"rows": predictor.rows, "invalid_rows": predictor.invalid_rows,
            "invalid_values": predictor.in_model_order(predictor.invalid),
            "unseen": predictor.in_model_order(predictor.unseen), "distribution": distribution.summary()}


def write_scored_manifest(paths: ScoringPaths, name: str, facts: dict, key: str, scored: dict, check: dict) -> Path:
    """The manifest beside the predictions: the lineage, the cache key, what was scored and the drift report."""
    return write_json(paths.manifest(name), {**facts, "cache_key": key, "predictions": paths.predictions(name).name,
                                             **scored, "drift": check})


class StagedPredictions:
    """A scoring run's staging folder beside the output folder (`ScoringPaths.staging`): predictions wait there until
    every input has passed its checks, and whatever is left in it (everything, when a check failed) is removed at the
    end, so bad input writes nothing to the output folder. Like a training run's temporary directory
    (`rundir.staging`), the folder is locked by its run for its whole life and records the run's flow run: a folder
    whose lock is free was left by a killed run (SIGKILL), and the next run removes it, keeping the flow runs it
    names in `crashed_flow_runs` (to be marked Crashed)."""

    def __init__(self, paths: ScoringPaths, flow_run_id: str | None = None) -> None:
        self.paths, self.flow_run_id = paths, flow_run_id
        parent, prefix = paths.staging()
        self.token = uuid.uuid4().hex
        self.folder = parent / f"{prefix}{self.token}"
        self.crashed_flow_runs: list[str] = []
        self._lock: int | None = None

    def __enter__(self) -> "StagedPredictions":
        parent, prefix = self.paths.staging()
        try:
            parent.mkdir(parents=True, exist_ok=True)
            self.crashed_flow_runs = sweep_abandoned(parent, prefix, self.paths.staging_init())
            self._lock = lock_new(parent / f"{self.paths.staging_init()}{self.token}", self.folder, self.flow_run_id)
        except OSError as exc:
            raise DataError(f"{parent}: cannot create the scoring run's staging folder there "
                            f"({exc.strerror or exc})") from None
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            shutil.rmtree(self.folder, ignore_errors=True)
        finally:
            if self._lock is not None:
                os.close(self._lock)
                self._lock = None


def score_input(planned: dict, source: dict, staging: Path, threshold: float, fail_on_drift: bool,
                flow_run_id: str | None) -> dict:
    """Score one input in one pass (`score_file`) into the staging folder, and report its drift against the model's
    training profile; with `fail_on_drift`, drift is a DataError (the staged file goes with the staging folder)."""
    reference = reference_profile(planned)
    counts = ProfileCounts(reference, ModelInputs.of(planned["info"]))
    facts = lineage(planned, Path(source["path"]), source["digest"], flow_run_id)
    staged = ScoringPaths(Path(staging)).predictions(source["name"])
    scored = score_file(Path(planned["model"]), planned["info"], Path(source["path"]), staged, facts, counts)
    report = drift_report(reference, counts, threshold, Path(planned["model_run"]).name)
    line = f"{source['name']}: {report['line']}"
    if fail_on_drift and drifted(report):
        raise DataError(f"{line}; stopped before any predictions were published (--fail-on-drift)")
    return {**scored, "name": source["name"], "key": source["key"], "staged": str(staged), "lineage": facts,
            "check": {**report, "name": source["name"]}, "log": line}


def publish(paths: ScoringPaths, item: dict) -> dict:
    """Move one input's staged predictions into the output folder and write their manifest, under the folder's lock;
    an input an overlapping run published meanwhile (the same content, the same model) is left as it is."""
    predictions = paths.predictions(item["name"])
    scored = {key: value for key, value in item.items() if key not in ("key", "staged", "lineage", "check", "log")}
    with output_locked(paths.root):
        if already_scored(paths, item["name"], item["key"]) is not None:
            return {**scored, "predictions": str(predictions), "rows": 0, "skipped": True}
        os.replace(item["staged"], predictions)
        write_scored_manifest(paths, item["name"], item["lineage"], item["key"], scored, item["check"])
    return {**scored, "predictions": str(predictions), "skipped": False}
