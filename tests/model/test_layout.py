"""The design card's layout holds: flows/ holds flows and nothing else, tasks/ holds stages and nothing else."""

from __future__ import annotations

import importlib
import importlib.util
import tomllib
from pathlib import Path

import pytest
from prefect import Flow, Task

ROOT = Path(__file__).resolve().parents[2]


def _modules(folder: str) -> list[str]:
    return sorted(p.stem for p in (ROOT / folder).glob("*.py") if p.stem != "__init__")


@pytest.mark.parametrize(("folder", "kind"), [("flows", Flow), ("tasks", Task)])
def test_every_module_defines_what_its_folder_holds(folder: str, kind: type) -> None:
    for name in _modules(folder):
        module = importlib.import_module(f"eagergraph.{folder}.{name}")
        defined = [v for v in vars(module).values() if isinstance(v, kind) and getattr(v, "fn", None) is not None
                   and v.fn.__module__ == module.__name__]
        assert defined, f"{folder}/{name}.py defines no {kind.__name__}: shared code belongs in the eagergraph package"


def test_flows_and_tasks_are_installed_inside_the_product_package() -> None:
    """They import as eagergraph.flows / eagergraph.tasks; no top-level `flows` or `tasks` is installed to collide
    with a user's own."""
    assert importlib.util.find_spec("eagergraph.flows.pipeline").origin == str(ROOT / "flows" / "pipeline.py")
    assert importlib.util.find_spec("eagergraph.tasks.train").origin == str(ROOT / "tasks" / "train.py")
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    assert all(name == "eagergraph" or name.startswith("eagergraph.") for name in packages)  # nothing else installed
