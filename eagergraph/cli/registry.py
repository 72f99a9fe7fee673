"""`eagergraph promote`, `rollback`, `runs` and `gc`: the production pointer, its history and retention.

Registered on the same typer app as `run`; `app.py` imports this module once.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from eagergraph.cli.common import app, checked
from eagergraph.cli.terminal import PREFIX, fail

EXIT_NOT_PROMOTED = 3  # `run --require-promotion` when the gate refused the model (2 stays "bad input")
ArtifactsOption = Annotated[Path, typer.Option("--artifacts", help="Folder of run directories.")]


def _model_name(name: Optional[str]) -> Optional[str]:
    """--model-name as given, checked as the config checks it (one line, exit 2)."""
    if name is not None:
        from eagergraph.config import build_config

        checked(lambda: build_config(model_name=name))
    return name


ModelNameOption = Annotated[Optional[str], typer.Option("--model-name", help="The model (default: the folder's only one).")]


def exit_if_refused(require_promotion: bool, result: dict[str, Any]) -> None:
    """`run --require-promotion`: a refused model is one line on stderr and exit status 3 (after the output)."""
    if require_promotion and not result.get("promoted", True):
        typer.echo(f"{PREFIX}model not promoted (--require-promotion): {result['reason']}", err=True)
        raise typer.Exit(EXIT_NOT_PROMOTED)


def _run_path(run_dir: Path, artifacts: Optional[Path]) -> tuple[Path, Path]:
    """RUN_DIR as a path, or a run id inside --artifacts; the artifacts folder defaults to the run's parent."""
    if not run_dir.exists() and artifacts is not None and (artifacts / run_dir).exists():
        run_dir = artifacts / run_dir
    folder = artifacts if artifacts is not None else run_dir.resolve().parent if run_dir.exists() else run_dir.parent
    return run_dir, folder


def _folder(artifacts: Path) -> Path:
    if not artifacts.is_dir():
        fail(f"--artifacts {artifacts}: no such folder")
    return artifacts


@app.command()
def promote(
    run_dir: Annotated[Path, typer.Argument(help="A complete run directory (or its run id inside --artifacts).")],
    artifacts: Annotated[Optional[Path], typer.Option("--artifacts", help="Folder of run directories (default: RUN_DIR's).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="End stdout with the registry entry as one JSON line.")] = False,
) -> None:
    """Make a run the production model by hand, whatever the gate said (recorded as manual)."""
    from eagergraph.registry.registry import promote as promote_run

    run_dir, folder = _run_path(run_dir, artifacts)
    _moved(checked(lambda: promote_run(folder, run_dir)), folder, as_json,
           lambda entry: f"was {entry['previous'] or 'none'}; recorded as manual")


@app.command()
def rollback(
    artifacts: ArtifactsOption = Path("artifacts"),
    model_name: ModelNameOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="End stdout with the registry entry as one JSON line.")] = False,
) -> None:
    """Return a model's production to the run it was before the current one (recorded); --model-name is needed
    when the folder holds several models."""
    from eagergraph.registry.registry import rollback as rollback_run

    _moved(checked(lambda: rollback_run(artifacts, _model_name(model_name))), artifacts, as_json,
           lambda entry: f"rolled back from {entry['previous']}")


def _moved(entry: dict, folder: Path, as_json: bool, how: Callable[[dict], str]) -> None:
    """What promote and rollback print: the model's production run now and how it got there, then the registry
    entry as one JSON line with --json."""
    typer.echo(f"production of {entry['model_name']}: {folder / entry['production']} ({how(entry)})")
    if as_json:
        sys.stdout.write(json.dumps(entry) + "\n")


@app.command()
def runs(
    artifacts: ArtifactsOption = Path("artifacts"),
    model_name: Annotated[Optional[str], typer.Option("--model-name", help="Only this model's runs (default: all).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the rows as one JSON list instead of a table.")] = False,
    wide: Annotated[bool, typer.Option("--wide", help="Every column: start time, data, each metric of the task, "
                                       "graph variant, flow run (default: about 120 columns).")] = False,
) -> None:
    """The runs of the artifacts folder, newest first, with their model, gate metric, speedup and verdict."""
    from eagergraph.registry.history import run_rows

    rows = run_rows(_folder(artifacts), _model_name(model_name))
    if as_json:
        sys.stdout.write(json.dumps(rows) + "\n")
        return
    from rich.console import Console

    from eagergraph.reporting.promotion import runs_table

    # Piped, the table keeps its natural width: a fixed width would cut the long cells (data path, flow-run id).
    Console(width=None if sys.stdout.isatty() else 10_000).print(runs_table(rows, wide))


@app.command()
def gc(
    keep: Annotated[int, typer.Option("--keep", min=1, help="Newest runs to keep (every model's production and its predecessor always stay).")],
    artifacts: ArtifactsOption = Path("artifacts"),
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print what would be removed; remove nothing.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="End stdout with one JSON line: removed runs, objects, bytes.")] = False,
) -> None:
    """Remove old run directories and the cache objects no remaining run uses."""
    from eagergraph.registry.retention import collect, describe

    done = collect(_folder(artifacts), keep, dry_run)
    verb = "would remove" if dry_run else "removed"
    for run in done.runs:
        typer.echo(f"{verb} run {run.name}")
    for name, why in sorted(done.kept.items()):
        typer.echo(f"kept {name} ({why})")
    typer.echo(f"{verb} {describe(done, dry_run)}")
    if as_json:
        sys.stdout.write(json.dumps({"removed_runs": [r.name for r in done.runs], "removed_objects": len(done.objects),
                                     "freed_bytes": done.freed_bytes, "kept": done.kept, "dry_run": dry_run}) + "\n")

