"""Addresses people follow: the Prefect UI of a server, and a flow run's page in it."""

from __future__ import annotations


def ui_url(api: str) -> str:
    """The UI's address for an API URL (Prefect serves both from one port)."""
    return api.rstrip("/").removesuffix("/api")


def flow_run_link(api: str, flow_run_id: str) -> str:
    """A flow run's page in the UI of the server at `api`."""
    return f"{ui_url(api)}/runs/flow-run/{flow_run_id}"
