"""Schedules and deployments: the schedule behind `eagergraph serve`, and serving a flow as a deployment.

The flow object comes from the caller (the CLI), so this module imports no flow: flows import orchestration,
never the other way round.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

DEPLOYMENT_NAME = "eagergraph-scheduled"


def schedule(cron: str | None, interval: float | None) -> dict[str, Any]:
    """`flow.serve` keyword arguments for exactly one of a cron expression or an interval in seconds."""
    if (cron is None) == (interval is None):
        raise ValueError("give exactly one of --cron EXPR or --interval SECONDS")
    if interval is not None:
        if interval <= 0:
            raise ValueError(f"--interval must be a positive number of seconds, got {interval}")
        return {"interval": timedelta(seconds=interval)}
    from prefect.client.schemas.schedules import CronSchedule

    try:
        CronSchedule(cron=cron)
    except ValueError:
        raise ValueError(f"--cron {cron!r} is not a valid cron expression") from None
    return {"cron": cron}


def serve_pipeline(flow: Any, config: Any, when: dict[str, Any], name: str = DEPLOYMENT_NAME) -> None:
    """Serve `flow` (the training flow) as a deployment with this schedule, the config as its parameters, until
    stopped."""
    from eagergraph.orchestration.naming import run_tags

    # Scheduled runs execute in child processes; absolute paths keep them independent of a working directory.
    config = config.model_copy(update={"artifacts": config.artifacts.resolve(),
                                       "data": config.data.resolve() if config.data else None})
    flow.serve(name=name, parameters={"config": config.model_dump(mode="json")}, tags=run_tags(config.data), **when)
