"""The scoring flow as a deployment on a schedule (`eagergraph score --cron/--interval`, `eagergraph serve --scoring`).
The schedule is `deployments.schedule`'s, the same as training's; the flow object comes from the caller."""

from __future__ import annotations

from pathlib import Path
from typing import Any

SCORING_DEPLOYMENT = "eagergraph-scoring-scheduled"


def absolute(config: Any) -> Any:
    """The scoring config with absolute paths: scheduled runs execute in child processes, from any folder."""
    update = {name: Path(getattr(config, name)).resolve() for name in ("input", "artifacts", "model")
              if getattr(config, name) is not None}
    return config.model_copy(update={**update, "output": config.output_folder.resolve()})


def scoring_deployment(flow: Any, config: Any, when: dict[str, Any], name: str = SCORING_DEPLOYMENT) -> Any:
    """The scoring flow as a deployment to serve with this schedule and the config as its parameters (served by
    `eagergraph score --cron/--interval`, or beside training by `eagergraph serve --scoring FILE`). Each run scores
    the input folder's files that this model has not scored yet."""
    config = absolute(config)
    return flow.to_deployment(name=name, parameters={"config": config.model_dump(mode="json")},
                              tags=["eagergraph", "scoring", f"data:{Path(config.input).name}"], **when)
