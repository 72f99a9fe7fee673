"""`eagergraph bench` as a user runs it: every contender, consistent ratios, eager bounded when asked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import run_cli
from eagergraph.bench.steps import CONTENDERS
from eagergraph.core.variants import VARIANTS


def test_bench_json_and_chart(tmp_path: Path) -> None:
    chart = tmp_path / "steps.png"
    done = run_cli("bench", "--rows", "64,160", "--epochs", "2", "--repeats", "1", "--eager-max-steps", "6",
                   "--chart", str(chart), "--json", timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stderr == ""  # TensorFlow's start-up notices (cuInit) stay off stderr, as in `run`
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(report["sizes"]) == {"64", "160"}
    assert "160 training rows" in done.stdout and "pays for its one-time cost" in done.stdout
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for rows, sizes in report["sizes"].items():
        for name in CONTENDERS:
            t = sizes[name]
            for key in ("steady_seconds", "trace_seconds", "total_seconds", "median_step_ms", "vs_eager", "vs_keras_fit"):
                assert t[key] >= 0, (rows, name, key)
        # Same data, model, seed and batch order: every variant of ours ends at the same loss.
        losses = [sizes[name]["final_loss"] for name in VARIANTS]
        assert max(losses) - min(losses) < 1e-4
    small, large = report["sizes"]["64"], report["sizes"]["160"]
    assert not small["eager"]["extrapolated"] and small["eager"]["final_loss"] == pytest.approx(small["fused"]["final_loss"], abs=1e-4)
    assert large["eager"]["extrapolated"] and large["eager"]["final_loss"] is None  # 5 steps × 2 epochs > 6
    assert "steps_per_execution=" in large["keras_fit"]["detail"] and "jit_compile=" in large["keras_fit"]["detail"]
    assert large["auto_chooses"] == "step" and large["steps"] == 10  # far below every break-even: tracing dominates
    assert large["break_even_steps"]["xla"] > 0  # eager is so slow a step that every variant pays back
    assert "extrapolated" in done.stdout


def test_bench_refuses_bad_sizes() -> None:
    done = run_cli("bench", "--rows", "abc")
    assert done.returncode == 2 and "--rows" in done.stderr and "Traceback" not in done.stderr
