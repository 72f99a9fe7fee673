"""Schedules and deployments: the schedule behind `eagergraph serve`, and serving a flow as a deployment.

The flow object comes from the caller (the CLI), so this module imports no flow: flows import orchestration,
never the other way round.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

DEPLOYMENT_NAME = "eagergraph-scheduled"


def schedule(cron: str | None = None, interval: float | None = None, rrule: str | None = None) -> dict[str, Any]:
    """`flow.serve` keyword arguments for exactly one of a cron expression, an interval in seconds or an RRule.

    The cron and RRule checks are Prefect's own schedule models, so a string that passes here is one the server
    takes; they import Prefect, which the CLI allows for only once it has pointed Prefect at its server."""
    given = {"--cron EXPR": cron, "--interval SECONDS": interval, "--rrule RULE": rrule}
    if sum(value is not None for value in given.values()) != 1:
        raise ValueError(f"give exactly one of {', '.join(given)}")
    if interval is not None:
        if interval <= 0:
            raise ValueError(f"--interval must be a positive number of seconds, got {interval}")
        return {"interval": timedelta(seconds=interval)}
    from prefect.client.schemas.schedules import CronSchedule, RRuleSchedule

    option, text, model = ("--cron", cron, CronSchedule) if cron is not None else ("--rrule", rrule, RRuleSchedule)
    try:
        model(**{option.lstrip("-"): text})
    except ValueError:
        kind = "cron expression" if cron is not None else "RRule (e.g. 'FREQ=DAILY;BYHOUR=6')"
        raise ValueError(f"{option} {text!r} is not a valid {kind}") from None
    return {option.lstrip("-"): text}


def training_deployment(flow: Any, config: Any, when: dict[str, Any], name: str = DEPLOYMENT_NAME) -> Any:
    """The training flow as a deployment to serve with this schedule, the config as its parameters."""
    from eagergraph.orchestration.naming import run_tags

    # Scheduled runs execute in child processes; absolute paths keep them independent of a working directory.
    config = config.model_copy(update={"artifacts": config.artifacts.resolve(),
                                       "data": config.data.resolve() if config.data else None})
    return flow.to_deployment(name=name, parameters={"config": config.model_dump(mode="json")},
                              tags=run_tags(config.data), **when)


def serve_deployments(*deployments: Any) -> list[str]:
    """Serve these deployments from this process until Ctrl-C or SIGTERM; their full names. Prefect pauses them
    when serving stops (a schedule nothing serves would pile up late runs); serving them again resumes them. The one
    serving call of `eagergraph serve` (training, and scoring with `--scoring`) and `eagergraph score --cron`."""
    from prefect import serve

    serve(*deployments)
    return [deployment.full_name for deployment in deployments]
