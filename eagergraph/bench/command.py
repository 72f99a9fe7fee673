"""The `eagergraph` command the benchmarks time in processes of their own."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path


def eagergraph_command() -> list[str]:
    """The `eagergraph` console script of this interpreter's environment (else the one on PATH): a benchmark run as
    `.venv/bin/python benchmarks/x.py` times the same installation without an activated environment."""
    beside = Path(sys.executable).parent / "eagergraph"
    return [str(beside)] if beside.is_file() else [shutil.which("eagergraph") or "eagergraph"]
