"""What a flow run is called and tagged with in Prefect, so the UI's run list tells runs of different data apart."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

SYNTHETIC = "synthetic"


def data_name(data: str | Path | None) -> str:
    """A short name for the data: the file's stem or the folder's name; `synthetic` without data."""
    if not data:
        return SYNTHETIC
    path = Path(data)
    name = path.name if path.is_dir() or not path.suffix else path.stem
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "data"


def run_name(data: str | Path | None, when: datetime | None = None) -> str:
    """`<data>-<UTC time to the minute>`, e.g. `customers-20261125T1230`."""
    when = when or datetime.now(timezone.utc)
    return f"{data_name(data)}-{when:%Y%m%dT%H%M}"


def run_tags(data: str | Path | None) -> list[str]:
    """The tags of every flow run: the product and the data source (`data:customers.csv`, `data:synthetic`)."""
    return ["eagergraph", f"data:{Path(data).name if data else SYNTHETIC}"]


def _config_data(parameters: dict[str, Any]) -> Any:
    config = parameters.get("config")
    return config.get("data") if isinstance(config, dict) else getattr(config, "data", None)


def flow_run_name() -> str:
    """Prefect's `flow_run_name` callable: the run's name from its `config` parameter (deployments too)."""
    from prefect.context import FlowRunContext

    context = FlowRunContext.get()
    return run_name(_config_data(context.parameters if context and context.parameters else {}))


def scoring_run_name() -> str:
    """The scoring flow's `flow_run_name`: `score-<input>-<UTC time to the minute>`."""
    from prefect.context import FlowRunContext

    context = FlowRunContext.get()
    config = context.parameters.get("config") if context and context.parameters else None
    source = config.get("input") if isinstance(config, dict) else getattr(config, "input", None)
    return f"score-{run_name(source)}"
