"""The task runner a flow runs on: threads in this process (the default) or Prefect's Dask task runner."""

from __future__ import annotations

from typing import Any

from prefect.task_runners import ThreadPoolTaskRunner

from eagergraph.config import PipelineConfig


def task_runner(config: PipelineConfig) -> Any:
    """Threads for one machine; with `runner = "dask"`, an existing cluster at `dask_address`, or else a local
    cluster of `dask_workers` worker processes with one thread each, so TensorFlow never shares a process."""
    if config.runner == "threads":
        return ThreadPoolTaskRunner()
    from prefect_dask import DaskTaskRunner

    if config.dask_address:
        return DaskTaskRunner(address=config.dask_address)
    return DaskTaskRunner(cluster_kwargs={"n_workers": config.dask_workers, "threads_per_worker": 1,
                                          "processes": True, "dashboard_address": None})

