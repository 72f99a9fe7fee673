"""The scoring flow's one typed config: its parameters, `eagergraph score`'s options and its deployment form."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from eagergraph.config import PipelineConfig, read_toml, resolve_file_paths, validated
from eagergraph.errors import ConfigError

_TRAINING = PipelineConfig.model_fields  # the defaults scoring shares with training are written once, there


class ScoringConfig(BaseModel):
    """What one scoring run depends on. Unknown keys are refused, so a typo never passes silently."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input: Path = Field(description="CSV or Parquet file, or a folder of Parquet files, with the model's raw feature columns.")
    output: Path | None = Field(None, description="Folder that receives one predictions file per scored input (default: scored/ beside the input).")
    artifacts: Path = Field(_TRAINING["artifacts"].default, description="Artifacts folder holding the production models.")
    model_name: str | None = Field(None, description="Score with this model name's production model (default: the folder's only production model).")
    model: Path | None = Field(None, description="Score with this run directory or SavedModel instead of a production model.")
    drift_threshold: float = Field(_TRAINING["drift_threshold"].default, gt=0, description="A feature whose population stability index against the model's training profile exceeds this has drifted.")
    fail_on_drift: bool = Field(False, description="Stop before scoring when a feature drifted (default: warn).")

    @field_validator("model_name")
    @classmethod
    def _folder_name(cls, value: str | None) -> str | None:
        return PipelineConfig._folder_name(value)  # the training config's rule for a model name

    @property
    def output_folder(self) -> Path:
        """Where predictions go: --output, else `scored/` beside the input (a folder's sibling for a folder: the
        input resolved first, so `--input .` scores into `../scored`, not into the folder it reads)."""
        return self.output if self.output is not None else Path(self.input).resolve().parent / "scored"

    @property
    def output_named(self) -> str:
        """How a message names the output folder: the option as given, or the default folder in full."""
        return f"--output {self.output}" if self.output is not None else f"the default output folder {self.output_folder}"


def build_scoring_config(**values: object) -> ScoringConfig:
    """The validated scoring config from options (None means 'not given'); a ConfigError in one line."""
    return validated(ScoringConfig, **values)


SCHEDULE_KEYS = ("cron", "interval", "rrule")  # a scoring file's own schedule, as `serve`'s options name them
SCORING_PATHS = ("input", "output", "artifacts", "model")  # relative to the file's folder, as in a --config file
SCORING_TABLE = "scoring"  # the file's table for scoring, when it holds one (a --config file's [eagergraph] beside it)


def read_scoring_file(file: Path) -> tuple[ScoringConfig, dict[str, Any]]:
    """`eagergraph serve --scoring FILE`: the scoring run's options (`eagergraph score`'s, by their config names) and
    its own schedule (`cron`, `interval` or `rrule`), from a TOML file or its `[scoring]` table; relative paths are
    relative to the file. A ConfigError of one line naming the file."""
    values = read_toml(file, SCORING_TABLE, "scoring")
    when = {key: values.pop(key) for key in SCHEDULE_KEYS if key in values}
    for key, value in when.items():
        wanted = (int, float) if key == "interval" else str
        if not isinstance(value, wanted) or isinstance(value, bool):
            raise ConfigError(f"--scoring {file}: {key} = {value!r}: give "
                              + ("a number of seconds" if key == "interval" else "a string"))
    return validated(ScoringConfig, resolve_file_paths(values, Path(file).parent, SCORING_PATHS), Path(file)), when
