"""A scoring run's staging folder is locked by its run for the run's whole life: the next run removes the one a
SIGKILLed run left (and names that run's flow run, to be marked Crashed), and leaves a live run's alone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from eagergraph.rundir.paths import ScoringPaths
from eagergraph.scoring.score import StagedPredictions

HOLD = """
import sys
from pathlib import Path
from eagergraph.rundir.paths import ScoringPaths
from eagergraph.scoring.score import StagedPredictions

with StagedPredictions(ScoringPaths(Path(sys.argv[1])), sys.argv[2]) as staging:
    (staging.folder / "monday.predictions.parquet.partial").write_bytes(b"PAR1 half a file")
    print(staging.folder, flush=True)
    sys.stdin.read()  # holds the staging folder until its stdin closes (or it is killed)
"""


def _holding(output: Path, flow_run_id: str) -> tuple[subprocess.Popen, Path]:
    """A process in the middle of a scoring run: its staging folder created, a file half written in it."""
    process = subprocess.Popen([sys.executable, "-c", HOLD, str(output), flow_run_id], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)
    return process, Path(process.stdout.readline().strip())


def test_the_next_run_removes_a_killed_runs_staging_folder_and_keeps_a_live_ones(tmp_path: Path) -> None:
    output = tmp_path / "scored"
    killed, left = _holding(output, "killed-flow-run")
    live, running = _holding(output, "live-flow-run")
    try:
        os.kill(killed.pid, signal.SIGKILL)
        killed.wait()
        assert left.is_dir() and running.is_dir() and left != running  # SIGKILL runs no cleanup
        with StagedPredictions(ScoringPaths(output), "next-flow-run") as staging:
            assert staging.crashed_flow_runs == ["killed-flow-run"]
            assert not left.exists() and running.is_dir() and staging.folder.is_dir()
            mine = staging.folder
        assert not mine.exists() and running.is_dir()  # its own folder goes at the end; the live run's stays
        assert not output.exists()  # staging sits beside the output folder, never in it
    finally:
        live.stdin.close()
        live.wait()
    assert not running.exists()  # the live run removed its own on the way out


def test_a_staging_folder_that_cannot_be_put_in_place_keeps_no_descriptor_open(tmp_path: Path) -> None:
    """`lock_new` fails at its rename (the final folder's parent is missing): the error reaches the caller and the
    lock's descriptor is closed with the attempt, so a long-running `serve` does not leak one per failure."""
    from eagergraph.rundir.staging import lock_new

    before = set(os.listdir("/proc/self/fd"))
    with pytest.raises(FileNotFoundError):
        lock_new(tmp_path / ".init-x", tmp_path / "absent" / "final", "flow-run")
    assert set(os.listdir("/proc/self/fd")) <= before
