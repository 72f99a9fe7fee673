"""A scoring run's plan and record: which model, which inputs, which of them are already scored; and the line
each scoring run leaves in the artifacts folder (`scoring.jsonl`, beside the training runs' registry)."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from eagergraph.core.prediction import model_info
from eagergraph.io import append_json_line, file_digest, read_json, read_json_lines
from eagergraph.registry.registry import run_model_name
from eagergraph.rundir.paths import RunPaths, scoring_log
from eagergraph.scoring.inputs import check_columns, check_output, input_files, resolve_scoring_model, scored_names
from eagergraph.scoring.score import already_scored, cache_key, model_digest


def plan(artifacts: Path, model_name: str | None, model: Path | None, source: Path, output: Path) -> dict:
    """Everything checkable before a row is predicted, as a JSON-able dict: the model (its run, SavedModel, name,
    digest, training profile), the output folder, and per input its output name, its BLAKE3, its cache key and
    whether the same content was already scored by the same model (`skip`)."""
    run, saved = resolve_scoring_model(Path(artifacts), model_name, Path(model) if model else None)
    info = model_info(saved)
    files = input_files(Path(source))
    paths = check_output(Path(output), Path(source))
    check_columns(files, list(info["features"]))
    model_id = model_digest(saved)
    inputs = []
    for file, name in zip(files, scored_names(Path(source), files)):
        digest = file_digest(file)
        key = cache_key(digest, model_id)
        inputs.append({"path": str(file.resolve()), "name": name, "digest": digest, "key": key,
                       "skip": already_scored(paths, name, key) is not None})
    profile, manifest = RunPaths.of(run).data_profile, RunPaths.of(run).manifest
    return {"model_run": str(run), "model": str(saved), "model_name": model_name or _name_of(run, saved),
            "model_flow_run_id": read_json(manifest).get("flow_run_id") if manifest.is_file() else None,
            "model_id": model_id, "info": info, "profile": str(profile) if profile.is_file() else None,
            "output": str(Path(output).resolve()), "inputs": inputs}


def _name_of(run: Path, saved: Path) -> str:
    return run_model_name(run) if run != saved else saved.name


def record(artifacts: Path, entry: dict) -> dict:
    """Append one scoring run to `artifacts/scoring.jsonl` (one write(2) on an O_APPEND descriptor: runs that end
    at once never interleave their lines); returns the entry with its time."""
    entry = {"time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"), **entry}
    log = scoring_log(Path(artifacts))
    if not log.parent.is_dir():
        return entry  # scoring with --model outside an artifacts folder: the output manifests are the record
    append_json_line(log, entry)
    return entry


def read_scoring_log(artifacts: Path) -> list[dict]:
    """Every recorded scoring run, oldest first (a line cut short by a crash is skipped)."""
    return read_json_lines(scoring_log(Path(artifacts)))

