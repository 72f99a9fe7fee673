"""The model-name policy: a run's model name when none is given, one name per table, not per export."""

from __future__ import annotations

import re
from pathlib import Path

MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")  # a folder name on every file system (config checks it)
DEFAULT_MODEL_NAME = "synthetic"  # the model name of runs on generated data


# Parts of a file or folder name that tell exports of one table apart, not tables: dates (2026-12-06, 20261206,
# 2026_12, with a time: 2026-12-06T0630), bare numbers (sequence numbers, years: _001, -7, 2026) and partition
# words with their number (part-00001, chunk3, shard_2). Bounded by a separator or the name's ends.
_DATE = r"(?:19|20)\d{2}[-_.]?(?:0[1-9]|1[0-2])(?:[-_.]?(?:0[1-9]|[12]\d|3[01]))?(?:[tT_-]?\d{2}[-_.:]?\d{2}(?:[-_.:]?\d{2})?)?"
_EXPORT_PART = re.compile(rf"(?<![A-Za-z0-9])(?:{_DATE}|\d+|(?:part|chunk|shard)[-_]?\d*)(?![A-Za-z0-9])", re.IGNORECASE)


def _table_name(name: str) -> str:
    """A file or folder name without what tells one export of a table from the next (dates, sequence numbers,
    partition words; a `key=value` partition folder has none), separators tidied; '' when nothing else is left."""
    if "=" in name:
        return ""
    kept = _EXPORT_PART.sub("", name)
    kept = re.sub(r"([-_. ])[-_. ]+", r"\1", kept)
    return re.sub(r"[^A-Za-z0-9._-]", "-", kept).strip("._- ")[:64].strip("._-")


def model_name_choice(data: str | Path | None) -> tuple[str, str]:
    """A run's model name when none is given, and why: one name per table, not per export. The data file's stem
    (a folder's name) without dates, sequence numbers and partition words (`arrests_2026-12-06.csv` and
    `arrests_2026-12-07.csv` are both `arrests`); when nothing is left (`2026-12-06.csv`, `date=2026-12-06/`), the
    nearest folder above that names something; `synthetic` without data. Different tables that reduce to one name
    are told apart by the gate's schema check, which refuses the second and suggests --model-name."""
    if not data:
        return DEFAULT_MODEL_NAME, "synthetic data"
    path = Path(data)
    own = path.name if path.is_dir() or not path.suffix else path.stem
    for level, part in enumerate([own, *(p.name for p in list(path.absolute().parents)[:3])]):
        name = _table_name(part)
        if name:
            if level:
                return name, f"the folder above {path.name}, whose name holds no table name"
            if name == re.sub(r"[^A-Za-z0-9._-]", "-", part).strip("._-")[:64]:
                return name, f"the data {'folder' if path.is_dir() else 'file'}'s name"
            return name, f"the data {'folder' if path.is_dir() else 'file'}'s name without its dates and numbers ({part})"
    return DEFAULT_MODEL_NAME, f"no table name in {path}"


def default_model_name(data: str | Path | None) -> str:
    """A run's model name when none is given (see `model_name_choice`)."""
    return model_name_choice(data)[0]
