"""normalize: the Prefect task over eagergraph.data.normalize."""

from __future__ import annotations

from prefect import get_run_logger, task

from eagergraph.data.normalize import SplitFiles, normalize_to
from eagergraph.orchestration.caching import publish, raw_input, stage_options
from eagergraph.rundir.paths import RunPaths


def split_files(paths: RunPaths) -> SplitFiles:
    """The files normalize (and the partitions' merge) writes, in the run directory's layout."""
    return SplitFiles(paths.normalizer, paths.normalized("train"), paths.normalized("validation"), paths.normalized("test"),
                      paths.test_raw, paths.data_profile)


def normalize_message(result: dict) -> str:
    """The stage's log line: the split and its key, imputation values and vocabulary sizes, fitted on train."""
    message = f"{split_line(result)}; statistics fitted on train only"
    if result["imputed"]:
        message += "; imputed " + ", ".join(f"{name} ({spec['missing']} missing in train → {spec['value']:.6g})"
                                            for name, spec in result["imputed"].items())
    if result["vocabulary_sizes"]:
        message += "; vocabularies " + ", ".join(f"{name}: {size}" for name, size in result["vocabulary_sizes"].items())
    return message


def split_line(result: dict) -> str:
    """The split as the log says it: rows per split, and what keyed each row's split."""
    key = result.get("split_key") or []
    keyed = f"id column{'s' if len(key) > 1 else ''} {', '.join(key)}" if result.get("split_by") == "id" else "row content"
    return (f"split {result['train_rows']} train / {result['validation_rows']} validation / {result['test_rows']} test "
            f"rows (by {keyed})")


@task(name="normalize", **stage_options(raw_input))
def normalize(run_dir: str, test_fraction: float, validation_fraction: float, seed: int) -> dict:
    """Split raw.parquet into train/validation/test and encode each with statistics of the train split."""
    paths = RunPaths.of(run_dir)
    files = split_files(paths)
    result = normalize_to(paths.raw, files, test_fraction, validation_fraction, seed)
    result.update({key: paths.rel(getattr(files, key)) for key in ("normalizer", "train", "validation", "test", "test_raw")})
    get_run_logger().info(normalize_message(result))
    return publish(run_dir, result, [files.normalizer, files.train, files.validation, files.test, files.test_raw,
                                     files.profile])
