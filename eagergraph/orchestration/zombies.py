"""Zombie flow runs (their process died, the run still says Running) marked Crashed by a Prefect automation.

Runs started from a deployment (`eagergraph serve`, a worker with prefect.yaml) emit a heartbeat event every
PREFECT_FLOWS_HEARTBEAT_FREQUENCY seconds; the automation here (Prefect's "Detect zombie flows" recipe) fires
when a running flow run's heartbeats stop for ZOMBIE_FACTOR periods and sets it Crashed.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

HEARTBEAT_ENV = "PREFECT_FLOWS_HEARTBEAT_FREQUENCY"
HEARTBEAT_SECONDS = 60  # what `eagergraph serve` and prefect.yaml use; Prefect's minimum is 30
ZOMBIE_FACTOR = 3  # missed heartbeats before a run is a zombie: one late heartbeat must not crash a live run
AUTOMATION_NAME = "eagergraph: crash zombie flow runs"
FINAL_EVENTS = ("prefect.flow-run.Completed", "prefect.flow-run.Failed", "prefect.flow-run.Cancelled",
                "prefect.flow-run.Crashed")


def heartbeat_seconds() -> int:
    """The heartbeat period in force: the environment's, else eagergraph's default (never below Prefect's 30)."""
    return max(30, int(os.environ.get(HEARTBEAT_ENV) or HEARTBEAT_SECONDS))


def zombie_after(heartbeat: int) -> timedelta:
    """How long without a heartbeat makes a running flow run a zombie."""
    return timedelta(seconds=ZOMBIE_FACTOR * heartbeat)


def zombie_automation(heartbeat: int) -> Any:
    """The automation: after a heartbeat, expect another one (or a final state) within `zombie_after`."""
    from prefect.automations import Automation
    from prefect.client.schemas.objects import StateType
    from prefect.events.actions import ChangeFlowRunState
    from prefect.events.schemas.automations import EventTrigger, Posture
    from prefect.events.schemas.events import ResourceSpecification

    within = zombie_after(heartbeat)
    return Automation(
        name=AUTOMATION_NAME,
        description=f"A flow run with no heartbeat for {within.total_seconds():.0f}s ({ZOMBIE_FACTOR} periods of "
                    f"{heartbeat}s) lost its process: mark it Crashed.",
        trigger=EventTrigger(after={"prefect.flow-run.heartbeat"}, expect={"prefect.flow-run.heartbeat", *FINAL_EVENTS},
                             match=ResourceSpecification({"prefect.resource.id": ["prefect.flow-run.*"]}),
                             for_each={"prefect.resource.id"}, posture=Posture.Proactive, threshold=1, within=within),
        actions=[ChangeFlowRunState(state=StateType.CRASHED, name="Crashed",
                                    message=f"Crashed: no heartbeat for {within.total_seconds():.0f}s (detected by "
                                            f"the automation {AUTOMATION_NAME!r}); its process is gone")])


def ensure_zombie_automation(heartbeat: int | None = None) -> tuple[str, bool]:
    """Create the automation unless one with the same name and window exists (then it is replaced if the window
    differs); (its id, whether it was created). Idempotent: `eagergraph serve` calls it on every start."""
    from prefect import get_client

    heartbeat = heartbeat or heartbeat_seconds()
    wanted = zombie_automation(heartbeat)
    with get_client(sync_client=True) as client:
        existing = client.read_automations_by_name(AUTOMATION_NAME)
        for automation in existing:
            if automation.trigger.within == wanted.trigger.within:
                return str(automation.id), False
        for automation in existing:
            client.delete_automation(automation.id)
    return str(wanted.create().id), True
