"""docs/reference.md's tables against the code they describe, so they cannot go stale: the options table against
PipelineConfig (name, config key, default, description, in order). The `--json` keys and the files of a run
directory are checked against a real run in tests/flows/test_flow.py."""

from __future__ import annotations

import re
from pathlib import Path

from eagergraph.config import PipelineConfig

REFERENCE = Path(__file__).resolve().parents[2] / "docs" / "reference.md"


def table_after(heading: str, text: str) -> list[list[str]]:
    """The cells of the first table under a `## heading` (header and rule rows dropped; `\\|` kept as `|`)."""
    section = text.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")][2:]
    return [[cell.strip().replace("\\|", "|") for cell in re.split(r"(?<!\\)\|", row)[1:-1]] for row in rows]


def shown_default(value: object) -> str:
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return "on" if value else "off"
    return f"`{value}`"


def test_the_options_table_is_the_config() -> None:
    rows = table_after("Options", REFERENCE.read_text(encoding="utf-8"))
    fields = PipelineConfig.model_fields
    assert [row[1].strip("`") for row in rows] == list(fields), "the table's config keys, in the config's order"
    wrong = []
    for option, key, default, description in rows:
        key = key.strip("`")
        field = fields[key]
        flag = "--" + key.replace("_", "-")
        if not option.strip("`").startswith(flag):
            wrong.append(f"{key}: option {option}, the config's is {flag}")
        if default != shown_default(field.default):
            wrong.append(f"{key}: default {default}, the config's is {shown_default(field.default)}")
        if " ".join(description.split()) != " ".join((field.description or "").split()):
            wrong.append(f"{key}: description {description!r}, the config's is {field.description!r}")
    assert not wrong, "docs/reference.md's options table differs from PipelineConfig:\n" + "\n".join(wrong)
