"""normalize: the Prefect task over eagergraph.data.normalize."""

from __future__ import annotations

from prefect import get_run_logger, task

from eagergraph.data.normalize import SplitFiles, normalize_to
from eagergraph.orchestration.caching import publish, raw_input, stage_options
from eagergraph.rundir.paths import RunPaths


def split_files(paths: RunPaths) -> SplitFiles:
    """The files normalize (and the partitions' merge) writes, in the run directory's layout."""
    return SplitFiles(paths.normalizer, paths.normalized("train"), paths.normalized("test"), paths.test_raw, paths.data_profile)


def normalize_message(result: dict) -> str:
    """The stage's log line: the split, imputation values and vocabulary sizes, all fitted on the train split."""
    message = f"split {result['train_rows']} train / {result['test_rows']} test rows; statistics fitted on train only"
    if result["imputed"]:
        message += "; imputed " + ", ".join(f"{name} ({spec['missing']} missing in train → {spec['value']:.6g})"
                                            for name, spec in result["imputed"].items())
    if result["vocabulary_sizes"]:
        message += "; vocabularies " + ", ".join(f"{name}: {size}" for name, size in result["vocabulary_sizes"].items())
    return message


@task(name="normalize", **stage_options(raw_input))
def normalize(run_dir: str, test_fraction: float, seed: int) -> dict:
    """Split raw.parquet into train/test and encode both with statistics of the train split."""
    paths = RunPaths.of(run_dir)
    files = split_files(paths)
    result = normalize_to(paths.raw, files, test_fraction, seed)
    result.update({key: paths.rel(getattr(files, key)) for key in ("normalizer", "train", "test", "test_raw")})
    get_run_logger().info(normalize_message(result))
    return publish(run_dir, result, [files.normalizer, files.train, files.test, files.test_raw, files.profile])
