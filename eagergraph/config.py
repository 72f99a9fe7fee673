"""The one typed configuration: the flow's parameters, the CLI's options and the TOML file's schema."""

from __future__ import annotations

import difflib
import tomllib
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from eagergraph.errors import ConfigError
from eagergraph.metrics import BY_NAME, parse_tolerance
from eagergraph.modes import GraphVariant
from eagergraph.rundir.model_names import MODEL_NAME, default_model_name, model_name_choice

Modes = Literal["eager", "graph", "both"]
TaskRunner = Literal["threads", "dask"]
Impute = Literal["none", "mean", "median"]
TaskChoice = Literal["auto", "binary", "multiclass", "regression"]


class PipelineConfig(BaseModel):
    """Everything one training run depends on. Unknown keys are refused, so a typo never passes silently."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    data: Path | None = Field(None, description="CSV or Parquet file, or a folder of Parquet files (default: synthetic data).")
    label: str = Field("label", min_length=1, description="Name of the label column (classes or a numeric target: see --task).")
    features: list[str] | None = Field(None, description="Feature columns, comma-separated (default: every column that can be one, numeric or categorical, but the label, the excluded ones and row ids).")
    exclude: list[str] | None = Field(None, description="Columns left out of the default features, comma-separated; they are carried into the predictions (default: none).")
    # issue 16: column kinds, vocabularies and missing values
    categorical: list[str] | None = Field(None, description="Integer or text columns to use as categories, comma-separated (default: text and boolean columns with at most --max-categories values).")
    max_categories: int = Field(50, ge=2, description="Text or boolean columns with at most this many distinct values are categorical; the vocabulary keeps at most this many values.")
    impute: Impute = Field("none", description="Missing numeric values: none (refuse them), mean or median of the train split, with a missing-indicator input per column.")
    positive_class: str | None = Field(None, description="Label value that is the positive class (default: the larger value in sorted order).")
    # issue 17: every tabular task
    task: TaskChoice = Field("auto", description="auto (two label values: binary; text, boolean or integer labels with up to --max-classes values: multiclass; other numbers: regression), binary, multiclass or regression.")
    max_classes: int = Field(50, ge=3, description="A text, boolean or integer label with at most this many values is multiclass under --task auto (more: regression for integers, refused for text).")
    rows: int = Field(1000, ge=10, description="Rows of synthetic data (ignored with --data).")
    n_features: int = Field(10, ge=1, description="Features of synthetic data (ignored with --data).")
    epochs: int = Field(10, gt=0, description="Most training epochs, the same for both modes; early stopping may end training sooner (see --patience).")
    patience: int = Field(3, gt=0, description="Stop after this many epochs without a better validation loss (the training loss when the run has no validation split) and keep the best epoch's weights.")
    batch_size: int = Field(32, gt=0, description="Mini-batch size, the same for both modes.")
    hidden: int = Field(16, gt=0, description="Units of the hidden ReLU layer.")
    learning_rate: float = Field(0.01, gt=0, description="Adam learning rate.")
    seed: int = Field(42, ge=0, description="Seeds the data, the split, the initial weights and the batch order.")
    test_fraction: float = Field(0.2, gt=0, lt=1, description="Share of rows held out for the final evaluation and the gate; a row's split is a function of its id or content, so it stays put as the table grows.")
    validation_fraction: float = Field(0.1, gt=0, lt=1, description="Share of rows held out for early stopping and for choosing among sweep candidates (drawn like the test split).")
    id_column: str | None = Field(None, min_length=1, description="Column that identifies a row (unique): it keys the row's split and is left out of the features (default: a column that looks like a row id, else the row's content).")
    drop_invalid: bool = Field(False, description="Drop rows with missing, NaN or infinite values instead of refusing the data.")
    graph_variant: GraphVariant = Field("auto", description="How graph mode runs: auto (fastest in total time for the run), step, fused or xla.")
    artifacts: Path = Field(Path("artifacts"), description="Folder that receives one directory per run.")
    refresh: bool = Field(False, description="Recompute ingest, normalize and engineer-features even when cached.")
    ingest_retries: int = Field(2, ge=0, description="Retries of ingest after a transient read error (OSError).")
    ingest_retry_delay: float = Field(1.0, ge=0, description="Seconds between ingest retries.")
    modes: Modes = Field("both", description="Which modes to train: eager, graph or both (speedup and parity need both).")
    eager_max_steps: int | None = Field(None, gt=0, description="Bound eager training to this many steps in all (large data); its time is extrapolated (default: unbounded).")
    in_memory_rows: int = Field(1_000_000, ge=0, description="Train splits up to this many rows are held as tensors; larger ones stream from Parquet.")
    runner: TaskRunner = Field("threads", description="Prefect task runner: threads (one machine) or dask (worker processes).")
    dask_address: str | None = Field(None, description="Scheduler of an existing Dask cluster, tcp://HOST:PORT (default: a local cluster).")
    dask_workers: int = Field(2, gt=0, description="Worker processes of the local Dask cluster (one thread each).")
    # The registry's per-model settings (issue 17): production, verdicts and rollback are per model name.
    model_name: str | None = Field(None, description="Model the run belongs to: its production, gate and rollback are its own (default: the data file's or folder's name without dates and sequence numbers, or synthetic).")
    # The promotion gate (issues 23, 24): every gate setting, in this one block; GateRules.of reads them.
    gate_metric: str | None = Field(None, description="Metric the promotion gate compares with production's: any metric of the task (default: auc binary, macro_auc multiclass, rmse regression).")
    gate_tolerance: str = Field("0.01", description="Refuse only a model worse than production by more than this on the gate metric (and beyond the bootstrap noise): absolute in the metric's units (0.01) or relative to production's value (2%).")
    beat_baseline: bool = Field(True, description="Refuse a model that does not beat its baseline: AUC 0.5 + 0.02 (binary), the majority class's share (multiclass accuracy), R² 0 (regression).")
    accept_schema_change: bool = Field(False, description="Let a model whose features, kinds, classes or task differ from production's be promoted (judged on its baseline and floors).")
    min_auc: float | None = Field(None, ge=0, le=1, description="Promote only with at least this test AUC (default: no floor).")
    min_accuracy: float | None = Field(None, ge=0, le=1, description="Promote only with at least this test accuracy (default: no floor).")
    min_r2: float | None = Field(None, le=1, description="Promote a regression model only with at least this test R² (default: no floor).")
    drift_threshold: float = Field(0.25, gt=0, description="A feature whose population stability index exceeds this has drifted.")
    fail_on_drift: bool = Field(False, description="Stop before training when a feature drifted or the schema changed (default: warn).")
    require_promotion: bool = Field(False, description="`eagergraph run` exits with status 3 when the gate refuses the model.")
    keep_runs: int | None = Field(None, ge=1, description="After each run, remove all but the newest N runs; production and its predecessor stay (default: keep all).")

    @property
    def trained_modes(self) -> tuple[str, ...]:
        return ("eager", "graph") if self.modes == "both" else (self.modes,)

    @property
    def run_model_name(self) -> str:
        """The model name the run belongs to: the one given, else the data's default."""
        return self.model_name or default_model_name(self.data)

    @property
    def model_name_reason(self) -> str:
        """Why the run belongs to its model name (shown on the terminal beside the name)."""
        return "chosen with --model-name" if self.model_name else model_name_choice(self.data)[1]

    @model_validator(mode="after")
    def _room_to_train(self) -> "PipelineConfig":
        if self.test_fraction + self.validation_fraction >= 1:
            raise ValueError(f"--test-fraction {self.test_fraction} plus --validation-fraction "
                             f"{self.validation_fraction} leaves no rows to train on; their sum must be below 1")
        return self

    @field_validator("gate_metric")
    @classmethod
    def _catalogue_metric(cls, value: str | None) -> str | None:
        if value is not None and value not in BY_NAME:
            raise ValueError(f"not a metric (choose one of {', '.join(BY_NAME)})")
        return value

    @field_validator("gate_tolerance", mode="before")
    @classmethod
    def _tolerance(cls, value: Any) -> str:
        return str(parse_tolerance(value))  # ValueError: one line naming the accepted forms

    @field_validator("model_name")
    @classmethod
    def _folder_name(cls, value: str | None) -> str | None:
        if value is not None and not MODEL_NAME.match(value):
            raise ValueError("a model name must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or "
                             "digit (it names a folder)")
        return value

    @field_validator("features")
    @classmethod
    def _features_unique(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and len(set(value)) != len(value):
            raise ValueError("feature names must be unique")
        return value


# Fields only `eagergraph run` (and `serve`) applies: a sweep trains graph mode alone and keeps every run (its gate,
# data check and record-verdict are a run's). `sweep` offers none of them as options and refuses them in a file.
RUN_ONLY_FIELDS = ("modes", "eager_max_steps", "require_promotion", "keep_runs")
SWEEP_FIELDS = tuple(name for name in PipelineConfig.model_fields if name not in RUN_ONLY_FIELDS)


def refuse_run_only(config: PipelineConfig, file: Path | None) -> PipelineConfig:
    """The config for a sweep: a ConfigError naming the run-only settings the file changed (a sweep would ignore
    them), so nothing is silently left unapplied."""
    given = [name for name in RUN_ONLY_FIELDS if name in config.model_fields_set]
    if given:
        raise ConfigError(f"{file}: `eagergraph sweep` does not apply {', '.join(given)} (options of `eagergraph run`); "
                          "remove them from the file or use a config file of its own for the sweep")
    return config


class SweepGrid(BaseModel):
    """The hyperparameter grid of `eagergraph sweep`: every combination is one candidate; unset lists take the
    run config's single value."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    learning_rates: list[float] | None = Field(None, min_length=1, description="Adam learning rates to try.")
    hidden: list[int] | None = Field(None, min_length=1, description="Hidden-layer sizes to try.")
    batch_sizes: list[int] | None = Field(None, min_length=1, description="Batch sizes to try.")
    variants: list[GraphVariant] | None = Field(None, min_length=1, description="Graph variants to try.")

    @field_validator("learning_rates", "hidden", "batch_sizes")
    @classmethod
    def _positive(cls, value: list | None) -> list | None:
        if value is not None and min(value) <= 0:
            raise ValueError("values must be greater than 0")
        return value


def option_name(field: str) -> str:
    """The command-line spelling of a config field: `batch_size` → `--batch-size`."""
    return "--" + field.replace("_", "-")


def _describe(error: dict, file: Path | None, from_cli: set[str]) -> str:
    """One pydantic error as the user meets it: the option as they typed it (flag or file key) and the value."""
    if not error["loc"]:  # a rule over several fields: its message names them
        reason = error["msg"].removeprefix("Value error, ")
        return f"{file}: {reason}" if file is not None else reason
    field = str(error["loc"][0])
    if error["type"] == "extra_forbidden":
        close = difflib.get_close_matches(field, PipelineConfig.model_fields, n=1)
        hint = f"did you mean {close[0]!r}?" if close else "see `eagergraph run --help` for the known options"
        return f"{file}: unknown option {field!r} ({hint})"
    reason = error["msg"].removeprefix("Value error, ")
    reason = reason[:1].lower() + reason[1:]
    if field in from_cli or file is None:
        return f"invalid value for {option_name(field)}: {error['input']!r} ({reason})"
    return f"{file}: invalid value for {field}: {error['input']!r} ({reason})"


def _one_line(error: ValidationError, file: Path | None, from_cli: set[str]) -> str:
    more = f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else ""
    return _describe(error.errors()[0], file, from_cli) + more


Config = TypeVar("Config", bound=BaseModel)  # one of the typed configs `validated` builds
FILE_PATHS = ("data", "artifacts")  # path options of a config file, relative to the file's folder


def resolve_file_paths(values: dict[str, Any], folder: Path, keys: tuple[str, ...] = FILE_PATHS) -> dict[str, Any]:
    """A file's relative paths (its `keys`), made absolute against the file's folder (not the working directory)."""
    resolved = dict(values)
    for key in keys:
        if isinstance(resolved.get(key), str) and not Path(resolved[key]).expanduser().is_absolute():
            resolved[key] = str((folder / resolved[key]).resolve())
    return resolved


def build_config(file: Path | None = None, **overrides: Any) -> PipelineConfig:
    """Merge a TOML file (if any) with explicit overrides (None means 'not given') into a validated config."""
    values: dict[str, Any] = {}
    if file is not None:
        values = read_toml(file, "eagergraph", "config")
        values = resolve_file_paths(values, Path(file).parent)
    return validated(PipelineConfig, values, file, **overrides)


def read_toml(file: Path, table: str, kind: str) -> dict[str, Any]:
    """A TOML file's values: its `[table]` if it has one, else the whole file; a ConfigError of one line naming the
    file (`kind`: what the file is to the user, "config" or "scoring")."""
    try:
        values = tomllib.loads(Path(file).read_text())
    except FileNotFoundError:
        raise ConfigError(f"{kind} file not found: {file}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file}: cannot read the {kind} file: {getattr(exc, 'strerror', None) or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{kind} file {file} is not valid TOML: {exc}") from None
    chosen = values.get(table, values)
    if not isinstance(chosen, dict):
        raise ConfigError(f"{kind} file {file}: {table} must be a table ([{table}]), not {chosen!r}")
    return dict(chosen)


def validated(kind: type[Config], values: dict[str, Any] | None = None, file: Path | None = None, /,
              **options: Any) -> Config:
    """A typed config (`PipelineConfig`, `SweepGrid`, `ScoringConfig`) from a file's values (if any) and the given
    options (None means 'not given'), validated; a ConfigError in one line, naming the option or the file's key."""
    given = {key: value for key, value in options.items() if value is not None}
    try:
        return kind.model_validate({**(values or {}), **given})
    except ValidationError as exc:
        raise ConfigError(_one_line(exc, file, set(given))) from None


def build_sweep_grid(**values: Any) -> SweepGrid:
    """The sweep grid from CLI lists (None means 'not given'); raises ConfigError with a one-line message."""
    return validated(SweepGrid, **values)
