"""What a scoring run works on, checked before Prefect or TensorFlow starts: the model (a model name's production
model, or a run or model directory), the input files, the output folder, the input's columns against the model's.
Every problem is a DataError (or RegistryError) of one line."""

from __future__ import annotations

from pathlib import Path

from eagergraph.data.preflight import check_source, data_columns
from eagergraph.errors import DataError, RegistryError
from eagergraph.rundir.paths import ScoringPaths, resolve_model, scored_name

PARQUET_SUFFIXES = (".parquet", ".pq")


def production_model(artifacts: Path, model_name: str | None) -> Path:
    """The production run of a model name (or the folder's only production model); a RegistryError listing the
    model names that have one when it has none."""
    from eagergraph.registry.registry import production_run, productions

    artifacts = Path(artifacts)
    if not artifacts.is_dir():
        raise RegistryError(f"--artifacts {artifacts}: no such artifacts folder")
    names = sorted(productions(artifacts))
    run = production_run(artifacts, model_name)  # without a name: a RegistryError when several models have one
    if run is None:
        which = f"model {model_name!r} has" if model_name else "the folder has"
        raise RegistryError(f"{artifacts}: {which} no production model (models with one: {', '.join(names) or 'none'})")
    return run


def resolve_scoring_model(artifacts: Path, model_name: str | None, model: Path | None) -> tuple[Path, Path]:
    """(the model's run directory, its SavedModel): `--model` (a run or SavedModel directory) when given, else the
    production model. A SavedModel outside a run directory is its own "run"."""
    if model is not None:
        saved = resolve_model(Path(model))
        run = saved.parent.parent if saved.parent.name == "models" else saved
        return run.resolve(), saved.resolve()
    run = production_model(artifacts, model_name)
    return run, resolve_model(run).resolve()


def input_files(source: Path) -> list[Path]:
    """The files a scoring run reads: the file itself, or every Parquet file under a folder (sorted)."""
    source = Path(source)
    check_source(source)
    if not source.is_dir():
        return [source]
    files = sorted(p for p in source.rglob("*") if p.is_file() and p.suffix.lower() in PARQUET_SUFFIXES
                   and not p.name.startswith("."))
    if not files:
        raise DataError(f"{source}: the folder holds no Parquet files")
    return files


def scored_names(source: Path, files: list[Path]) -> list[str]:
    """Each input's name in the output folder (`scored_name`)."""
    folder = Path(source) if Path(source).is_dir() else None
    return [scored_name(file, folder) for file in files]


def check_output(output: Path, source: Path, named: str | None = None) -> ScoringPaths:
    """The output folder: a folder or nothing yet (created when the first predictions are written), never a file,
    and not the input folder itself (a polled folder would score its own predictions). `named`: how messages name
    it (`ScoringConfig.output_named`; default `--output OUTPUT`)."""
    output = Path(output)
    named = named or f"--output {output}"
    if output.exists() and not output.is_dir():
        raise DataError(f"{named}: is a file; give a folder for the predictions")
    if Path(source).is_dir() and output.resolve().is_relative_to(Path(source).resolve()):
        raise DataError(f"{named}: lies inside the input folder {source}; give a folder outside it")
    return ScoringPaths(output)


def check_columns(files: list[Path], features: list[str]) -> None:
    """Every input holds the model's feature columns (headers only); a DataError naming the missing ones. Other
    columns are carried through to the predictions."""
    for file in files:
        columns = data_columns(file)
        missing = [name for name in features if name not in columns]
        if missing:
            raise DataError(f"{file}: missing the model's feature column(s): {', '.join(missing)}")
