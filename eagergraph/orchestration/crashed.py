"""Flow runs of killed processes, marked Crashed through the Prefect API (a SIGKILLed run cannot say so itself).

A run records its flow-run id in its temporary directory (`eagergraph.rundir.paths.FLOW_RUN_FILE`); the next run that finds
the directory abandoned (its lock free: the process is dead) removes it and calls `mark_crashed` here.
"""

from __future__ import annotations

import logging

DETECTED_BY = ("its process died without finishing (found by a later eagergraph run: the run's temporary directory "
               "was abandoned, its lock free)")
UNFINISHED = ("RUNNING", "PENDING", "SCHEDULED")


def crash_message(detected_by: str = DETECTED_BY) -> str:
    return f"Crashed: {detected_by}"


def mark_crashed(flow_run_ids: list[str], detected_by: str = DETECTED_BY,
                 logger: logging.Logger | logging.LoggerAdapter | None = None) -> list[str]:
    """Set each unfinished flow run, and its unfinished task runs, to Crashed; the ids marked.

    Runs unknown to this server (made against another one) and runs already finished are left alone; an API
    problem is logged, never raised: it must not fail the run that found the leftovers.
    """
    if not flow_run_ids:
        return []
    from prefect import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterId,
        TaskRunFilter,
        TaskRunFilterState,
        TaskRunFilterStateType,
    )
    from prefect.exceptions import ObjectNotFound
    from prefect.states import Crashed

    log = logger or logging.getLogger(__name__)
    marked = []
    with get_client(sync_client=True) as client:
        for run_id in flow_run_ids:
            try:
                flow_run = client.read_flow_run(run_id)
                if flow_run.state is not None and flow_run.state.type.value not in UNFINISHED:
                    continue
                tasks = client.read_task_runs(
                    flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run.id])),
                    task_run_filter=TaskRunFilter(state=TaskRunFilterState(type=TaskRunFilterStateType(any_=list(UNFINISHED)))))
                for task_run in tasks:
                    client.set_task_run_state(task_run.id, Crashed(message=crash_message(detected_by)), force=True)
                client.set_flow_run_state(flow_run.id, Crashed(message=crash_message(detected_by)), force=True)
                marked.append(run_id)
                log.warning(f"flow run {flow_run.name!r} ({run_id}) was left Running by a killed process: marked Crashed")
            except ObjectNotFound:
                continue
            except Exception as exc:  # noqa: BLE001  (a leftover must never fail the current run)
                log.warning(f"could not mark flow run {run_id} Crashed: {type(exc).__name__}: {exc}")
    return marked
