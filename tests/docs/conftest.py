"""The executed docs: every example of README.md and docs/*.md runs here, page by page, in page order (Sybil).

Which blocks are examples and how their output is compared: tests/transcripts.py (its docstring is the
convention every page follows). This module runs them:

- The pages are collected through the links in tests/docs/pages/ (one per page: `make test` collects tests/ only);
  each example is one pytest item, named by its page and line, so `--dist loadfile` keeps a page on one worker and
  its items in page order. tests/unit/test_docs_harness.py checks that every page has its link.
- Each page runs in a fresh temporary folder holding copies of the shipped `data/` and `benchmarks/data/` tables
  (a page may write beside them); its artifacts land in that folder's `artifacts/`; PREFECT_API_URL names the test
  session's server (fixture `prefect_api`). The folder is removed after the page's last example.
- `eagergraph …` command lines (also `.venv/bin/eagergraph …`) without pipes or redirections run in this process,
  through the console script's own `main` with its streams captured, the working directory the page's folder:
  the same code path as the installed command, without a TensorFlow import per command (measured 2026-12-07 on
  the 2-core machine, load 4.6: `import tensorflow` takes 5.3-7.1 s in a fresh process, a cost each subprocess
  `run`, `predict` or `score` would pay; in process it is paid once per worker). Every other command line runs in
  `bash` in the page's folder, with the project's `.venv/bin` first on PATH (`eagergraph` in a pipe included).
- The docs tier took 142 s of wall on `-n 3 --dist loadfile` (2026-12-07, load 2-4), of which about 30 s per worker
  is the session server's start, which `make test` pays anyway; its examples' own work is about 220 s, spread
  over the three workers.
"""

from __future__ import annotations

import doctest
import io
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

from sybil import Document, Example, Region, Sybil

from docs.cli_in_process import in_folder, run_eagergraph
from transcripts import Block, Command, blocks, expected_status, match, names_a_test, runs_until_stopped

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SHELL_OPERATORS = ("|", ">", "<", "&", ";", "$(", "`")
PAGE_DIR = "_page_dir"


class ExampleFailed(AssertionError):
    pass


def _page_dir(example: Example) -> Path:
    return example.namespace[PAGE_DIR]


def _in_process(command: str) -> bool:
    words = command.split()
    return bool(words) and words[0] in ("eagergraph", ".venv/bin/eagergraph") and not any(
        op in command for op in SHELL_OPERATORS)


def run_shell(command: str, folder: Path) -> tuple[int, str]:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run(["bash", "-c", command], cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=600)
    return done.returncode, done.stdout


def run_command(command: Command, folder: Path) -> tuple[int, str]:
    if runs_until_stopped(command.text):
        raise ExampleFailed(f"$ {command.text}: runs until stopped; mark its block <!-- covered-by: tests/…::test_… -->")
    if _in_process(command.text):
        return run_eagergraph(shlex.split(command.text, comments=True)[1:], folder)
    return run_shell(command.text, folder)


def _where(example: Example, command: Command) -> str:
    return f"{Path(example.path).name}, line {command.line}: $ {command.text}"


def evaluate_transcript(example: Example) -> None:
    block: Block = example.parsed
    folder = _page_dir(example)
    for command in block.commands:
        code, printed = run_command(command, folder)
        want = expected_status(command.shown)
        if code != want:
            raise ExampleFailed(f"{_where(example, command)}\nexit status {code}, the page implies {want}; it printed:\n{printed}")
        differs = match(command.shown, printed, home=str(folder), tolerance=block.tolerance)
        if differs:  # the whole output as printed too: what a page's transcript is regenerated from
            raise ExampleFailed(f"{_where(example, command)}\n{differs}\n--- printed:\n{printed}")


def evaluate_commands(example: Example) -> None:
    block: Block = example.parsed
    folder = _page_dir(example)
    for command in block.commands:
        code, printed = run_command(command, folder)
        if code != 0:
            raise ExampleFailed(f"{_where(example, command)}\nexit status {code}; it printed:\n{printed}")


def evaluate_python(example: Example) -> None:
    """A snippet runs in the page's namespace; written as a doctest (`>>>` lines), what it shows is compared too."""
    block: Block = example.parsed
    with in_folder(_page_dir(example)):
        if not block.body.lstrip().startswith(">>>"):
            exec(compile(block.body, f"{example.path}:{block.line + 1}", "exec"), example.namespace)
            return
        test = doctest.DocTestParser().get_doctest(block.body, example.namespace, Path(example.path).name,
                                                   str(example.path), block.line)
        report = io.StringIO()
        runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
        runner.run(test, out=report.write, clear_globs=False)
        if runner.failures:
            raise ExampleFailed(report.getvalue())


def evaluate_file(example: Example) -> None:
    block: Block = example.parsed
    target = _page_dir(example) / block.directives["file"]
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(block.body + ("" if block.body.endswith("\n") else "\n"), encoding="utf-8")


def evaluate_covered(example: Example) -> None:
    """Not run here: the named tests run it (they must exist; a name that does not is a failure, not a skip)."""
    block: Block = example.parsed
    missing = [name for name in block.covered_by if not names_a_test(name, ROOT)]
    if not block.covered_by or missing:
        raise ExampleFailed(f"{Path(example.path).name}, line {block.line}: covered-by names no existing test: {missing}")


EVALUATORS = {"transcript": evaluate_transcript, "commands": evaluate_commands, "python": evaluate_python,
              "file": evaluate_file, "covered": evaluate_covered}


# Sybil's items get the fixtures named here and no autouse ones: the session's server check is named first, so it is
# set up before the server and torn down after it, as for every other test.
SESSION_FIXTURES = ["no_background_server_left", "prefect_api"]


def parse_page(document: Document) -> Iterable[Region]:
    for block in blocks(document.text):
        if block.kind in EVALUATORS:
            yield Region(block.start, block.end, block, EVALUATORS[block.kind])


def set_up_page(namespace: dict) -> None:
    folder = Path(tempfile.mkdtemp(prefix="eagergraph-docs-")).resolve()
    shutil.copytree(ROOT / "data", folder / "data")
    shutil.copytree(ROOT / "benchmarks" / "data", folder / "benchmarks" / "data")
    namespace[PAGE_DIR] = folder


def tear_down_page(namespace: dict) -> None:
    shutil.rmtree(namespace.pop(PAGE_DIR), ignore_errors=True)



pytest_collect_file = Sybil(parsers=[parse_page], patterns=["*.md"], path="pages", fixtures=SESSION_FIXTURES,
                            setup=set_up_page, teardown=tear_down_page).pytest()
