"""A disk that fills up while engineer-features writes: the real command prints one line naming the file and the
free space, exits 2, completes no run and leaves no partial file anywhere; the next run completes. The full disk is
simulated at the Parquet writer (OSError ENOSPC) by a `sitecustomize` module given to the command's interpreter."""

from __future__ import annotations

from pathlib import Path

from conftest import run_cli
from eagergraph.rundir.paths import completed_runs
from eagergraph.rundir.staging import TMP_PREFIX

FULL_DISK = '''
import errno
import pyarrow.parquet as pq

_real = pq.ParquetWriter.write_batch


def _write_batch(self, *args, **kwargs):
    where = str(self.where)
    if "/features/" in where:  # engineer-features' files: the disk is full
        raise OSError(errno.ENOSPC, "No space left on device")
    return _real(self, *args, **kwargs)


pq.ParquetWriter.write_batch = _write_batch
'''


def test_a_full_disk_mid_stage_is_one_line_status_2_and_no_partial_file(prefect_api: str, tmp_path: Path) -> None:
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(FULL_DISK)
    artifacts = tmp_path / "artifacts"
    argv = ("run", "--rows", "400", "--epochs", "1", "--artifacts", str(artifacts))
    done = run_cli(*argv, cwd=tmp_path, env={"PYTHONPATH": str(hooks)})
    lines = done.stderr.splitlines()
    assert done.returncode == 2, (done.returncode, done.stderr[-3000:])
    assert len(lines) == 1 and "Traceback" not in done.stdout + done.stderr, done.stderr
    assert "features/train.parquet: could not be written (No space left on device; " in lines[0], lines[0]
    assert " MiB free on its file system)" in lines[0], lines[0]
    assert completed_runs(artifacts) == [] and not list(artifacts.glob(f"{TMP_PREFIX}*"))
    assert [p for p in artifacts.rglob("*") if p.name.endswith(".partial") or "features" in p.parts] == []
    again = run_cli(*argv, cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    assert len(completed_runs(artifacts)) == 1 and not list(artifacts.rglob("*.partial"))
