"""The README's quick start against the Makefile: `make run`, `make test` and `make test-fast` do what the page says.

`make -B -n` prints every command a target would run, its set-up included, without running any; the commands
themselves run in CI (`.ci/run` is `make test`) and on every developer's machine."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _commands(target: str) -> list[str]:
    # run from `make test` itself: the outer make's flags are not this one's, and no "Entering directory" lines
    env = {key: value for key, value in os.environ.items() if key not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    done = subprocess.run(["make", "--no-print-directory", "-B", "-n", target], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, env=env)
    assert done.returncode == 0, done.stderr
    return [line.strip() for line in done.stdout.splitlines()]


def _set_up(commands: list[str]) -> bool:
    return (any(line.endswith("-m venv .venv") for line in commands)
            and any(line.startswith(".venv/bin/python -m pip install") and "'.[test]'" in line for line in commands))


def test_the_quick_start_targets_do_what_the_readme_says() -> None:
    run = _commands("run")
    assert _set_up(run) and run[-1] == ".venv/bin/eagergraph run"  # creates .venv, installs, runs the pipeline once
    test = _commands("test")
    assert _set_up(test) and "./.ci/system-deps" in test  # the same set-up, the browser and PostgreSQL
    assert ".venv/bin/ruff check --no-cache ." in test and ".venv/bin/python .ci/lint-imports" in test  # the lint
    assert test[-1].startswith(".venv/bin/python -m pytest -n ")  # the whole suite (testpaths: tests)
    fast = _commands("test-fast")
    assert _set_up(fast) and fast[-1].split() == [".venv/bin/python", "-m", "pytest", "tests/unit"]
    assert (ROOT / ".ci" / "run").read_text().strip().endswith("make test")  # CI runs the README's test command
